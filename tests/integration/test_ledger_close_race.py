"""``ledger close`` and writers serialise: a batch prepared before a close and stored after
it posts into the first month still open, never into the month just closed, and a batch
stored while a close freezes its statement waits for the close (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from slaclock.bootstrap import open_store
from slaclock.config import read_policy
from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.events import decode
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.ingest_records import Prepared
from slaclock.consumers.sources import read_events
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG, EVENTS, Cli

MONTH = "2025-09"


def _prepared_credit(store_url: str) -> tuple[TicketStore, Ingestor, Prepared]:
    """A store with the sample's first three events, and a batch (its fourth event) prepared
    but not stored, which posts a credit into 2025-09."""
    loaded = read_policy(str(CONFIG))
    store = open_store(store_url, loaded)
    events = list(read_events(str(EVENTS)))
    ingestor = Ingestor(
        store, loaded.policy, DeadLetterList(), clock="event", policy_version=loaded.version
    )
    ingestor.run(events[:3])
    decoded = decode(events[3:4], loaded.policy)
    prepared = ingestor.prepare(decoded.facts, decoded.rejected)
    assert [(e.kind, e.posted_month) for e in prepared.ledger] == [("credit", MONTH)]
    return store, ingestor, prepared


def _posted(store: TicketStore) -> list[tuple[str, str, str]]:
    return [(e.kind, e.month, e.posted_month) for e in store.ledger_entries()]


def test_a_batch_prepared_before_a_close_posts_into_the_next_open_month(
    store_url: str, tmp_path: Path
) -> None:
    store, ingestor, prepared = _prepared_credit(store_url)
    try:
        closed = Cli(CONFIG, store_url, tmp_path).run("ledger", "close", "--month", MONTH)
        assert closed.returncode == 0, closed.stderr
        ingestor.save(prepared)
        ingestor.finish(prepared)
        assert _posted(store) == [("credit", MONTH, "2025-10")]  # an adjustment, shown in October
        assert store.ledger_entries(posted_month=MONTH) == []
    finally:
        store.close()


def test_a_batch_stored_during_a_close_waits_for_it(store_url: str) -> None:
    store, ingestor, prepared = _prepared_credit(store_url)
    closing = TicketStore(store_url, store.policy)  # as another process: its own connections
    saving = threading.Thread(target=ingestor.save, args=(prepared,))
    seen: dict[str, object] = {}

    def freeze() -> str:  # the close holds the writers' lock while it computes the statement
        saving.start()
        time.sleep(1.0)
        seen["saved meanwhile"] = not saving.is_alive()
        seen["entries"] = len(closing.ledger_entries())
        return "{}"

    try:
        assert closing.close_month(MONTH, freeze, int(time.time()))
        saving.join(timeout=60)
        assert not saving.is_alive()
        assert seen == {"saved meanwhile": False, "entries": 0}  # it waited for the close
        assert _posted(store) == [("credit", MONTH, "2025-10")]
    finally:
        if saving.is_alive() or seen:
            saving.join(timeout=60)
        closing.close()
        store.close()
