"""One bad event never takes its batch down: mutated events through ``ingest``.

Property: whatever the mix of good events and mutants (see ``tests/hostile.py``), ingesting
it raises nothing, accounts for every line (read = accepted + duplicates + rejected), rejects
every mutant with its reason (dead letter with the exact bytes when they are not UTF-8), and
stores exactly what ingesting only the good lines stores. In-process (the ``Ingestor`` that
``slaclock ingest`` runs) for many drawn sets; the command line for a few is in
``tests/e2e/test_hostile_cli.py``. Last, an Avro record that decodes but cannot be an event
is rejected alone, in a file and on Kafka.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import fastavro
from hypothesis import given, settings

from slaclock.consumers.avro import CURRENT_SCHEMA_ID, current_schema, to_record
from slaclock.consumers.dead_letter import DeadLetterFile
from slaclock.consumers.ingest import Ingestor, IngestStats
from slaclock.consumers.kafka_wire import WireDecoder, encode_record
from slaclock.consumers.sources import read_events
from slaclock.projections.store import TicketStore
from tests.hostile import (
    POLICY,
    SETTINGS,
    HostileSet,
    assert_accounted,
    check_dead_letters,
    hostile_sets,
    stored,
)


def ingest(path: Path, store_url: str, dead_letter: Path) -> IngestStats:
    store = TicketStore(store_url, POLICY)
    try:
        sink = DeadLetterFile(dead_letter)
        return Ingestor(store, POLICY, sink, batch_size=5, clock="event").run(
            read_events(str(path))
        )
    finally:
        store.close()


@settings(max_examples=40, **SETTINGS)
@given(drawn=hostile_sets())
def test_mutated_events_are_rejected_one_by_one(drawn: HostileSet) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "all.jsonl").write_bytes(drawn.jsonl())
        (base / "good.jsonl").write_bytes(drawn.jsonl(drawn.good_lines))
        got = ingest(base / "all.jsonl", f"sqlite:///{base / 'all.db'}", base / "all-dl.jsonl")
        good = ingest(base / "good.jsonl", f"sqlite:///{base / 'good.db'}", base / "good-dl.jsonl")
        assert good.rejected == 0, (base / "good-dl.jsonl").read_text()
        assert_accounted(got.as_dict(), good.as_dict(), drawn)
        check_dead_letters(drawn, base / "all-dl.jsonl", str(base / "all.jsonl"))
        assert stored(f"sqlite:///{base / 'all.db'}", POLICY) == stored(
            f"sqlite:///{base / 'good.db'}", POLICY
        )


# --------------------------------------------------------------------------------- Avro
CREATED = {
    "event_id": "av-1",
    "type": "ticket.created",
    "ticket_id": "AV-1",
    "occurred_at": "2025-10-06T12:00:00+02:00",
    "customer_id": "acme",
    "priority": 2,
}


def far_offset(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An Avro record whose offset cannot be one (more than a day)."""
    name, record = to_record(event)
    return name, {**record, "occurred_at_offset_minutes": 5000}


def test_an_avro_record_whose_offset_is_not_one_is_rejected_alone(tmp_path: Path) -> None:
    events = [
        to_record(CREATED),
        far_offset(dict(CREATED, event_id="av-2", ticket_id="AV-2")),
        to_record(dict(CREATED, event_id="av-3", ticket_id="AV-3")),
    ]
    path = tmp_path / "events.avro"
    with path.open("wb") as out:
        fastavro.writer(out, current_schema(), events)
    letters = tmp_path / "dead.jsonl"
    stats = ingest(path, f"sqlite:///{tmp_path / 'store.db'}", letters)
    assert (stats.read, stats.accepted, stats.rejected) == (3, 2, 1)
    letter = json.loads(letters.read_text())
    assert letter["source"] == f"{path}:#2"
    assert letter["reason"] == "occurred_at_offset_minutes: 5000 is not a UTC offset"
    assert json.loads(letter["raw"])["event_id"] == "av-2"

    value = encode_record(current_schema(), CURRENT_SCHEMA_ID, far_offset(CREATED))
    raw = WireDecoder().decode(value, "t/0/7")  # the same on Kafka: rejected, not raised
    assert raw.error == "occurred_at_offset_minutes: 5000 is not a UTC offset"
