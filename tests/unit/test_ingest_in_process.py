"""Ingest in-process: a failing decoding process is reported, and alerts that fall due at once
are raised in bounded batches (the command-line ingest tests are in tests/integration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from slaclock.config import load_policy
from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.decode_worker import DecodeWorkerError, decoded_batches
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.sources import read_events
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG, EVENTS


def _write(path, events) -> str:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(path)


def _event(event_id, kind, ticket, when, **extra):
    return {
        "event_id": event_id,
        "type": f"ticket.{kind}",
        "ticket_id": ticket,
        "occurred_at": when,
        **extra,
    }


def _no_policy() -> None:
    raise ValueError("the configuration went away")


def test_a_failing_decoding_process_is_reported_not_hidden() -> None:
    with pytest.raises(DecodeWorkerError, match="the configuration went away"):
        list(decoded_batches(str(EVENTS), _no_policy, 10))  # type: ignore[arg-type]


def test_alerts_that_fall_due_at_once_are_raised_in_bounded_batches(tmp_path) -> None:
    """A clock jump (here: ingest by event time, then the wall clock) makes many tickets'
    alerts due at once; at most ``max_due`` tickets are loaded per batch, the next batches
    take the rest, and the outcome equals one unbounded batch."""
    policy, _ = load_policy(CONFIG)
    created = "2025-09-01T10:00:00+02:00"  # all at once: nothing due when they are ingested
    events = [
        _event(f"d{n}", "created", f"T-D{n}", created, customer_id="acme", priority=2)
        for n in range(5)
    ]
    source = _write(tmp_path / "due.jsonl", events)
    results = {}
    for max_due in (None, 2):
        store = TicketStore(f"sqlite:///{tmp_path / f'due-{max_due}.db'}", policy)
        try:
            Ingestor(store, policy, DeadLetterList(), clock="event").run(read_events(source))
            assert len(store.tickets_due(int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()))) == 5
            tick = Ingestor(store, policy, DeadLetterList(), clock="wall")
            if max_due is not None:
                tick.max_due = max_due
            tick.process([])
            passes = 1
            while tick.due_left:
                tick.process([])
                passes += 1
            results[max_due] = (tick.stats.alerts, store.counters(), passes)
            assert store.tickets_due(store.watermark() or 0) == []
        finally:
            store.close()
    unbounded, bounded = results[None], results[2]
    assert unbounded[2] == 1 and bounded[2] == 3  # 5 tickets due: 2 + 2 + 1
    assert bounded[0] == unbounded[0] > 2 and bounded[1] == unbounded[1]
