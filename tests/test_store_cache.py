"""The store's cache of ticket aggregates after a failed save: everything cached is
forgotten (a cached ticket may hold events that were not stored), and the cache goes on
working, evictions included (a half-emptied cache used to fail the next eviction)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from slaclock.config import load_policy
from slaclock.domain.facts import Fact
from slaclock.domain.ticket import Ticket
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG

RECORDED = datetime(2026, 1, 1, tzinfo=UTC)


def new_ticket(n: int, event_id: str | None = None) -> tuple[Ticket, list[tuple[str, str]]]:
    event_id = event_id or f"e-{n}"
    fact = Fact(event_id, "ticket.created", datetime(2025, 9, 1, 9, tzinfo=UTC), "acme", 2)
    ticket, outcome = Ticket.register(f"T-{n}", [fact], RECORDED)
    assert outcome.accepted == [fact]
    return ticket, [(event_id, f"T-{n}")]


def test_a_failed_save_forgets_cached_tickets_and_the_cache_keeps_working(tmp_path: Path) -> None:
    policy, _ = load_policy(CONFIG)
    store = TicketStore(f"sqlite:///{tmp_path / 'store.db'}", policy, cache_size=3)
    try:
        for n in range(5):  # fills the cache and evicts
            ticket, ids = new_ticket(n)
            store.save([ticket], ids)
        cache = store.app.repository.cache
        assert cache is not None and len(cache.cache) == 3  # type: ignore[attr-defined]

        clash, ids = new_ticket(99, event_id="e-0")  # an event id the store already has
        with pytest.raises(Exception, match=r"(?i)unique|integrity|conflict"):
            store.save([clash], ids)
        assert len(cache.cache) == 0  # type: ignore[attr-defined]

        for n in range(100, 110):  # evictions again, after the failure
            ticket, ids = new_ticket(n)
            store.save([ticket], ids)
        assert len(cache.cache) == 3  # type: ignore[attr-defined]
        loaded = store.get_tickets([f"T-{n}" for n in (*range(100, 110), 99)])
        assert sorted(loaded) == [f"T-{n}" for n in range(100, 110)]  # T-99 was never stored
        assert all(len(t.facts) == 1 for t in loaded.values())
    finally:
        store.close()


def test_forgetting_the_cache_on_a_rebalance_keeps_it_working(tmp_path: Path) -> None:
    """What a Kafka consumer does when its partitions change."""
    policy, _ = load_policy(CONFIG)
    store = TicketStore(f"sqlite:///{tmp_path / 'store.db'}", policy, cache_size=3)
    try:
        for n in range(5):
            ticket, ids = new_ticket(n)
            store.save([ticket], ids)
        store.forget_cached_tickets()
        loaded = store.get_tickets([f"T-{n}" for n in range(5)])  # folded again, cached again
        assert sorted(loaded) == [f"T-{n}" for n in range(5)]
        for n in range(100, 110):
            ticket, ids = new_ticket(n)
            store.save([ticket], ids)
        cache = store.app.repository.cache
        assert cache is not None and len(cache.cache) == 3  # type: ignore[attr-defined]
    finally:
        store.close()


def test_a_save_that_fails_before_writing_leaves_no_unsaved_event_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away between applying a batch and writing it (here: the read of
    the watermark at the start of ``save``). The cached ticket already holds the batch's
    facts; if it stayed cached, the retry would store them twice."""
    from eventsourcing.persistence import OperationalError

    from slaclock.consumers.dead_letter import DeadLetterList
    from slaclock.consumers.ingest import Ingestor
    from slaclock.consumers.sources import RawEvent

    policy, _ = load_policy(CONFIG)
    store = TicketStore(f"sqlite:///{tmp_path / 'store.db'}", policy)
    ingestor = Ingestor(store, policy, DeadLetterList(), clock="event")

    def event(event_id: str, type_: str, hour: int, **extra: object) -> RawEvent:
        data = {"event_id": event_id, "type": type_, "ticket_id": "T-1", **extra,
                "occurred_at": f"2025-09-01T{hour:02}:00:00+02:00"}  # fmt: skip
        return RawEvent(source=event_id, raw="", data=data)

    try:
        ingestor.process([event("c", "ticket.created", 9, customer_id="acme", priority=2)])
        batch = [event("a", "ticket.acknowledged", 10), event("r", "ticket.resolved", 11)]

        calls = []
        read = store.watermark

        def unavailable() -> int | None:  # answers ``prepare``, fails in ``save``
            calls.append(1)
            if len(calls) > 1:
                raise OperationalError("database unavailable (simulated)")
            return read()

        with monkeypatch.context() as patch:
            patch.setattr(store, "watermark", unavailable)
            with pytest.raises(OperationalError):
                ingestor.process(batch)
        assert len(calls) == 2  # it failed in ``save``, after the facts were applied
        ingestor.process(batch)  # the retry
        stored = store.load_ticket("T-1")
        assert stored is not None
        assert [f.event_id for f in stored.facts] == ["c", "a", "r"]  # each once
        assert ingestor.stats.accepted == 3 and ingestor.stats.duplicates == 0
    finally:
        store.close()
