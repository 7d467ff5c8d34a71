"""The alert outbox in-process on SQLite: escalations written with their batch, once; the
delivery rules (pure); a webhook receiver on a thread gets each delivery, signed and keyed
by its alert id (the killed-process tests on both stores are in tests/integration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slaclock.config import read_policy
from slaclock.consumers.alert_delivery import Deliverer, next_step
from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.notifier_config import NotifierConfig
from slaclock.consumers.notifiers import Attempt, open_notifiers, retry_after
from slaclock.consumers.sources import read_events
from slaclock.projections import alert_outbox
from slaclock.projections.alert_outbox import Delivery
from slaclock.projections.store import TicketStore
from tests.alert_receiver import receiving, signature_holds
from tests.helpers import contract_policy

CONFIG = """
priorities = [1, 2]
default_priority = 2
[calendars.always]
timezone = "UTC"
hours = { "mon-sun" = "00:00-24:00" }
[plans.p]
calendar = "always"
targets = { response = { "1" = "4h", "2" = "8h" } }
[[plans.p.escalations]]
level = 1
at = "50%"
notify = ["duty"]
[[plans.p.escalations]]
level = 2
at = "-1h"
notify = ["duty"]
[[plans.p.escalations]]
level = 3
at = "0"
notify = ["duty", "log"]
[[plans.p.escalations]]
level = 4
at = "+1h"
notify = ["log"]
[[contracts]]
customer = "acme"
plan = "p"
from = "2025-01-01"
monthly_fee = 100
[notifiers.duty]
kind = "webhook"
url = "URL"
secret_env = "SLACLOCK_TEST_DUTY_SECRET"
timeout = 1
ticket_url = "https://desk.example/browse/{ticket_id}"
[notifiers.log]
kind = "file"
path = "LOG"
"""


def _event(event_id: str, kind: str, ticket: str, when: str, **extra) -> dict:
    return {"event_id": event_id, "type": f"ticket.{kind}", "ticket_id": ticket,
            "occurred_at": when, **extra}  # fmt: skip


EVENTS = [
    _event("c1", "created", "T1", "2025-03-03T08:00:00Z", customer_id="acme", priority=1),
    _event("c2", "created", "T2", "2025-03-03T20:00:00Z", customer_id="acme", priority=2),
]
LATE_ACK = [_event("a1", "acknowledged", "T1", "2025-03-03T10:30:00Z")]


def _setup(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SLACLOCK_TEST_DUTY_SECRET", "s3cret")
    text = CONFIG.replace("URL", url).replace("LOG", str(tmp_path / "log.jsonl"))
    (tmp_path / "c.toml").write_text(text)
    loaded = read_policy(tmp_path / "c.toml")
    store = TicketStore(f"sqlite:///{tmp_path / 's.db'}", loaded.policy)
    return loaded, store


def _ingest(store: TicketStore, policy, tmp_path: Path, events: list[dict], name: str) -> None:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    Ingestor(store, policy, DeadLetterList(), clock="event").run(read_events(str(path)))


def test_escalations_reach_their_notifiers_once_signed_and_keyed(tmp_path, monkeypatch) -> None:
    with receiving() as receiver:
        loaded, store = _setup(tmp_path, receiver.url, monkeypatch)
        try:
            _ingest(store, loaded.policy, tmp_path, EVENTS, "a.jsonl")
            _ingest(store, loaded.policy, tmp_path, EVENTS, "again.jsonl")  # duplicates only
            rows = alert_outbox.listing(store)
            # T1: levels 1-4 due by 20:00 (levels 1, 2, 3 to duty; 3, 4 to the file).
            assert sorted((r.notifier, json.loads(r.payload)["level"]) for r in rows) == [
                ("duty", 1), ("duty", 2), ("duty", 3), ("log", 3), ("log", 4)
            ]  # fmt: skip
            _ingest(store, loaded.policy, tmp_path, LATE_ACK, "late.jsonl")
            withdrawn = [json.loads(r.payload) for r in alert_outbox.listing(store)]
            withdrawn = [p for p in withdrawn if p["kind"] == "withdrawn"]
            assert sorted(p["level"] for p in withdrawn) == [2, 3, 3, 4]  # stopped at 10:30
            deliverer = Deliverer(store, open_notifiers(loaded.notifiers))
            stats = deliverer.drain()
            deliverer.close()
            assert stats.delivered == 9 and stats.failed == stats.retried == 0
            got = receiver.delivered()
            assert len(got) == 5
            for one in got:
                assert one.headers["Idempotency-Key"] == one.payload["id"]
                assert signature_holds(one, b"s3cret")
                assert one.payload["ticket_url"] == "https://desk.example/browse/T1"
            lines = (tmp_path / "log.jsonl").read_text().splitlines()
            assert len(lines) == 4
            summary = alert_outbox.summary(store, 0)
            assert summary["pending"] == 0 and summary["delivered"] == 9
        finally:
            store.close()


def _delivery(attempts: int = 0, retry_from: float = 1000.0) -> Delivery:
    return Delivery("a/n", "a", "n", "T", "{}", 1000.0, retry_from, "pending", attempts, 1000.0,
                    None, None)  # fmt: skip


NOTIFIER = NotifierConfig("n", "webhook", url="http://x", backoff=2, max_backoff=60,
                          give_up_after=600)  # fmt: skip


def test_delivered_retried_with_backoff_or_failed() -> None:
    assert next_step(_delivery(), Attempt(True), NOTIFIER, 1001).status == "delivered"
    gone = next_step(_delivery(), Attempt(False, error="HTTP 404"), NOTIFIER, 1001)
    assert (gone.status, gone.last_error) == ("failed", "HTTP 404")
    for attempts, low, high in [(0, 1, 2), (1, 2, 4), (3, 8, 16), (9, 30, 60)]:
        for jitter in (0.0, 0.999):
            step = next_step(_delivery(attempts), Attempt(False, retry=True), NOTIFIER, 1001,
                             lambda j=jitter: j)  # fmt: skip
            assert step.status == "pending" and step.attempts == attempts + 1
            assert low <= step.next_attempt_at - 1001 <= high
    asked = next_step(_delivery(), Attempt(False, retry=True, retry_after=30), NOTIFIER, 1001)
    assert asked.next_attempt_at == 1031
    late = next_step(_delivery(5), Attempt(False, retry=True, error="HTTP 503"), NOTIFIER, 1590)
    assert late.status == "failed" and "gave up after 6 attempts" in (late.last_error or "")
    assert retry_after("7", 0) == 7 and retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0) > 0
    assert retry_after("soon", 0) is None


def test_a_lease_keeps_a_delivery_to_one_process_and_only_its_holder_settles(tmp_path) -> None:
    store = TicketStore(f"sqlite:///{tmp_path / 'lease.db'}", contract_policy())
    try:
        rows = [alert_outbox.delivery_row(f"a{n}", "duty", "T", "{}", 100.0) for n in range(3)]
        with store.write() as cursor:
            cursor.executemany(store.dialect.sql(alert_outbox.INSERT_DELIVERY), rows * 2)
        assert len(alert_outbox.listing(store)) == 3  # a row written twice is kept once
        first = alert_outbox.claim(store, "A", now=200.0, lease_seconds=10, limit=2)
        assert [d.id for d in first] == ["a0/duty", "a1/duty"]
        second = alert_outbox.claim(store, "B", now=205.0, lease_seconds=10)
        assert [d.id for d in second] == ["a2/duty"]  # A's two are leased until 210
        assert alert_outbox.claim(store, "B", now=209.0, lease_seconds=10) == []
        taken = alert_outbox.claim(store, "B", now=211.0, lease_seconds=10)  # A's ran out
        assert [d.id for d in taken] == ["a0/duty", "a1/duty"]
        late = [alert_outbox.Settled(d.id, "failed", 1, 212.0, "late") for d in first]
        alert_outbox.settle(store, "A", late)  # A lost the lease: changes nothing
        assert {d.status for d in alert_outbox.listing(store)} == {"pending"}
        done = [alert_outbox.Settled(d.id, "delivered", 1, 212.0, None, 212.0) for d in taken]
        alert_outbox.settle(store, "B", done)
        figures = alert_outbox.summary(store, 300.0)
        assert (figures["delivered"], figures["pending"]) == (2, 1)
        assert figures["oldest_pending_seconds"] == 200.0
    finally:
        store.close()
