"""Dead letters are never lost: the outbox, against the real broker, SQLite and PostgreSQL.

The consumer is killed at exactly the moment that used to lose them: right after a batch
with dead letters is committed, before they reach the dead-letter topic (the test-only
fault ``SLACLOCK_TEST_FAULT=exit-after-store``). The restarted consumer relays them, each
id exactly once, and the clocks and offsets equal those of a run that never crashed. Killed
after the broker's acknowledgement instead (``exit-after-relay``), the restart repeats them
with the same ``dead_letter_id``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slaclock.consumers.kafka_consumer import FAULT_EXIT, FAULT_VARIABLE
from tests.kafka_helpers import (
    AS_OF,
    CONFIG,
    REPO,
    SLACLOCK,
    consume_args,
    create_topic,
    drop_postgres_schema,
    postgres_schema_store,
    read_topic,
    require_kafka,
    send_all,
    slaclock,
    sqlite_store,
    tracked_offsets,
    unique,
)

pytestmark = pytest.mark.kafka


def _event(event_id: str, kind: str, ticket: str, at: str, **extra: Any) -> bytes:
    record = {"event_id": event_id, "type": kind, "ticket_id": ticket, "occurred_at": at}
    return json.dumps({**record, **extra}).encode()


CREATED = {"customer_id": "globex", "priority": 2}
MESSAGES: list[tuple[bytes | None, bytes]] = [
    (b"D-1", _event("d-1", "ticket.created", "D-1", "2025-09-01T09:00:00+02:00", **CREATED)),
    (b"D-1", b"\x93\x11garbage\xff"),  # 1 neither Avro nor JSON, not UTF-8
    (b"D-1", _event("d-2", "ticket.reprioritised", "D-1", "2025-09-01T09:30:00+02:00", priority=7)),
    (b"D-1", _event("d-3", "ticket.acknowledged", "D-1", "2025-09-01T10:00:00+02:00")),
    (None, b"[1, 2, 3]"),  # 4 JSON but not an object, no key
    (b"D-2", _event("d-4", "ticket.created", "D-2", "2025-09-02T09:00:00+02:00", **CREATED)),
    (b"D-2", b'{"event_id": "d-5", "type": "ticket.resolved"}'),  # 6 fields missing
    (b"D-2", _event("d-6", "ticket.resolved", "D-2", "2025-09-02T11:00:00+02:00")),
]
BAD = {1, 2, 4, 6}


@pytest.fixture(autouse=True)
def _broker() -> None:
    require_kafka()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """Two fresh stores of one kind: one for the crashed consumer, one for a clean run."""
    if request.param == "sqlite":
        yield [sqlite_store(tmp_path, "crashed.db"), sqlite_store(tmp_path, "clean.db")]
        return
    schemas = [unique("outbox").replace("-", "_") for _ in range(2)]
    try:
        yield [postgres_schema_store(schema) for schema in schemas]
    finally:
        for schema in schemas:
            drop_postgres_schema(schema)


def _consume(store: str, topic: str, *extra: str, fault: str | None = None) -> Any:
    env = {k: v for k, v in os.environ.items() if k != FAULT_VARIABLE}
    if fault:
        env[FAULT_VARIABLE] = fault
    argv = consume_args(topic, unique("g"), "--exit-when-idle", "1", "--max-poll-records", "3")
    return subprocess.run(
        [*SLACLOCK, "--config", str(CONFIG), "--store", store, *argv, *extra],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )


def _listing(store: str, *extra: str) -> list[dict[str, Any]]:
    return slaclock(store, "dead-letters", "--json", *extra)


def _clocks(store: str) -> Any:
    return slaclock(store, "tickets", "--as-of", AS_OF, "--json")


def test_a_consumer_killed_after_the_commit_relays_its_dead_letters_on_restart(
    stores: list[str],
) -> None:
    crashed, clean = stores
    topic = create_topic(unique("outbox"))
    dlq = create_topic(unique("outbox-dlq"))
    send_all(MESSAGES, topic)

    died = _consume(crashed, topic, "--dead-letter-topic", dlq, fault="exit-after-store")
    assert died.returncode == FAULT_EXIT, died.stderr[-2000:]
    assert read_topic(dlq, expect=1, timeout=5) == []  # nothing reached the topic
    kept = _listing(crashed)
    assert kept and all(letter["relayed_at"] is None for letter in kept)
    assert {int(letter["headers"]["source_offset"]) for letter in kept} <= BAD

    restarted = _consume(crashed, topic, "--dead-letter-topic", dlq)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    assert json.loads(restarted.stdout)["dead_lettered"] == len(BAD)  # the kept ones too
    letters = read_topic(dlq, expect=len(BAD))
    ids = Counter(dict(r.headers)["dead_letter_id"].decode() for r in letters)
    assert set(ids.values()) == {1}, ids  # each dead letter exactly once
    listed = _listing(crashed)
    assert set(ids) == {letter["id"] for letter in listed}
    assert all(letter["relayed_at"] is not None for letter in listed)
    assert _listing(crashed, "--unrelayed") == []
    for record in letters:  # the original message, untouched, with its headers
        headers = {name: value.decode() for name, value in record.headers}
        offset = int(headers["source_offset"])
        assert offset in BAD
        assert (record.key, record.value) == MESSAGES[offset]
        assert headers["source"] == f"{topic}/0/{offset}" and headers["reason"]

    # The same messages consumed without a crash (and without a dead-letter topic).
    assert _consume(clean, topic).returncode == 0
    assert tracked_offsets(crashed, topic, [0]) == {0: len(MESSAGES)}
    assert tracked_offsets(clean, topic, [0]) == {0: len(MESSAGES)}
    assert _clocks(crashed) == _clocks(clean)
    assert [(x["id"], x["reason"]) for x in _listing(clean)] == [
        (x["id"], x["reason"]) for x in listed
    ]


def test_a_crash_after_the_acknowledgement_repeats_each_dead_letter_with_its_id(
    tmp_path: Path,
) -> None:
    """Killed after the broker acknowledged the dead letters and before they were marked
    relayed: the restart sends them again (at least once), each with the same id."""
    store = sqlite_store(tmp_path)
    topic = create_topic(unique("outbox-repeat"))
    dlq = create_topic(unique("outbox-repeat-dlq"))
    send_all(MESSAGES, topic)
    died = _consume(store, topic, "--dead-letter-topic", dlq, fault="exit-after-relay")
    assert died.returncode == FAULT_EXIT, died.stderr[-2000:]
    first = read_topic(dlq, expect=1)
    assert first and all(x["relayed_at"] is None for x in _listing(store))

    restarted = _consume(store, topic, "--dead-letter-topic", dlq)
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    letters = read_topic(dlq, expect=len(first) + len(BAD))
    ids = Counter(dict(r.headers)["dead_letter_id"].decode() for r in letters)
    repeated = {dict(r.headers)["dead_letter_id"].decode() for r in first}
    assert ids == {i: 2 if i in repeated else 1 for i in ids}
    assert set(ids) == {x["id"] for x in _listing(store)} and len(ids) == len(BAD)
    assert _listing(store, "--unrelayed") == []
    assert tracked_offsets(store, topic, [0]) == {0: len(MESSAGES)}


def test_without_a_dead_letter_topic_they_stay_in_the_store_and_are_listed(
    tmp_path: Path,
) -> None:
    store = sqlite_store(tmp_path)
    topic = create_topic(unique("outbox-kept"))
    send_all(MESSAGES, topic)
    done = _consume(store, topic)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["dead_lettered"] == len(BAD)
    assert done.stderr.count(f"rejected {topic}/") == len(BAD)  # logged once each

    listed = _listing(store)
    assert [int(x["headers"]["source_offset"]) for x in listed] == sorted(BAD)
    assert all(x["relayed_at"] is None for x in listed)
    garbage = listed[0]
    assert garbage["source"] == f"{topic}/0/1" and garbage["key"] == "D-1"
    assert "raw_base64" in garbage  # not UTF-8: the exact bytes beside the readable text
    assert "priority" in listed[1]["reason"]
    assert listed[2]["key"] is None and listed[2]["raw"] == "[1, 2, 3]"
    assert _listing(store, "--since", "2100-01-01T00:00:00Z") == []
    assert len(_listing(store, "--unrelayed", "--limit", "2")) == 2

    human = subprocess.run(
        [*SLACLOCK, "--config", str(CONFIG), "--store", store, "dead-letters"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert human.returncode == 0 and f"{topic}/0/4" in human.stdout
    bad_since = subprocess.run(
        [*SLACLOCK, "--config", str(CONFIG), "--store", store, "dead-letters", "--since", "x"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert bad_since.returncode == 2 and "--since" in bad_since.stderr
