"""The ingest pipeline: raw events in, accepted facts stored, everything counted.

Per batch: decode and validate every event, drop duplicates (``event_id`` seen before, in
this batch or in the store), apply the rest to their Ticket aggregates in arrival order, then
store all changed tickets with their read-model rows in one transaction. Rejections go to
the dead-letter sink only after that transaction, so a failed batch leaves nothing behind.
Given an ``outbox`` (the Kafka consumer), they are also stored in that transaction
(``projections.dead_letters``), so that a crash right after it cannot lose them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from eventsourcing.persistence import Tracking

from slaclock.consumers.alert_sink import AlertSink
from slaclock.consumers.dead_letter import DeadLetterSink
from slaclock.consumers.events import Decoded, DecodedFact, Rejection, decode
from slaclock.consumers.ingest_records import (
    AlertMove,
    IngestStats,
    Prepared,
    counters,
    escalation_deliveries,
    fact_json,
)
from slaclock.consumers.sources import RawEvent
from slaclock.domain.alerts import BREACH, Alert, alerts_due, wall_watermark
from slaclock.domain.clocks import TicketSnapshot, evaluate
from slaclock.domain.facts import CREATED, Fact
from slaclock.domain.policy import Policy
from slaclock.domain.ticket import Ticket
from slaclock.projections.dead_letters import DeadLetter
from slaclock.projections.ledger import LedgerEntry, post
from slaclock.projections.store import TicketStore


class Ingestor:
    """Feeds raw events into the store in batches; owns deduplication and dead-lettering."""

    def __init__(
        self,
        store: TicketStore,
        policy: Policy,
        dead_letter: DeadLetterSink,
        *,
        batch_size: int = 50_000,
        clock: str = "wall",
        alert_sink: AlertSink | None = None,
        policy_version: str | None = None,
        owns: Callable[[str], bool] | None = None,
        max_due: int = 20_000,
        outbox: Callable[[Sequence[Rejection]], list[DeadLetter]] | None = None,
        on_deliveries: Callable[[], None] | None = None,
    ) -> None:
        """``clock``: ``"wall"`` (live: alerts fall due by wall-clock time) or ``"event"``
        (replays and backfills: by the latest event time seen, so replays are repeatable).
        ``owns``: which tickets this ingestor may raise time-driven alerts for (default all);
        a Kafka consumer owns the tickets of its partitions, so that each ticket keeps one
        writer when several consumers share a store. ``max_due``: at most this many tickets
        whose alerts time alone made due are loaded per batch (the earliest due first; the
        rest follow with the next batches, see ``due_left``), so that memory stays bounded
        when a jump of the clock makes many fall due at once (a restart after a weekend).
        ``outbox``: turns a batch's rejections (in batch order) into dead letters stored
        with the batch, in its transaction. ``on_deliveries``: called after a batch (or
        tick) that wrote alert outbox rows committed (to wake a delivery thread)."""
        if clock not in ("wall", "event"):
            raise ValueError(f"clock: {clock!r} is not one of ['wall', 'event']")
        self.store = store
        self.policy = policy
        self.dead_letter = dead_letter
        self.batch_size = batch_size
        self.clock = clock
        self.alert_sink = alert_sink
        self.policy_version = policy_version
        self.owns = owns
        self.max_due = max_due
        self.outbox = outbox
        self.on_deliveries = on_deliveries
        self.due_left = 0  # tickets with due alerts that the last batch left for the next
        self.watermark: int | None = None  # the last batch's (stored or not: nothing changed)
        self.stats = IngestStats()
        self._waiting: dict[str, int] = {}

    def run(
        self, events: Iterable[RawEvent], progress: Callable[[int], None] | None = None
    ) -> IngestStats:
        iterator = iter(events)
        while batch := list(islice(iterator, self.batch_size)):
            self.process(batch)
            if progress:
                progress(len(batch))
        return self.stats

    def run_decoded(
        self, batches: Iterable[Decoded], progress: Callable[[int], None] | None = None
    ) -> IngestStats:
        """Like :meth:`run`, for batches another process read and validated with
        :func:`decode` (see ``consumers.decode_worker``)."""
        for batch in batches:
            self.stats.read += batch.read
            self.process_decoded(batch.facts, batch.rejected)
            if progress:
                progress(batch.read)
        return self.stats

    def _advance(self, now: datetime, accepted: Sequence[Fact]) -> int:
        """The watermark after this batch: wall-clock time, or the latest event time seen."""
        if self.clock == "wall":
            return wall_watermark(now.timestamp())
        latest = max((f.at for f in accepted), default=None)
        stored = self.store.watermark()
        candidates = [t for t in (latest, stored) if t is not None]
        return max(candidates) if candidates else 0

    def _alerts(
        self,
        tickets: dict[str, Ticket],
        changed: dict[str, Ticket],
        watermark: int,
        recorded_at: datetime,
    ) -> tuple[dict[str, TicketSnapshot | None], list[LedgerEntry], list[AlertMove]]:
        """Raise the alerts now due and withdraw stale ones, on changed tickets and on tickets
        whose next alert the watermark passed; post their credits and reversals."""
        due = [t for t in self.store.tickets_due(watermark) if t not in tickets]
        if self.owns is not None:
            due = [t for t in due if self.owns(t)]
        self.due_left = max(0, len(due) - self.max_due)
        due = due[: self.max_due]
        tickets.update(self.store.get_tickets(due))
        snapshots: dict[str, TicketSnapshot | None] = {}
        moved: list[tuple[str, list[Alert], list[Alert]]] = []
        for ticket_id in sorted(set(changed) | set(due)):
            ticket = tickets[ticket_id]
            snapshot = evaluate(ticket_id, ticket.facts, self.policy)
            snapshots[ticket_id] = snapshot
            now_due = alerts_due(snapshot, watermark) if snapshot else set()
            raised, withdrawn = ticket.reconcile_alerts(now_due, recorded_at)
            if raised or withdrawn:
                changed[ticket_id] = ticket
                moved.append((ticket_id, raised, withdrawn))
        if not moved:
            return snapshots, [], []
        reversing = [t for t, _, w in moved if any(a.kind == BREACH for a in w)]
        credits = self.store.open_credits(reversing) if reversing else {}
        closed = self.store.closed_months()
        ledger: list[LedgerEntry] = []
        published: list[AlertMove] = []
        posted_at = int(recorded_at.timestamp())
        for ticket_id, raised, withdrawn in moved:
            snapshot = snapshots[ticket_id]
            ledger += post(
                ticket_id,
                tickets[ticket_id].version,
                snapshot,
                raised,
                withdrawn,
                credits.get(ticket_id, {}),
                closed,
                posted_at,
                self.policy_version,
            )
            if snapshot is not None:
                published += [AlertMove(ticket_id, snapshot, a, "withdrawn") for a in withdrawn]
                published += [AlertMove(ticket_id, snapshot, a, "raised") for a in raised]
        return snapshots, ledger, published

    def process(
        self,
        batch: Sequence[RawEvent],
        tracking: Sequence[Tracking] = (),
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Validate, deduplicate, apply and store one batch (one transaction), with the
        source's positions (``tracking``) and facts about the source (``meta``)."""
        decoded = decode(batch, self.policy)
        self.stats.read += decoded.read
        self.process_decoded(decoded.facts, decoded.rejected, tracking, meta)

    def process_decoded(
        self,
        decoded: list[DecodedFact],
        rejected: list[Rejection],
        tracking: Sequence[Tracking] = (),
        meta: Mapping[str, str] | None = None,
        source_state: Sequence[tuple[str, str, str, str | None]] = (),
    ) -> None:
        """Deduplicate, apply and store one validated batch (one transaction), with the rows
        source translation keeps (``source_state``, see ``consumers.source_intake``)."""
        prepared = self.prepare(decoded, rejected, tracking, meta, source_state)
        self.save(prepared)
        self.finish(prepared)

    # The three steps of a batch, apart so that a caller can save one batch on another
    # thread while it reads the next (the Kafka consumer does): ``prepare`` reads the store
    # and must see every earlier batch saved; ``save`` is the transaction; ``finish`` counts
    # and sends alerts and dead letters once the transaction committed. Between a failed
    # ``save`` and the next ``prepare`` the store's cached tickets are forgotten (``save``
    # does it), so nothing of the failed batch survives.

    def prepare(
        self,
        decoded: list[DecodedFact],
        rejected: list[Rejection],
        tracking: Sequence[Tracking] = (),
        meta: Mapping[str, str] | None = None,
        source_state: Sequence[tuple[str, str, str, str | None]] = (),
    ) -> Prepared:
        """Deduplicate and apply one validated batch to its tickets (in memory).

        If reading the store fails half-way, the cached tickets already changed are
        forgotten, so that a retry starts from the stored state and loses nothing."""
        try:
            prepared = self._prepare(decoded, rejected, tracking, meta)
            prepared.source_state = list(source_state)
            return prepared
        except BaseException:
            self.store.forget_cached_tickets()
            raise

    def _prepare(
        self,
        decoded: list[DecodedFact],
        rejected: list[Rejection],
        tracking: Sequence[Tracking],
        meta: Mapping[str, str] | None,
    ) -> Prepared:
        recorded_at = datetime.now(UTC)
        offered, copies, duplicates = self._offered(decoded)
        tickets = self.store.get_tickets(offered)
        applied = _Applied(duplicates=duplicates)
        for ticket_id, items in offered.items():
            rejected += _apply(applied, tickets, ticket_id, items, copies, recorded_at)
        watermark = self.watermark = self._advance(recorded_at, applied.accepted)
        snapshots, ledger, alerts = self._alerts(tickets, applied.changed, watermark, recorded_at)
        counts = counters(
            accepted=len(applied.event_ids),
            duplicates=applied.duplicates,
            rejected=[reason for _, _, reason, _, _ in rejected],
            alerts=alerts,
        )
        in_order = sorted(rejected, key=lambda r: r[0])
        dead_letters = self.outbox(in_order) if self.outbox is not None and rejected else []
        return Prepared(
            tickets=list(applied.changed.values()),
            event_ids=applied.event_ids,
            tracking=list(tracking),
            snapshots=snapshots,
            ledger=ledger,
            watermark=watermark,
            counters=counts,
            meta=dict(meta or {}),
            duplicates=applied.duplicates,
            alerts=alerts,
            rejected=rejected,
            voided=applied.voided,
            waiting=applied.waiting,
            dead_letters=dead_letters,
            deliveries=escalation_deliveries(alerts, recorded_at.timestamp()) if alerts else [],
        )

    def _offered(self, decoded: list[DecodedFact]) -> tuple[_Offered, _Copies, int]:
        """The batch's new facts grouped by ticket in arrival order, the later copies of
        each event id, and how many facts the store already holds. A repeated event id in
        the batch is a copy of its first occurrence and shares its fate (duplicate if
        accepted, else rejected)."""
        known = self.store.known_event_ids([fact.event_id for _, _, _, fact in decoded])
        offered: _Offered = {}
        copies: _Copies = {}
        duplicates = 0
        for index, raw, ticket_id, fact in decoded:
            if fact.event_id in known:
                duplicates += 1
            elif fact.event_id in copies:
                copies[fact.event_id].append((index, raw))
            else:
                copies[fact.event_id] = []
                offered.setdefault(ticket_id, []).append((index, raw, fact))
        return offered, copies, duplicates

    def save(self, prepared: Prepared) -> None:
        """Store a prepared batch in one transaction (nothing else: safe on another thread
        while the caller reads from its source). If it fails, the tickets the batch changed
        in the cache are forgotten, whatever failed, so that the retry starts from the
        stored state (a cached ticket still holding the batch's unsaved events would record
        them twice)."""
        p = prepared
        if not (p.tickets or p.tracking or p.source_state or any(p.counters.values())):
            # (a batch with deliveries raised alerts, so it has tickets and counts)
            return
        try:
            self.store.save(
                p.tickets,
                p.event_ids,
                p.tracking,
                snapshots=p.snapshots,
                ledger=p.ledger,
                watermark=p.watermark,
                counters=p.counters,
                meta=p.meta,
                dead_letters=p.dead_letters,
                source_state=p.source_state,
                deliveries=p.deliveries,
            )
        except BaseException:
            self.store.forget_cached_tickets()
            raise

    def finish(self, prepared: Prepared) -> None:
        """After the transaction: count, publish the alerts, send the dead letters."""
        p = prepared
        self.stats.accepted += len(p.event_ids)
        self.stats.duplicates += p.duplicates
        self.stats.alerts += len(p.alerts)
        if p.deliveries and self.on_deliveries is not None:
            self.on_deliveries()
        if self.alert_sink is not None:
            for move in p.alerts:
                self.alert_sink.send(move.record())
            self.alert_sink.flush()
        self.stats.rejected += len(p.rejected) - p.voided
        self.stats.voided += p.voided
        for ticket_id, added in p.waiting.items():
            if added:
                self._waiting[ticket_id] = self._waiting.get(ticket_id, 0) + added
            else:
                self._waiting.pop(ticket_id, None)
        self.stats.pending = sum(self._waiting.values())
        for _, source, reason, text, raw_bytes in sorted(p.rejected, key=lambda r: r[0]):
            self.dead_letter.send(source, reason, text, raw_bytes=raw_bytes)
        self.dead_letter.flush()


_Offered = dict[str, list[tuple[int, RawEvent, Fact]]]
"""A batch's new facts by ticket, in arrival order, with their index and event as received."""
_Copies = dict[str, list[tuple[int, RawEvent]]]
"""Later occurrences of each event id in the batch (index, event as received)."""


@dataclass
class _Applied:
    """What applying a batch to its tickets did so far (see :func:`_apply`)."""

    duplicates: int
    changed: dict[str, Ticket] = field(default_factory=dict)
    event_ids: list[tuple[str, str]] = field(default_factory=list)
    accepted: list[Fact] = field(default_factory=list)
    voided: int = 0
    waiting: dict[str, int] = field(default_factory=dict)
    """ticket -> facts it added while pending (0: created)."""


def _apply(
    applied: _Applied,
    tickets: dict[str, Ticket],
    ticket_id: str,
    items: list[tuple[int, RawEvent, Fact]],
    copies: _Copies,
    recorded_at: datetime,
) -> list[Rejection]:
    """Apply one ticket's new facts (registering it if new) and note the outcome in
    ``applied``; the rejections, with those of the events' copies and of pending events
    a late creation voided."""
    facts = [fact for _, _, fact in items]
    ticket = tickets.get(ticket_id)
    if ticket is None:
        ticket, outcome = Ticket.register(ticket_id, facts, recorded_at)
        tickets[ticket_id] = ticket
    else:
        outcome = ticket.record(facts, recorded_at)
    rejected: list[Rejection] = []
    if outcome.rejected:
        where = {fact.event_id: (index, raw) for index, raw, fact in items}
        for fact, reason in outcome.rejected:
            for index, raw in [where[fact.event_id], *copies[fact.event_id]]:
                rejected.append((index, raw.source, reason, raw.text(), raw.raw_bytes))
    if not outcome.accepted:
        return rejected
    for fact in outcome.accepted:
        applied.duplicates += len(copies[fact.event_id])
        applied.event_ids.append((fact.event_id, ticket_id))
    applied.accepted += outcome.accepted
    applied.changed[ticket_id] = ticket
    if outcome.voided:
        creation = next(i for i, _, f in items if f.type == CREATED)
        source = f"ticket {ticket_id} (stored event)"
        for pending, why in outcome.voided:
            applied.voided += 1
            rejected.append((creation, source, why, fact_json(ticket_id, pending), None))
    applied.waiting[ticket_id] = 0 if ticket.created else len(outcome.accepted)
    return rejected
