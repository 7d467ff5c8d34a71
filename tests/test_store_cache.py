"""The store's cache of ticket aggregates after a failed save: everything cached is
forgotten (a cached ticket may hold events that were not stored), and the cache goes on
working, evictions included (a half-emptied cache used to fail the next eviction)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.facts import Fact
from domain.ticket import Ticket
from projections.store import TicketStore
from slaclock.config import load_policy
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
