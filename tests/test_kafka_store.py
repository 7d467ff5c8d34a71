"""What the Kafka consumer needs from the store: batches saved with their tracking records.

No broker needed: ``Ingestor.process(batch, tracking)`` is called as the consumer calls it,
one tracking record per topic-partition, many batches on one connection.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from slaclock.config import load_policy
from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.kafka_consumer import tracking_name
from slaclock.consumers.sources import RawEvent
from slaclock.projections.store import TicketStore
from tests.kafka_helpers import (
    CONFIG,
    drop_postgres_schema,
    generate_events,
    postgres_schema_store,
    sqlite_store,
    unique,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TicketStore]:
    policy, _ = load_policy(str(CONFIG))
    if request.param == "postgres":
        schema = unique("tracking").replace("-", "_")
        url = postgres_schema_store(schema)
    else:
        url = sqlite_store(tmp_path_factory.mktemp("tracking"))
    opened = TicketStore(url, policy)
    try:
        yield opened
    finally:
        opened.close()
        if request.param == "postgres":
            drop_postgres_schema(schema)


def test_many_batches_with_tracking_records_all_commit(store: TicketStore) -> None:
    """Every batch (read-model rows + 1-3 tracking records) commits on the first try.

    On PostgreSQL eventsourcing writes a batch inside a psycopg pipeline; a tracking insert
    (execute + fetchone) after the read-model executemany() calls on the same cursor failed
    now and then with "the last operation didn't produce records (command status: INSERT
    0 1)" (a few batches in a hundred; psycopg/psycopg#604 describes the cursor reuse).
    """
    rng = random.Random(5)
    offsets = [0, 0, 0]
    failures = []
    for batch in range(120):
        event_ids = [(f"b{batch}-e{i}", f"T-{i % 97}") for i in range(1500)]
        tracking = []
        for p in sorted(rng.sample(range(3), rng.randint(1, 3))):
            offsets[p] += 1500
            tracking.append(Tracking(tracking_name("t", p), offsets[p]))
        try:
            store.save([], event_ids, tracking)
        except Exception as exc:  # collect, to report how many batches failed
            failures.append(f"batch {batch}: {type(exc).__name__}: {exc}")
            for t in tracking:  # what the consumer would do: re-read the stored offsets
                offsets[int(t.application_name.rsplit(":", 1)[1])] = (
                    store.max_tracking_id(t.application_name) or 0
                )
    assert not failures, f"{len(failures)} of 120 batches failed: {failures[:3]}"
    assert [store.max_tracking_id(tracking_name("t", p)) for p in range(3)] == offsets


def test_a_tracking_record_that_does_not_advance_fails_the_whole_batch(store: TicketStore) -> None:
    """The fence that stops two consumers from both storing one partition's offsets."""
    policy, _ = load_policy(str(CONFIG))
    ingestor = Ingestor(store, policy, DeadLetterList())
    events = generate_events(20, seed=11)
    first = [RawEvent(source=f"t/0/{i}", raw=json.dumps(e)) for i, e in enumerate(events[:30])]
    ingestor.process(first, [Tracking(tracking_name("t", 0), 30)])
    rest = [RawEvent(source=f"t/0/{i}", raw=json.dumps(e)) for i, e in enumerate(events[30:])]
    before = store.query("SELECT COUNT(*) AS n FROM {p}sla_event_ids")[0]["n"]
    with pytest.raises(IntegrityError):
        ingestor.process(rest, [Tracking(tracking_name("t", 0), 30)])
    assert store.query("SELECT COUNT(*) AS n FROM {p}sla_event_ids")[0]["n"] == before
    assert store.max_tracking_id(tracking_name("t", 0)) == 30
