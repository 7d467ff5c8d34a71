"""``slaclock consume`` / ``publish`` against the real broker (services/kafka/kafka.sh start).

Every test uses its own topic and consumer group. The contract fixtures give the expected
outputs; for the long generated stream the expected outputs are those of a clean
``slaclock ingest`` of the same events (the file path and the Kafka path must agree).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slaclock.consumers.avro import SCHEMA_DIR, schema_by_id, to_record
from slaclock.consumers.kafka_wire import encode_avro, encode_record
from slaclock.consumers.partitions import partition_of
from tests.kafka_helpers import (
    CONFIG,
    EVENTS,
    FIXTURES,
    KAFKA_BOOTSTRAP,
    assert_contract_outputs,
    assert_same_reports,
    consume_args,
    create_topic,
    drop_postgres_schema,
    finish,
    generate_events,
    partition_lags,
    partitions_of,
    postgres_schema_store,
    publish_file,
    read_topic,
    reports,
    require_kafka,
    send_all,
    slaclock,
    sqlite_store,
    start_consumer,
    store_counts,
    tracked_offsets,
    unique,
    write_jsonl,
)
from tests.unit.test_kafka_wire import serve_registry

pytestmark = pytest.mark.kafka

INGEST_EXPECTED = json.loads((FIXTURES / "expected" / "ingest.json").read_text())
CORE = ("read", "accepted", "duplicates", "pending", "rejected", "dead_lettered")


def core(counts: dict[str, int]) -> dict[str, int]:
    """The counts the contract defines (the engine may report more, e.g. alerts)."""
    return {k: counts[k] for k in CORE}


@pytest.fixture(autouse=True)
def _broker() -> None:
    require_kafka()


# ----------------------------------------------------------------------------- contract
def test_contract_events_through_kafka_give_the_expected_outputs(tmp_path: Path) -> None:
    """events.jsonl published (Avro) and consumed = the contract's expected outputs; the
    same events again (now as JSON) are all duplicates; bad_events.jsonl are dead-lettered."""
    store = sqlite_store(tmp_path)
    topic = create_topic(unique("contract"), partitions=3)
    dlq = unique("contract-dlq")
    group = unique("g")
    published = slaclock(
        store,
        "publish",
        str(EVENTS),
        "--topic",
        topic,
        "--bootstrap-servers",
        KAFKA_BOOTSTRAP,
        "--json",
    )
    assert published == {"read": 31, "published": 31, "skipped": 0, "failed": 0}

    args = consume_args(topic, group, "--exit-when-idle", "1", "--dead-letter-topic", dlq)
    counts = slaclock(store, *args)
    assert core(counts) == {**INGEST_EXPECTED["events.jsonl"], "dead_lettered": 0}
    assert_contract_outputs(store)
    before = reports(store)

    publish_file(EVENTS, topic, "json")  # redelivery of every event, other encoding
    counts = slaclock(store, *args)
    assert core(counts) == {
        "read": 31,
        "accepted": 0,
        "duplicates": 31,
        "pending": 0,
        "rejected": 0,
        "dead_lettered": 0,
    }
    assert reports(store) == before

    publish_file(FIXTURES / "bad_events.jsonl", topic, "json")
    counts = slaclock(store, *args)
    assert core(counts) == {
        **INGEST_EXPECTED["bad_events.jsonl (after events.jsonl)"],
        "dead_lettered": 8,
    }
    assert reports(store) == before
    letters = read_topic(dlq, expect=8)
    assert len(letters) == 8
    assert {r.value for r in letters} == {
        line.encode() for line in (FIXTURES / "bad_events.jsonl").read_text().splitlines()
    }
    for record in letters:
        headers = dict(record.headers)
        source = headers["source"].decode()
        t, p, o = source.split("/")
        assert (t, headers["source_topic"].decode()) == (topic, topic)
        assert (p, o) == (headers["source_partition"].decode(), headers["source_offset"].decode())
        assert headers["reason"]
    reasons = {
        json.loads(r.value)["event_id"]: dict(r.headers)["reason"].decode()
        for r in letters
        if r.value.startswith(b"{")
    }
    assert reasons["bad-3"] == "priority: 7 is not one of [1, 2, 3]"


# ------------------------------------------------------------------------------ poison
@pytest.mark.parametrize("decoder", ["process", "inline"])
def test_poison_messages_go_to_the_dead_letter_topic_and_the_rest_is_processed(
    tmp_path: Path, decoder: str
) -> None:
    store = sqlite_store(tmp_path)
    topic = create_topic(unique("poison"))
    dlq = unique("poison-dlq")
    created = {
        "event_id": "p-1",
        "type": "ticket.created",
        "ticket_id": "P-1",
        "occurred_at": "2025-09-01T09:00:00+02:00",
        "customer_id": "globex",
        "priority": 2,
    }
    ack = {
        "event_id": "p-2",
        "type": "ticket.acknowledged",
        "ticket_id": "P-1",
        "occurred_at": "2025-09-01T10:00:00+02:00",
    }
    bad_priority = encode_avro(
        {
            "event_id": "p-3",
            "type": "ticket.reprioritised",
            "ticket_id": "P-1",
            "occurred_at": "2025-09-01T10:30:00+02:00",
            "priority": 7,
        }
    )
    name, record = to_record(
        {
            "event_id": "p-4",
            "type": "ticket.resolved",
            "ticket_id": "P-1",
            "occurred_at": "2025-09-01T11:00:00+02:00",
        }
    )
    resolved_v2 = encode_record(schema_by_id(2), 2, (name, {**record, "queue": "L2"}))
    created_2 = dict(created, event_id="p-5", ticket_id="P-2")
    messages = [
        (b"P-1", encode_avro(created)),  # 0 good
        (b"P-1", b"\x93\x11garbage\xff"),  # 1 garbage bytes
        (b"P-1", b"\x00\x00\x00\x03\xe7" + encode_avro(ack)[5:]),  # 2 unknown schema id 999
        (b"P-1", bad_priority),  # 3 valid Avro, invalid content
        (b"P-1", json.dumps(ack).encode()),  # 4 good (JSON)
        (b"P-1", encode_avro(created)[:9]),  # 5 truncated Avro body
        (b"P-1", b"[1, 2, 3]"),  # 6 JSON but not an object
        (b"P-1", resolved_v2),  # 7 good, written with schema v2 (evolution)
        (b"P-2", encode_avro(created_2)),  # 8 good
    ]
    send_all(messages, topic)
    poison = {
        1: "not valid UTF-8: byte 0x93 at offset 0",
        2: "schema id 999: unknown",
        3: "priority: 7 is not one of [1, 2, 3]",
        5: "not a readable Avro record",
        6: "not a JSON object",
    }

    counts = slaclock(
        store,
        *consume_args(
            topic,
            unique("g"),
            "--exit-when-idle",
            "1",
            "--dead-letter-topic",
            dlq,
            "--max-poll-records",
            "3",
            "--decoder",
            decoder,
        ),
    )
    assert core(counts) == {
        "read": 9,
        "accepted": 4,
        "duplicates": 0,
        "pending": 0,
        "rejected": 5,
        "dead_lettered": 5,
    }
    letters = read_topic(dlq, expect=5)
    assert [int(dict(r.headers)["source_offset"]) for r in letters] == sorted(poison)
    for r in letters:
        headers = {k: v.decode() for k, v in r.headers}
        offset = int(headers["source_offset"])
        assert headers["source"] == f"{topic}/0/{offset}"
        assert headers["source_topic"] == topic and headers["source_partition"] == "0"
        assert poison[offset] in headers["reason"], headers["reason"]
        assert (r.key, r.value) == messages[offset]  # the original bytes, untouched
    ticket = slaclock(store, "ticket", "P-1", "--as-of", "2025-10-06T12:00:00+02:00", "--json")
    assert ticket["clocks"]["response"]["status"] == "met"
    assert ticket["clocks"]["resolution"]["stopped_at"] is not None  # the v2 message counted
    assert store_counts(store)["tickets"] == 2
    # the partition's end offset, stored with the last batch: nothing left to read
    assert partition_lags(store) == [(f"kafka:{topic}:0", 9, 9, 0)]


def test_work_logs_published_as_avro_give_the_hour_statements_of_file_ingest(
    tmp_path: Path,
) -> None:
    """``ticket.work_logged`` through Kafka in Avro (schema version 3): the same hour
    statements as ``slaclock ingest`` of the same file, and a bad work log dead-lettered."""
    from tests.e2e.test_hours_cli import HOURS, _log

    config = tmp_path / "hours.toml"
    config.write_text(CONFIG.read_text() + HOURS)
    events = [
        {"event_id": "c1", "type": "ticket.created", "ticket_id": "W-1", "customer_id": "umbrella",
         "priority": 2, "occurred_at": "2025-09-02T08:00:00+02:00"},
        {"event_id": "a1", "type": "ticket.acknowledged", "ticket_id": "W-1",
         "occurred_at": "2025-09-02T08:30:00+02:00"},  # response met: nothing waived
        _log("w1", "W-1", "2025-09-02T09:00:00+02:00", 10),
        _log("w2", "W-1", "2025-09-03T09:00:00+02:00", 70, mode="on_site", actor="ben"),
        _log("w3", "W-1", "2025-09-04T09:00:00+02:00", 30, mode="by_phone"),  # rejected
        _log("w4", "W-1", "2025-10-01T09:00:00+02:00", 200),
    ]  # fmt: skip
    path = write_jsonl(events, tmp_path / "work.jsonl")
    topic = create_topic(unique("work"))
    assert publish_file(path, topic, "avro")["published"] == len(events)
    consumed, ingested = sqlite_store(tmp_path, "kafka.db"), sqlite_store(tmp_path, "file.db")
    args = consume_args(topic, unique("g"), "--exit-when-idle", "1", "--clock", "event")
    counts = slaclock(consumed, *args, config=config)
    assert (counts["accepted"], counts["rejected"]) == (5, 1)
    assert slaclock(ingested, "ingest", str(path), "--json", config=config)["accepted"] == 5
    hours = ["hours", "--customer", "umbrella", "--month", "2025-10", "--all", "--json"]
    statements = slaclock(consumed, *hours, config=config)
    assert statements == slaclock(ingested, *hours, config=config)
    months = {s["month"]: s for s in statements["statements"]}
    assert [line["billed_minutes"] for line in months["2025-09"]["lines"]] == [15, 75]
    assert months["2025-10"]["billed_minutes"] == 210


def test_replies_and_assignments_published_as_avro_give_the_cycles_of_file_ingest(
    tmp_path: Path,
) -> None:
    """The service-levels sample (replies, assignments, groups on creations) through Kafka in
    Avro (schema version 4): the same tickets, cycles and ownership report as ``slaclock
    ingest`` of the same file."""
    sample = FIXTURES / "service_levels"
    config, events = sample / "slaclock.toml", sample / "events.jsonl"
    topic = create_topic(unique("cycles"))
    assert publish_file(events, topic, "avro")["published"] == 117
    consumed, ingested = sqlite_store(tmp_path, "kafka.db"), sqlite_store(tmp_path, "file.db")
    args = consume_args(topic, unique("g"), "--exit-when-idle", "1", "--clock", "event")
    assert slaclock(consumed, *args, config=config)["accepted"] == 111
    assert slaclock(ingested, "ingest", str(events), "--json", config=config)["accepted"] == 111
    tickets = ["tickets", "--as-of", "2025-11-20T00:00:00Z", "--json"]
    answer = slaclock(consumed, *tickets, config=config)
    assert answer == slaclock(ingested, *tickets, config=config)
    assert any(t["clocks"]["ownership"].get("cycles") for t in answer)  # groups came through
    assert any(t["clocks"]["next_reply"].get("cycles") for t in answer)  # and replies
    report = ["report", "ownership", "--month", "2025-04", "--as-of", "2025-11-20T00:00:00Z"]
    owned = slaclock(consumed, *report, "--json", config=config)
    assert owned["rows"] and owned == slaclock(ingested, *report, "--json", config=config)


def test_schema_registry_option_resolves_ids_and_rejects_unknown_ones(tmp_path: Path) -> None:
    store = sqlite_store(tmp_path)
    topic = create_topic(unique("registry"))
    dlq = unique("registry-dlq")
    server, url = serve_registry({31: SCHEMA_DIR / "ticket_event.v2.avsc"})
    try:
        event = {
            "event_id": "r-1",
            "type": "ticket.created",
            "ticket_id": "R-1",
            "occurred_at": "2025-09-01T09:00:00+02:00",
            "customer_id": "acme",
        }
        name, record = to_record(event)
        good = encode_record(schema_by_id(2), 31, (name, {**record, "queue": "Q"}))
        unknown = encode_avro(dict(event, event_id="r-2"), 1)  # id 1: not in this registry
        send_all([(b"R-1", good), (b"R-1", unknown)], topic)
        counts = slaclock(
            store,
            *consume_args(
                topic,
                unique("g"),
                "--exit-when-idle",
                "1",
                "--schema-registry",
                url,
                "--dead-letter-topic",
                dlq,
            ),
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (counts["accepted"], counts["rejected"]) == (1, 1)
    (letter,) = read_topic(dlq, expect=1)
    assert dict(letter.headers)["reason"].decode() == f"schema id 1: unknown to {url}"


# -------------------------------------------------------------------- the long stream
N_TICKETS = 4000


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """~20k generated events, and what a clean file ingest of them answers."""
    work = tmp_path_factory.mktemp("stream")
    events = generate_events(N_TICKETS)
    path = write_jsonl(events, work / "events.jsonl")
    reference = sqlite_store(work, "reference.db")
    counts = slaclock(reference, "ingest", str(path), "--json", timeout=300)
    return {
        "events": events,
        "path": path,
        "ingest": counts,
        "reports": reports(reference),
        "store_counts": store_counts(reference),
    }


BATCH_LINE = re.compile(r"stored batch ((?:p\d+:\d+-\d+ ?)+) read=(\d+) accepted=(\d+)")


def stored_ranges(log: Path) -> list[tuple[int, int, int]]:
    """(partition, first, next) of every batch the consumers logged as stored."""
    out = []
    for match in BATCH_LINE.finditer(log.read_text(errors="replace")):
        for part in match.group(1).split():
            p, _, span = part[1:].partition(":")
            a, _, b = span.partition("-")
            out.append((int(p), int(a), int(b)))
    return out


def assert_disjoint(ranges: list[tuple[int, int, int]]) -> None:
    by_partition: dict[int, list[tuple[int, int]]] = {}
    for p, a, b in ranges:
        by_partition.setdefault(p, []).append((a, b))
    for p, spans in by_partition.items():
        spans.sort()
        for (a1, b1), (a2, b2) in itertools.pairwise(spans):
            assert b1 <= a2, f"partition {p}: offsets {a2}-{b1} stored twice ({a1}-{b1}, {a2}-{b2})"


def wait_for_progress(
    store: str, topic: str, partitions: set[int], beyond: int, timeout: float = 60
) -> int:
    """Wait until the stored offsets (summed) exceed ``beyond``; the sum."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            total = sum(v or 0 for v in tracked_offsets(store, topic, partitions).values())
        except Exception:  # the store file may not exist yet
            total = 0
        if total > beyond:
            return total
        time.sleep(0.05)
    raise AssertionError(f"no progress beyond {beyond} stored offsets within {timeout}s")


def test_kill_9_at_random_moments_then_restart_equals_a_clean_run(
    tmp_path: Path, stream: dict[str, Any]
) -> None:
    events = stream["events"]
    topic = create_topic(unique("crash"), partitions=3)
    send_all(((e["ticket_id"].encode(), encode_avro(e)) for e in events), topic)
    store = sqlite_store(tmp_path)
    group, instance = unique("g"), unique("member")
    log = tmp_path / "consumer.log"
    extra = (
        "--max-poll-records",
        "300",
        "--instance-id",
        instance,
        "--log-level",
        "debug",
        "--session-timeout-ms",
        "6000",
    )
    rng = random.Random(20251006)
    progress, kills = 0, 0
    for _ in range(4):
        proc = start_consumer(store, topic, group, *extra, log=log)
        try:
            progress = wait_for_progress(store, topic, {0, 1, 2}, progress)
            time.sleep(rng.uniform(0.0, 0.6))  # somewhere inside a later batch, or between
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        kills += 1
        if progress >= len(events) * 0.85:
            break
    assert kills >= 3
    stored_before_last = sum(v or 0 for v in tracked_offsets(store, topic, {0, 1, 2}).values())
    assert stored_before_last < len(events), "the stream ended before the last kill"
    proc = start_consumer(store, topic, group, *extra, "--exit-when-idle", "1", log=log)
    last = finish(proc)

    assert sum(tracked_offsets(store, topic, {0, 1, 2}).values()) == len(events)
    assert last["read"] == len(events) - stored_before_last  # resumed exactly where stored
    assert store_counts(store) == stream["store_counts"]  # nothing applied twice
    assert_disjoint(stored_ranges(log))  # no offset stored by two runs
    assert_same_reports(stream["reports"], reports(store))


def last_assignment(log: Path) -> list[int]:
    found = re.findall(r"assigned partitions: \[([\d, ]*)\]", log.read_text(errors="replace"))
    return [int(p) for p in found[-1].split(",") if p.strip()] if found else []


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_two_consumers_one_killed_the_other_takes_over(
    tmp_path: Path, stream: dict[str, Any], backend: str
) -> None:
    """A and B share a 4-partition topic; A is killed -9 halfway through its partitions;
    B gets them after A's session times out and resumes them from the stored offsets."""
    events = stream["events"]
    topic = create_topic(unique("takeover"), partitions=4)
    schema = unique("takeover").replace("-", "_")
    store = postgres_schema_store(schema) if backend == "postgres" else sqlite_store(tmp_path)
    group = unique("g")
    common = ("--max-poll-records", "200", "--session-timeout-ms", "6000", "--log-level", "debug")
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    per_partition = [0, 0, 0, 0]
    for e in events:
        per_partition[partition_of(e["ticket_id"], 4)] += 1
    try:
        a = start_consumer(store, topic, group, *common, log=log_a)
        b = None
        try:
            wait_for_log(log_a, "assigned partitions: [0, 1, 2, 3]")
            b = start_consumer(store, topic, group, *common, "--exit-when-idle", "2", log=log_b)
            wait_for_log(log_b, re.compile(r"assigned partitions: \[\d, \d\]"))
            wait_for_log(log_a, re.compile(r"assigned partitions: \[\d, \d\]"))
            mine = last_assignment(log_a)
            assert sorted(mine + last_assignment(log_b)) == [0, 1, 2, 3]
            # Both members are settled before any event exists: publish now, kill A halfway.
            send_all(((e["ticket_id"].encode(), encode_avro(e)) for e in events), topic)
            share = sum(per_partition[p] for p in mine)
            wait_for_progress(store, topic, set(mine), share // 2)
            a.send_signal(signal.SIGKILL)
            a.wait(timeout=30)
            done = sum(v or 0 for v in tracked_offsets(store, topic, mine).values())
            assert done < share, "A finished its partitions before it was killed"
            counts = finish(b, timeout=120)
        finally:
            for proc in (a, b):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait()
        assert last_assignment(log_b) == [0, 1, 2, 3]  # B took over A's partitions
        a_ranges, b_ranges = stored_ranges(log_a), stored_ranges(log_b)
        assert {p for p, _, _ in a_ranges} == set(mine)
        assert {p for p, _, _ in b_ranges} == {0, 1, 2, 3}
        assert_disjoint(a_ranges + b_ranges)
        assert tracked_offsets(store, topic, range(4)) == dict(enumerate(per_partition))
        assert counts["read"] == len(events) - done
        assert store_counts(store) == stream["store_counts"]
        assert_same_reports(stream["reports"], reports(store))
    finally:
        if backend == "postgres":
            drop_postgres_schema(schema)


def wait_for_log(log: Path, pattern: str | re.Pattern[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if (pattern in text) if isinstance(pattern, str) else pattern.search(text):
            return
        time.sleep(0.05)
    raise AssertionError(f"{log.name}: no {pattern!r} within {timeout}s:\n{text[-2000:]}")


# --------------------------------------------------------------------------- signals
def test_sigterm_finishes_the_current_batch_and_exits_0(
    tmp_path: Path, stream: dict[str, Any]
) -> None:
    events = stream["events"][:6000]
    topic = create_topic(unique("sigterm"), partitions=2)
    send_all(((e["ticket_id"].encode(), json.dumps(e).encode()) for e in events), topic)
    store = sqlite_store(tmp_path)
    log = tmp_path / "consumer.log"
    proc = start_consumer(
        store, topic, unique("g"), "--max-poll-records", "100", "--log-level", "debug", log=log
    )
    try:
        wait_for_progress(store, topic, {0, 1}, 0)
        proc.send_signal(signal.SIGTERM)
        counts = finish(proc, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    stored = sum(v or 0 for v in tracked_offsets(store, topic, {0, 1}).values())
    assert 0 < stored < len(events)
    assert counts["read"] == stored  # every batch it read was stored, none half-done
    assert "SIGTERM received" in log.read_text()


# ------------------------------------------------------------------- unavailable store
class FlakyStore:
    """A TicketStore whose saves fail ``failures`` times (as if the database went away),
    after ``after`` good ones."""

    def __init__(self, store: Any, failures: int, after: int = 0) -> None:
        self._store = store
        self.failures = failures
        self.after = after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.after:
            self.after -= 1
        elif self.failures:
            self.failures -= 1
            from eventsourcing.persistence import OperationalError

            raise OperationalError("database unavailable (simulated)")
        self._store.save(*args, **kwargs)


def in_process_consumer(
    tmp_path: Path, stream: dict[str, Any], name: str, **settings: Any
) -> tuple[list[dict[str, Any]], str, Any, str, Any]:
    """For tests that run ``KafkaIngest`` in this process: 1,500 events of the stream on a
    fresh 2-partition topic, the policy, a fresh SQLite store URL and consumer settings
    (200 messages per batch, idle after 1 s; ``settings`` override)."""
    from slaclock.config import load_policy
    from slaclock.consumers.kafka_settings import ConsumerSettings

    events = stream["events"][:1500]
    topic = create_topic(unique(name), partitions=2)
    send_all(((e["ticket_id"].encode(), encode_avro(e)) for e in events), topic)
    policy, _ = load_policy(str(CONFIG))
    options: dict[str, Any] = {"max_poll_records": 200, "exit_when_idle": 1, **settings}
    consumer = ConsumerSettings(
        topic=topic,
        group=unique("g"),
        client_config={"bootstrap_servers": KAFKA_BOOTSTRAP},
        **options,
    )
    return events, topic, policy, sqlite_store(tmp_path), consumer


@pytest.mark.parametrize(("decoder", "after"), [("inline", 0), ("process", 2)])
def test_an_unavailable_store_is_retried_with_backoff_and_nothing_is_skipped(
    tmp_path: Path, stream: dict[str, Any], decoder: str, after: int
) -> None:
    """Saves fail at the start or mid-stream, while the next batches are already polled and
    decoding (in this process or the decoding process): they are dropped and read again."""
    from slaclock.consumers.decode_worker import WireDecodeProcess
    from slaclock.consumers.kafka_consumer import KafkaIngest
    from slaclock.projections.store import TicketStore
    from tests.helpers import contract_policy

    events, _, policy, url, settings = in_process_consumer(
        tmp_path, stream, "flaky", backoff_initial=0.05, backoff_max=0.2
    )
    real = TicketStore(url, policy)
    flaky = FlakyStore(real, failures=3, after=after)
    decoding = WireDecodeProcess(contract_policy, None) if decoder == "process" else None
    try:
        stats = KafkaIngest(settings, flaky, policy, decoding=decoding).run()  # type: ignore[arg-type]
    finally:
        real.close()
    assert flaky.failures == 0
    reference = sqlite_store(tmp_path, "reference.db")
    slaclock(reference, "ingest", str(write_jsonl(events, tmp_path / "e.jsonl")), "--json")
    assert stats.read == len(events)  # failed attempts are not counted
    assert store_counts(url) == store_counts(reference)
    assert_same_reports(reports(reference), reports(url))


def test_a_dead_decoding_process_stops_the_consumer_and_a_restart_resumes(
    tmp_path: Path, stream: dict[str, Any]
) -> None:
    """The decoding process is killed after the first stored batch: the consumer stores the
    batch in flight, stops with ``DecodeWorkerError`` (the command exits 1 with that
    message), and a restart goes on from the stored offsets: nothing lost, nothing twice."""
    from slaclock.consumers.decode_worker import DecodeWorkerError, WireDecodeProcess
    from slaclock.consumers.kafka_batches import BatchInfo
    from slaclock.consumers.kafka_consumer import KafkaIngest
    from slaclock.projections.store import TicketStore
    from tests.helpers import contract_policy

    events, topic, policy, url, settings = in_process_consumer(tmp_path, stream, "decoder")
    decoding = WireDecodeProcess(contract_policy, None)

    def kill_the_decoder(info: BatchInfo) -> None:
        if decoding._worker.is_alive():
            decoding._worker.kill()

    store = TicketStore(url, policy)
    try:
        first = KafkaIngest(settings, store, policy, decoding=decoding, on_batch=kill_the_decoder)
        with pytest.raises(DecodeWorkerError, match="ended unexpectedly"):
            first.run()
        stored = sum(v or 0 for v in tracked_offsets(url, topic, {0, 1}).values())
        assert 0 < stored < len(events) and first.stats.read == stored
        second = KafkaIngest(settings, store, policy).run()  # in-process decoding
        assert first.stats.read + second.read == len(events)
    finally:
        store.close()
    reference = sqlite_store(tmp_path, "reference.db")
    slaclock(reference, "ingest", str(write_jsonl(events, tmp_path / "e.jsonl")), "--json")
    assert store_counts(url) == store_counts(reference)
    assert_same_reports(reports(reference), reports(url))


# ------------------------------------------------------------------------ PostgreSQL
@pytest.fixture
def pg_store() -> Iterator[str]:
    schema = unique("kafka").replace("-", "_")
    url = postgres_schema_store(schema)
    try:
        yield url
    finally:
        drop_postgres_schema(schema)


@pytest.mark.postgres
def test_contract_events_through_kafka_into_postgresql(pg_store: str) -> None:
    """Same as the SQLite contract test, with JSON values and a PostgreSQL schema store."""
    topic = create_topic(unique("contract-pg"), partitions=2)
    publish_file(EVENTS, topic, "json")
    args = consume_args(topic, unique("g"), "--exit-when-idle", "1")
    counts = slaclock(pg_store, *args)
    assert core(counts) == {**INGEST_EXPECTED["events.jsonl"], "dead_lettered": 0}
    assert_contract_outputs(pg_store)
    before = reports(pg_store)
    publish_file(EVENTS, topic, "avro")  # redelivery
    counts = slaclock(pg_store, *args)
    assert (counts["read"], counts["duplicates"], counts["accepted"]) == (31, 31, 0)
    assert reports(pg_store) == before
    assert sum(tracked_offsets(pg_store, topic, partitions_of(topic)).values()) == 62


def test_a_quiet_consumer_raises_alerts_that_the_wall_clock_made_due(tmp_path: Path) -> None:
    """Live (``--clock wall``): a ticket's response breach falls due seconds after its only
    message was stored; with nothing more to read, the consumer still raises it (and stores
    it) when it falls due, instead of waiting for the next message or for ``--tick-every``
    (an hour here: the tick is scheduled by the store's next alert)."""
    store = sqlite_store(tmp_path)
    topic = create_topic(unique("tick"))
    alerts = tmp_path / "alerts.jsonl"
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    created = {  # globex, priority 1: response within 1 h around the clock
        "event_id": "tick-1",
        "type": "ticket.created",
        "ticket_id": "TICK-1",
        "occurred_at": (due - timedelta(hours=1)).isoformat(),
        "customer_id": "globex",
        "priority": 1,
    }
    send_all([(b"TICK-1", json.dumps(created).encode())], topic)
    args = ["--clock", "wall", "--alerts", str(alerts), "--tick-every", "3600"]
    counts = slaclock(store, *consume_args(topic, unique("g"), "--exit-when-idle", "12", *args))
    assert counts["accepted"] == 1
    raised = [json.loads(line) for line in alerts.read_text().splitlines()]
    breach = [a for a in raised if a["kind"] == "breach" and a["alert"] == "raised"]
    assert [(a["ticket_id"], a["metric"]) for a in breach] == [("TICK-1", "response")]
    assert datetime.fromisoformat(breach[0]["at"]) == due
    warnings = [a for a in raised if a["kind"] == "warning"]
    assert warnings and all(datetime.fromisoformat(a["at"]) < due for a in warnings)
    ticket = slaclock(store, "ticket", "TICK-1", "--json")
    assert ticket["clocks"]["response"]["status"] == "breached"


def test_environment_variables_configure_consume(tmp_path: Path) -> None:
    """The variables docker-compose.yml sets are the ones the command reads."""
    import subprocess
    import sys

    store = sqlite_store(tmp_path)
    topic = create_topic(unique("env"))
    publish_file(EVENTS, topic, "avro")
    env = dict(
        os.environ,
        SLACLOCK_STORE=store,
        SLACLOCK_CONFIG=str(CONFIG),
        SLACLOCK_KAFKA_BOOTSTRAP_SERVERS=KAFKA_BOOTSTRAP,
        SLACLOCK_KAFKA_TOPIC=topic,
        SLACLOCK_KAFKA_GROUP=unique("g"),
        SLACLOCK_KAFKA_DEAD_LETTER_TOPIC=unique("env-dlq"),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "slaclock", "consume", "--exit-when-idle", "1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["accepted"] == 30
