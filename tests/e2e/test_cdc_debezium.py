"""Real change-data capture: a helpdesk's PostgreSQL tables -> Debezium on Kafka Connect ->
Kafka -> ``slaclock consume --source`` -> clocks.

The helpdesk database runs on a PostgreSQL server of the test's own (wal_level=logical,
scripts/postgres.sh); the Connect worker is the one ``make test`` starts
(services/connect/connect.sh). The test writes tickets with INSERT and UPDATE as a desk
would, with explicit change times, and compares the clocks slaclock computes from the change
topic with those of the same lifecycles written by hand as slaclock events. ``tickets`` has
REPLICA IDENTITY FULL (updates carry the whole row before: deltas); ``requests`` keeps the
default identity (no ``before`` image: slaclock compares with the snapshot it kept).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cdc_helpers import Connector, HelpdeskDatabase, wait_for_messages
from tests.kafka_helpers import (
    CONFIG,
    KAFKA_BOOTSTRAP,
    drop_postgres_schema,
    finish,
    postgres_schema_store,
    read_topic,
    send_all,
    slaclock,
    start_consumer,
    store_counts,
    tracked_offsets,
    unique,
)

pytestmark = pytest.mark.postgres

SOURCE_TOML = CONFIG.parent / "cdc" / "helpdesk-source.toml"
AS_OF = "2025-11-28T00:00:00+00:00"
EXTRA_TABLES = """
CREATE TABLE requests (LIKE tickets INCLUDING ALL);
CREATE TABLE bulk (LIKE tickets INCLUDING ALL);
ALTER TABLE bulk REPLICA IDENTITY FULL;
"""
INSERT = (
    "INSERT INTO {table} (id, subject, org_code, status, severity, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


def update(table: str, ticket: int, at: str, **columns: str) -> tuple[str, Any]:
    sets = ", ".join(f"{name} = %s" for name in columns)
    return (
        f"UPDATE {table} SET {sets}, updated_at = %s WHERE id = %s",
        (*columns.values(), at, ticket),
    )


def insert(table: str, ticket: int, org: str, status: str, severity: str, at: str) -> Any:
    return (INSERT.format(table=table), (ticket, f"ticket {ticket}", org, status, severity, at, at))


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def helpdesk() -> Iterator[tuple[HelpdeskDatabase, Connector]]:
    db = HelpdeskDatabase.start()
    connector = None
    try:
        db.execute([(EXTRA_TABLES, None)])
        # Written before the connector exists: it arrives as a snapshot read (op "r").
        db.execute([insert("tickets", 101, "ACME", "new", "major", "2025-11-03T08:00:00Z")])
        connector = Connector.create(db, ["tickets", "requests", "bulk"])
        yield db, connector
    finally:
        if connector is not None:
            connector.delete()
        db.stop()


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/slaclock.toml with examples/cdc/helpdesk-source.toml and a `requests` twin."""
    source = SOURCE_TOML.read_text()
    twin = source.replace("[sources.helpdesk]", "[sources.requests]").replace(
        'ticket_prefix = "HD-"', 'ticket_prefix = "RQ-"'
    )
    path = tmp_path_factory.mktemp("cdc") / "slaclock.toml"
    path.write_text(CONFIG.read_text() + "\n" + source + "\n" + twin)
    return path


@pytest.fixture
def store() -> Iterator[str]:
    schema = unique("cdc").replace("-", "_")
    yield postgres_schema_store(schema)
    drop_postgres_schema(schema)


def consume(store: str, config: Path, source: str, topic: str, group: str) -> dict[str, int]:
    return slaclock(
        store,
        *("consume", "--source", source, "--topic", topic, "--group", group),
        *("--bootstrap-servers", KAFKA_BOOTSTRAP, "--exit-when-idle", "2", "--json"),
        config=config,
    )


def clocks(store: str, config: Path) -> Any:
    return slaclock(store, "tickets", "--as-of", AS_OF, "--json", config=config)


def expected_clocks(tmp_path: Path, config: Path, events: list[dict[str, Any]]) -> Any:
    """The clocks of the same lifecycles written by hand as slaclock events."""
    path = tmp_path / "expected.jsonl"
    path.write_text(
        "".join(json.dumps({"event_id": f"x-{i}", **e}) + "\n" for i, e in enumerate(events))
    )
    store = f"sqlite:///{tmp_path / 'expected.db'}"
    counts = slaclock(store, "ingest", str(path), "--json", config=config)
    assert counts["accepted"] == len(events), counts
    return clocks(store, config)


def ev(kind: str, ticket: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"ticket.{kind}", "ticket_id": ticket, "occurred_at": at, **fields}


# ---------------------------------------------------------------------- the lifecycles
LIFECYCLES = [
    # HD-101 (acme): seen first in the snapshot; then acknowledged, paused, resumed, resolved.
    update("tickets", 101, "2025-11-03T09:30:00Z", status="assigned"),
    update("tickets", 101, "2025-11-03T10:00:00Z", status="waiting_customer"),
    update("tickets", 101, "2025-11-03T12:00:00Z", status="assigned"),
    update("tickets", 101, "2025-11-03T13:00:00Z", status="fixed"),
    # HD-102 (globex): priority change, intervention, pause, resolve, reopen, close.
    insert("tickets", 102, "GLOBEX", "new", "minor", "2025-11-04T09:00:00Z"),
    update("tickets", 102, "2025-11-04T09:20:00Z", severity="critical"),
    update("tickets", 102, "2025-11-04T09:45:00Z", status="in_work"),
    update("tickets", 102, "2025-11-04T11:00:00Z", status="on_hold"),
    update("tickets", 102, "2025-11-05T08:00:00Z", status="in_work"),
    update("tickets", 102, "2025-11-05T10:00:00Z", status="fixed"),
    update("tickets", 102, "2025-11-05T11:00:00Z", status="assigned"),
    update("tickets", 102, "2025-11-05T12:00:00Z", status="closed"),
    # HD-103: a customer outside the map (rejected, the rest goes on), then deleted
    # (a delete and its tombstone emit nothing).
    insert("tickets", 103, "NOPE", "new", "major", "2025-11-05T09:00:00Z"),
    ("DELETE FROM tickets WHERE id = %s", (103,)),
    # RQ-201 (umbrella), no `before` image: every change compared with the kept snapshot.
    insert("requests", 201, "UMB", "new", "major", "2025-11-06T09:00:00Z"),
    update("requests", 201, "2025-11-06T09:10:00Z", status="assigned"),
    update("requests", 201, "2025-11-06T09:30:00Z", status="in_work"),
    update("requests", 201, "2025-11-06T10:00:00Z", status="waiting_customer", severity="critical"),
    update("requests", 201, "2025-11-06T11:00:00Z", status="in_work"),
    update("requests", 201, "2025-11-06T12:00:00Z", status="fixed"),
]
EXPECTED = [
    ev("created", "HD-101", "2025-11-03T08:00:00Z", customer_id="acme", priority=2),
    ev("acknowledged", "HD-101", "2025-11-03T09:30:00Z"),
    ev("paused", "HD-101", "2025-11-03T10:00:00Z"),
    ev("resumed", "HD-101", "2025-11-03T12:00:00Z"),
    ev("resolved", "HD-101", "2025-11-03T13:00:00Z"),
    ev("created", "HD-102", "2025-11-04T09:00:00Z", customer_id="globex", priority=3),
    ev("reprioritised", "HD-102", "2025-11-04T09:20:00Z", priority=1),
    ev("intervention_started", "HD-102", "2025-11-04T09:45:00Z"),
    ev("paused", "HD-102", "2025-11-04T11:00:00Z"),
    ev("resumed", "HD-102", "2025-11-05T08:00:00Z"),
    ev("resolved", "HD-102", "2025-11-05T10:00:00Z"),
    ev("reopened", "HD-102", "2025-11-05T11:00:00Z"),
    ev("acknowledged", "HD-102", "2025-11-05T11:00:00Z"),
    ev("resolved", "HD-102", "2025-11-05T12:00:00Z"),
    ev("created", "RQ-201", "2025-11-06T09:00:00Z", customer_id="umbrella", priority=2),
    ev("acknowledged", "RQ-201", "2025-11-06T09:10:00Z"),
    ev("intervention_started", "RQ-201", "2025-11-06T09:30:00Z"),
    ev("reprioritised", "RQ-201", "2025-11-06T10:00:00Z", priority=1),
    ev("paused", "RQ-201", "2025-11-06T10:00:00Z"),
    ev("resumed", "RQ-201", "2025-11-06T11:00:00Z"),
    ev("resolved", "RQ-201", "2025-11-06T12:00:00Z"),
]
# Messages: tickets 1 snapshot + 12 changes + 1 insert + delete and tombstone; requests 6.
TICKETS_MESSAGES, REQUESTS_MESSAGES = 16, 6


def test_helpdesk_changes_become_the_expected_clocks(
    helpdesk: tuple[HelpdeskDatabase, Connector], config: Path, store: str, tmp_path: Path
) -> None:
    db, connector = helpdesk
    db.execute(LIFECYCLES)
    tickets, requests = connector.topic("tickets"), connector.topic("requests")
    wait_for_messages(tickets, TICKETS_MESSAGES)
    wait_for_messages(requests, REQUESTS_MESSAGES)

    group = unique("cdc")
    first = consume(store, config, "helpdesk", tickets, group)
    hd_events = sum(1 for e in EXPECTED if e["ticket_id"].startswith("HD-"))
    # Debezium delivers at least once: under load a row of the initial snapshot can also
    # arrive from the WAL, which is a duplicate and must count as one (the redelivery below
    # checks duplicates exactly); what is accepted and rejected is exact either way.
    assert (first["accepted"], first["rejected"]) == (hd_events, 1)
    second = consume(store, config, "requests", requests, group)
    assert (second["accepted"], second["rejected"]) == (len(EXPECTED) - hd_events, 0)

    got = clocks(store, config)
    assert got == expected_clocks(tmp_path, config, EXPECTED)
    by_id = {t["ticket_id"]: t for t in got}
    assert set(by_id) == {"HD-101", "HD-102", "RQ-201"}  # HD-103 was rejected
    assert by_id["HD-102"]["priority"] == 1
    stopped = by_id["HD-101"]["clocks"]["response"]["stopped_at"]
    assert datetime.fromisoformat(stopped) == datetime(2025, 11, 3, 9, 30, tzinfo=UTC)

    # The rejected change is a dead letter whose reason names the column.
    letters = slaclock(store, "dead-letters", "--json", config=config)
    assert "org_code" in json.dumps(letters)

    # Connect delivers at least once: after a worker crash it sends again what it sent
    # since its last offset flush. The same messages once more: every event a duplicate.
    sent = read_topic(tickets, TICKETS_MESSAGES)
    send_all([(record.key, record.value) for record in sent], tickets)
    again = consume(store, config, "helpdesk", tickets, group)
    # (the topic holds each event once more for every snapshot row Debezium also sent
    # from the WAL, which the first consume counted as duplicates)
    assert (again["accepted"], again["duplicates"]) == (0, hd_events + first["duplicates"])
    assert clocks(store, config) == got


# ------------------------------------------------------------- killed mid-stream (SIGKILL)
BULK_TICKETS = 30
ORGS = ("ACME", "GLOBEX", "INIT01", "UMB")


def bulk_lifecycles() -> list[tuple[str, Any]]:
    """Per ticket: created, acknowledged, reprioritised, paused, intervention + resumed,
    resolved: 6 messages and 7 events."""
    out: list[tuple[str, Any]] = []
    for n in range(BULK_TICKETS):
        ticket, day = 1000 + n, 10 + n % 5
        at = [f"2025-11-{day}T{8 + n % 8:02d}:{m:02d}:00Z" for m in (0, 10, 20, 30, 50, 59)]
        out += [
            insert("bulk", ticket, ORGS[n % 4], "new", "minor", at[0]),
            update("bulk", ticket, at[1], status="assigned"),
            update("bulk", ticket, at[2], severity="major"),
            update("bulk", ticket, at[3], status="on_hold"),
            update("bulk", ticket, at[4], status="in_work"),
            update("bulk", ticket, at[5], status="fixed"),
        ]
    return out


@pytest.fixture
def reference_store() -> Iterator[str]:
    schema = unique("cdcref").replace("-", "_")
    yield postgres_schema_store(schema)
    drop_postgres_schema(schema)


def test_consumer_killed_mid_stream_loses_and_doubles_nothing(
    helpdesk: tuple[HelpdeskDatabase, Connector],
    config: Path,
    store: str,
    reference_store: str,
    tmp_path: Path,
) -> None:
    db, connector = helpdesk
    statements = bulk_lifecycles()
    db.execute(statements)
    topic = connector.topic("bulk")
    wait_for_messages(topic, len(statements))
    events = 7 * BULK_TICKETS

    # Uninterrupted, for comparison.
    reference = consume(reference_store, config, "helpdesk", topic, unique("ref"))
    assert (reference["accepted"], reference["rejected"]) == (events, 0)

    # One message per batch, so that the kill lands between committed batches; a static
    # member, so that the restarted consumer gets the partition back at once.
    log, group = tmp_path / "consume.log", unique("kill")
    member = ("--source", "helpdesk", "--instance-id", group)
    one_per_batch = (*member, "--max-poll-records", "1")
    proc = start_consumer(store, topic, group, *one_per_batch, log=log, config=config)
    stored = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        stored = tracked_offsets(store, topic, [0])[0]
        if stored is not None and stored >= len(statements) // 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"consumer ended before the kill: {log.read_text()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert stored is not None and 0 < stored < len(statements), stored
    killed_at = tracked_offsets(store, topic, [0])[0]
    assert killed_at is not None and killed_at < len(statements), "killed too late"

    until_idle = (*member, "--exit-when-idle", "2")
    restart = start_consumer(store, topic, group, *until_idle, log=log, config=config)
    rest = finish(restart)
    assert rest["rejected"] == 0
    assert tracked_offsets(store, topic, [0])[0] == len(statements)
    assert store_counts(store) == store_counts(reference_store)
    assert store_counts(store)["accepted_events"] == events
    assert clocks(store, config) == clocks(reference_store, config)


def test_an_unknown_source_is_a_usage_error(config: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [
            *(sys.executable, "-m", "slaclock", "--config", str(config)),
            *("--store", f"sqlite:///{tmp_path / 's.db'}", "consume", "--source", "nope"),
            *("--topic", "t", "--bootstrap-servers", KAFKA_BOOTSTRAP),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "[sources.nope]" in proc.stderr and "helpdesk, requests" in proc.stderr
    assert "Traceback" not in proc.stderr
