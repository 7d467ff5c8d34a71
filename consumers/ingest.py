"""The ingest pipeline: raw events in, accepted facts stored, everything counted.

Per batch: decode and validate every event, drop duplicates (``event_id`` seen before, in
this batch or in the store), apply the rest to their Ticket aggregates in arrival order, then
store all changed tickets with their read-model rows in one transaction. Rejections go to
the dead-letter sink only after that transaction, so a failed batch leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from eventsourcing.persistence import Tracking

from consumers.dead_letter import DeadLetterSink
from consumers.events import Rejected, parse_json, to_fact
from consumers.sources import RawEvent
from domain.facts import Fact
from domain.policy import Policy
from domain.ticket import Ticket
from projections.store import TicketStore


@dataclass
class IngestStats:
    """Counts of one run. read = accepted + duplicates + rejected; ``pending`` counts the
    accepted events still waiting for their ``ticket.created``; ``voided`` counts earlier
    pending events that their late ``ticket.created`` showed to be invalid."""

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    pending: int = 0
    rejected: int = 0
    voided: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Ingestor:
    """Feeds raw events into the store in batches; owns deduplication and dead-lettering."""

    def __init__(
        self,
        store: TicketStore,
        policy: Policy,
        dead_letter: DeadLetterSink,
        *,
        batch_size: int = 2000,
    ) -> None:
        self.store = store
        self.policy = policy
        self.dead_letter = dead_letter
        self.batch_size = batch_size
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

    def process(self, batch: Sequence[RawEvent], tracking: Sequence[Tracking] = ()) -> None:
        """Validate, deduplicate, apply and store one batch (one transaction)."""
        rejected: list[tuple[int, str, str, str]] = []
        decoded: list[tuple[int, RawEvent, str, Fact]] = []
        for index, raw in enumerate(batch):
            self.stats.read += 1
            try:
                if raw.error is not None:
                    raise Rejected(raw.error)
                data = raw.data if raw.data is not None else parse_json(raw.raw)
                ticket_id, fact = to_fact(data, self.policy)
            except Rejected as exc:
                rejected.append((index, raw.source, exc.reason, raw.raw))
                continue
            decoded.append((index, raw, ticket_id, fact))

        recorded_at = datetime.now(UTC)
        known = self.store.known_event_ids([fact.event_id for _, _, _, fact in decoded])
        tickets = self.store.get_tickets({ticket_id for _, _, ticket_id, _ in decoded})
        changed: dict[str, Ticket] = {}
        event_ids: list[tuple[str, str]] = []
        accepted_per_ticket: dict[str, int] = {}
        voided = 0
        for index, raw, ticket_id, fact in decoded:
            if fact.event_id in known:
                self.stats.duplicates += 1
                continue
            ticket = tickets.get(ticket_id)
            reason = ticket.conflict(fact) if ticket else None
            if reason is not None:
                rejected.append((index, raw.source, reason, raw.raw))
                continue
            if ticket is None:
                ticket = tickets[ticket_id] = Ticket.register(ticket_id, recorded_at)
            for pending, why in ticket.accept(fact, recorded_at):
                voided += 1
                source = f"ticket {ticket_id} (stored event)"
                rejected.append((index, source, why, _fact_json(ticket_id, pending)))
            known.add(fact.event_id)
            changed[ticket_id] = ticket
            event_ids.append((fact.event_id, ticket_id))
            accepted_per_ticket[ticket_id] = accepted_per_ticket.get(ticket_id, 0) + 1

        if changed or tracking:
            self.store.save(list(changed.values()), event_ids, tracking)
        self.stats.accepted += len(event_ids)
        self.stats.rejected += len(rejected) - voided
        self.stats.voided += voided
        for ticket_id, ticket in changed.items():
            if ticket.created is None:
                waiting = self._waiting.get(ticket_id, 0)
                self._waiting[ticket_id] = waiting + accepted_per_ticket[ticket_id]
            else:
                self._waiting.pop(ticket_id, None)
        self.stats.pending = sum(self._waiting.values())
        for _, source, reason, text in sorted(rejected, key=lambda r: r[0]):
            self.dead_letter.send(source, reason, text)
        self.dead_letter.flush()


def _fact_json(ticket_id: str, fact: Fact) -> str:
    record: dict[str, Any] = {
        "event_id": fact.event_id,
        "type": fact.type,
        "ticket_id": ticket_id,
        "occurred_at": fact.occurred_at.isoformat(),
    }
    if fact.customer_id is not None:
        record["customer_id"] = fact.customer_id
    if fact.priority is not None:
        record["priority"] = fact.priority
    record.update(fact.details)
    return json.dumps(record)
