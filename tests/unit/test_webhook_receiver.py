"""The receiver's parts without a server: secrets at start-up, the one intake writer (arrival
order, grouping by source, failures reaching every caller) and the counters."""

import threading
from types import SimpleNamespace

import pytest

from slaclock.api.hooks import HookConfigError, HookCounters, IntakeWriter, Taken, hook_sources


def source(kind: str, secret_env: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, secret_env=secret_env)


def test_secrets_are_read_at_start_up() -> None:
    found = hook_sources(
        {"jsm": source("jira", "JSM_SECRET"), "plain": source("zendesk")},
        {"JSM_SECRET": "hush-1234"},
    )
    assert found["jsm"].secret == "hush-1234" and found["plain"].secret is None
    assert "hush" not in repr(found["jsm"])  # a secret never shows in a repr or a log line


@pytest.mark.parametrize(
    ("config", "environ", "message"),
    [
        (source("jira", "JSM_SECRET"), {}, "sources.x.secret_env: environment variable"),
        (source("glpi", "G"), {"G": ""}, r"G is not set \(or empty\)"),
        (source("debezium", "D"), {"D": "x"}, "kind debezium has no webhook signature scheme"),
    ],
)
def test_unusable_secrets_are_configuration_errors(
    config: SimpleNamespace, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(HookConfigError, match=message):
        hook_sources({"x": config}, environ)


def test_the_writer_keeps_arrival_order_and_groups_by_source() -> None:
    calls: list[tuple[str, list[int]]] = []
    started, gate = threading.Event(), threading.Event()

    def take(name: str, payloads: list[int]) -> list[Taken]:
        started.set()
        gate.wait(5)  # hold the first call so that the next deliveries queue up
        calls.append((name, list(payloads)))
        return [Taken(None if p >= 0 else "bad", emitted=1) for p in payloads]

    writer = IntakeWriter(take)
    try:
        first = writer.submit("a", 0)
        assert started.wait(5)
        later = [writer.submit(name, n) for name, n in [("a", 1), ("a", 2), ("b", 3), ("a", -4)]]
        gate.set()
        assert first.result(5).reason is None
        assert [f.result(5).reason for f in later] == [None, None, None, "bad"]
    finally:
        writer.close()
    assert calls == [("a", [0]), ("a", [1, 2]), ("b", [3]), ("a", [-4])]


def test_a_failed_group_fails_every_caller() -> None:
    def take(name: str, payloads: list[int]) -> list[Taken]:
        raise OSError("disk full")

    writer = IntakeWriter(take)
    try:
        futures = [writer.submit("a", n) for n in range(3)]
        for future in futures:
            with pytest.raises(OSError, match="disk full"):
                future.result(5)
        assert writer.submit("a", 9).exception(5) is not None  # the writer still runs
    finally:
        writer.close()


def test_counters_per_source() -> None:
    counters = HookCounters(["a", "b"])
    counters.delivery("a", "received")
    counters.taken("a", Taken(None, emitted=3, accepted=2, duplicates=1))
    counters.taken("a", Taken("bad"))
    assert counters.deliveries("a", "accepted") == 1 and counters.deliveries("a", "rejected") == 1
    assert counters.events("a", "accepted") == 2 and counters.events("a", "duplicate") == 1
    assert counters.deliveries("a", "received") == 1 and counters.deliveries("b", "received") == 0
    samples = {
        (m.name, s.labels["source"], s.labels["outcome"]): s.value
        for m in counters.collect()
        for s in m.samples
    }
    assert samples["slaclock_webhook_events", "a", "emitted"] == 3
    assert samples["slaclock_webhook_deliveries", "b", "unauthorised"] == 0
