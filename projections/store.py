"""The ticket store: tickets in, read-model rows out, in one transaction per batch.

:class:`TicketStore` is the event store (``projections.event_store``) plus what slaclock
keeps beside the events: it saves tickets' new events with their rows
(``projections.ticket_rows``), the deduplication index and source positions, and answers
the reads the ingest and the front ends need. Subjects with their own tables live in their
own modules (positions, the ledger, ``sla_meta``); the methods here that name them are
one-line doors, so that callers hold one object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from eventsourcing.persistence import Tracking

from slaclock.domain.clocks import TicketSnapshot, evaluate
from slaclock.domain.policy import Policy
from slaclock.domain.ticket import Ticket, ticket_uuid
from slaclock.projections.batch import Batch
from slaclock.projections.clock_inputs import Kept
from slaclock.projections.dead_letters import DeadLetter
from slaclock.projections.event_store import EventStore
from slaclock.projections.ledger import LedgerEntry
from slaclock.projections.ledger_book import LedgerBook
from slaclock.projections.meta import POLICY_VERSION, WATERMARK, read_meta
from slaclock.projections.positions import PartitionLag, Positions
from slaclock.projections.ticket_rows import add_clock_rows, add_rows, created_ticket_row, terms

_EVALUATE = object()  # "evaluate the ticket yourself" (None is a valid snapshot: pending)


class TicketStore(EventStore):
    """Tickets in, read-model rows out: the one door to the database."""

    def __init__(self, url: str, policy: Policy, *, cache_size: int = 20000) -> None:
        super().__init__(url, cache_size=cache_size)
        self.policy = policy
        self.version: str | None = None
        """The policy version of ``policy``: when set, a save fails (``PolicyMoved``, nothing
        written) unless the read model is of that version (``slaclock.bootstrap`` sets it)."""
        self.positions = Positions(self)
        self.ledger = LedgerBook(self)

    # ----------------------------------------------------------------- writing
    def get_tickets(self, ticket_ids: Iterable[str]) -> dict[str, Ticket]:
        """The stored tickets among ``ticket_ids`` (unknown ids are left out).

        The read model's ticket table says which exist, in one query per 500 ids, so new
        tickets cost no event-store lookups.
        """
        existing = self._present("sla_tickets", "ticket_id", list(ticket_ids))
        get = self.app.repository.get
        return {tid: get(ticket_uuid(tid), projector_func=_replay) for tid in sorted(existing)}

    def known_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` the store has already accepted (duplicates)."""
        return self._present("sla_event_ids", "event_id", event_ids)

    def _present(self, table: str, column: str, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.read() as cursor:
            if self.dialect.name == "postgres":  # one query, the keys as one array
                statement = f"SELECT {column} FROM {{p}}{table} WHERE {column} = ANY(?::text[])"
                cursor.execute(self.dialect.sql(statement), [list(keys)])
                return {row[column] for row in cursor.fetchall()}
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ", ".join("?" * len(chunk))
                statement = f"SELECT {column} FROM {{p}}{table} WHERE {column} IN ({marks})"
                cursor.execute(self.dialect.sql(statement), chunk)
                found.update(row[column] for row in cursor.fetchall())
        return found

    def save(
        self,
        tickets: Sequence[Ticket],
        event_ids: Sequence[tuple[str, str]],
        tracking: Sequence[Tracking] = (),
        *,
        snapshots: Mapping[str, TicketSnapshot | None] | None = None,
        ledger: Sequence[LedgerEntry] = (),
        watermark: int | None = None,
        counters: Mapping[tuple[str, str], int] | None = None,
        meta: Mapping[str, str] | None = None,
        dead_letters: Sequence[DeadLetter] = (),
        source_state: Sequence[tuple[str, str, str, str | None]] = (),
        deliveries: Sequence[tuple[Any, ...]] = (),
    ) -> None:
        """Store the tickets' new events with their read-model rows in one transaction.

        ``snapshots`` (by ticket id) saves re-evaluating tickets the caller just evaluated;
        ``watermark`` is the time the engine has reached (alerts due before it were raised);
        ``meta`` are ``sla_meta`` entries to set with them (a partition's end offset);
        ``dead_letters`` go to the outbox (``projections.dead_letters``) in the same transaction,
        and so do ``source_state`` rows (``projections.source_state``) and the alert outbox's
        ``deliveries`` (``projections.alert_outbox.delivery_row``).
        """
        try:
            batch = self._batch(event_ids, tracking, ledger, watermark, counters, meta)
            batch.policy_version = self.version
            batch.dead_letters = [letter.row() for letter in dead_letters]
            batch.source_state = list(source_state)
            batch.deliveries = list(deliveries)
            for ticket in tickets:
                if snapshots is not None and ticket.ticket_id in snapshots:
                    self._rows(ticket, batch, snapshot=snapshots[ticket.ticket_id])
                else:
                    self._rows(ticket, batch)
            # Rows in key order: each B-tree page is then visited once per batch, not per row.
            batch.event_ids.sort()
            batch.tickets.sort(key=itemgetter(0))
            batch.clocks.sort(key=itemgetter(0, 1))
            batch.cycles.sort(key=itemgetter(0, 1))
            by_key = sorted(tickets, key=lambda t: t.id.hex)
            events = [event for ticket in by_key for event in ticket.collect_events()]
            self.app.events.put(events, batch=batch)
        except Exception:
            # Whatever failed (a read of the watermark, building rows, the write), the cached
            # tickets may hold events that were not stored: forget them all.
            self.forget_cached_tickets()
            self.positions.remember(None)
            raise
        cache = self.app.repository.cache
        if cache is not None:
            for ticket in tickets:
                cache.put(ticket.id, ticket)

    def _batch(
        self,
        event_ids: Sequence[tuple[str, str]],
        tracking: Sequence[Tracking],
        ledger: Sequence[LedgerEntry],
        watermark: int | None,
        counters: Mapping[tuple[str, str], int] | None,
        entries: Mapping[str, str] | None,
    ) -> Batch:
        """A save's batch without its tickets' rows; sets the new watermark."""
        items = sorted((entries or {}).items())
        if watermark is not None:
            reached = max(self.watermark() or watermark, watermark)
            self.positions.remember(reached)
            items.insert(0, (WATERMARK, str(reached)))
        return Batch(
            event_ids=list(event_ids),
            tracking=list(tracking),
            ledger=[entry.row() for entry in ledger],
            meta=items,
            counters=[(name, label, n) for (name, label), n in (counters or {}).items() if n],
        )

    def forget_cached_tickets(self) -> None:
        """Empty the cache of ticket aggregates (after a failed save, or when a consumer's
        partitions change): the next read of a ticket folds it from the store. Empties
        eventsourcing's LRU cache whole, its dict, its recency list and its "full" flag (its
        own ``clear()`` resets only the list; a dict emptied alone makes the next eviction
        fail with a KeyError)."""
        cache: Any = self.app.repository.cache
        if cache is None:
            return
        with cache.lock:
            cache.cache.clear()
            cache.clear()
            cache.full = False

    def rows_for(self, tickets: Iterable[Ticket], policy: Policy | None = None) -> Batch:
        """The read-model rows of ``tickets`` (under ``policy``, default the store's)."""
        batch = Batch()
        for ticket in tickets:
            self._rows(ticket, batch, policy or self.policy)
        return batch

    def rows_kept(self, kept: Mapping[str, Kept]) -> Batch:
        """The rows of resolved tickets evaluated under the store's policy from what their
        rows keep (``projections.clock_inputs``): every clock row, and the ticket row only
        if its contract, plan or priority moved (its other columns follow from the facts
        alone, as do its work logs: no policy moves them)."""
        batch, watermark = Batch(), self.watermark() or 0
        for ticket_id, (facts, recorded, blob, stored_terms) in kept.items():
            snapshot = evaluate(ticket_id, facts, self.policy)
            if snapshot is None:
                continue
            if stored_terms != terms(snapshot):
                batch.tickets.append(created_ticket_row(snapshot, recorded, blob))
            add_clock_rows(batch, snapshot, watermark)
        return batch

    def _rows(
        self,
        ticket: Ticket,
        batch: Batch,
        policy: Policy | None = None,
        snapshot: TicketSnapshot | object | None = _EVALUATE,
    ) -> None:
        if snapshot is _EVALUATE:
            snapshot = evaluate(ticket.ticket_id, ticket.facts, policy or self.policy)
        assert snapshot is None or isinstance(snapshot, TicketSnapshot)
        add_rows(batch, ticket, snapshot, self.watermark() or 0)

    # ----------------------------------------------------------------- reading
    def ticket_ids(self) -> list[str]:
        """Every ticket id the store knows (pending ones included), sorted."""
        rows = self.query("SELECT ticket_id FROM {p}sla_tickets ORDER BY ticket_id")
        return [row["ticket_id"] for row in rows]

    def ticket_customer(self, ticket_id: str) -> str | None:
        """The customer of a created ticket (None: unknown or pending), from its row."""
        rows = self.query("SELECT customer_id FROM {p}sla_tickets WHERE ticket_id = ?", [ticket_id])
        return rows[0]["customer_id"] if rows else None

    def load_ticket(self, ticket_id: str) -> Ticket | None:
        return self.get_tickets([ticket_id]).get(ticket_id)

    def policy_version(self) -> str | None:
        """The policy version the read model was computed with (None: empty store)."""
        with self.read() as cursor:
            return read_meta(cursor, self.dialect, [POLICY_VERSION]).get(POLICY_VERSION)

    def counters(self) -> dict[tuple[str, str], int]:
        """Running totals kept with the batches: events by outcome, rejections by field,
        alerts by kind (for operators' metrics)."""
        rows = self.query("SELECT name, label, n FROM {p}sla_counters")
        return {(row["name"], row["label"]): int(row["n"]) for row in rows}

    # ------------------------------------- doors to positions and the ledger
    def watermark(self) -> int | None:
        return self.positions.watermark()

    def tickets_due(self, watermark: int) -> list[str]:
        return self.positions.tickets_due(watermark)

    def next_alert_at(self, watermark: int) -> int | None:
        return self.positions.next_alert_at(watermark)

    def partition_lags(self) -> list[PartitionLag]:
        return self.positions.partition_lags()

    def closed_months(self) -> set[str]:
        return self.ledger.closed_months()

    def closed_statement(self, month: str) -> tuple[str, int] | None:
        return self.ledger.closed_statement(month)

    def close_month(self, month: str, freeze: Callable[[], str], closed_at: int) -> bool:
        return self.ledger.close_month(month, freeze, closed_at)

    def open_credits(self, ticket_ids: Sequence[str]) -> dict[str, dict[tuple[str, int], Any]]:
        return self.ledger.open_credits(ticket_ids)

    def ledger_entries(
        self, posted_month: str | None = None, customer: str | None = None
    ) -> list[LedgerEntry]:
        return self.ledger.entries(posted_month, customer)


def _replay(ticket: Ticket | None, events: Iterable[Any]) -> Ticket | None:
    """Rebuild a ticket from its stored events (the library's projector, minus a costly
    runtime-protocol check per event on Python 3.11)."""
    for event in events:
        ticket = event.mutate(ticket)
    return ticket
