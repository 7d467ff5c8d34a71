"""The Ticket aggregate: the accepted lifecycle events of one ticket, in arrival order.

It keeps facts, not clocks (``domain.clocks.evaluate`` derives those from the facts ordered by
``occurred_at``), so a late event is one more fact and arrival order never matters. Rules that
need the ticket's history live here: a second creation, an event before the creation, another
customer; events pending a late creation that break them are *voided*, kept for audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from hashlib import sha1
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from slaclock.domain.alerts import Alert
from slaclock.domain.facts import CREATED, Fact, epoch

_NAMESPACE = uuid5(NAMESPACE_URL, "https://slaclock.dev/ticket")
_NAMESPACE_BYTES = _NAMESPACE.bytes


@lru_cache(maxsize=65536)  # a name-based UUID costs a SHA-1; busy tickets recur
def ticket_uuid(ticket_id: str) -> UUID:
    """The aggregate id of a ticket: stable, so any consumer finds the same aggregate."""
    return uuid5(_NAMESPACE, ticket_id)


def ticket_uuid_hex(ticket_id: str) -> str:
    """``ticket_uuid(ticket_id).hex``, a third of the cost: a recompute names thousands of
    tickets once each, where a cache does not help (RFC 4122 version 5, as ``uuid5``)."""
    digest = bytearray(sha1(_NAMESPACE_BYTES + ticket_id.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()


@dataclass(frozen=True, slots=True)
class Voided:
    """A pending fact that its late ``ticket.created`` showed to be invalid, and when."""

    fact: Fact
    reason: str
    at: int


@dataclass
class Outcome:
    """What became of facts offered to a ticket: ``accepted`` (in arrival order),
    ``rejected`` (with the reason; never stored) and ``voided`` (earlier pending facts that a
    ``ticket.created`` among the accepted ones showed to be invalid, with the reason)."""

    accepted: list[Fact] = field(default_factory=list)
    rejected: list[tuple[Fact, str]] = field(default_factory=list)
    voided: list[tuple[Fact, str]] = field(default_factory=list)


_last_recorded: tuple[datetime | None, int] = (None, 0)


def _recorded_epoch(timestamp: datetime) -> int:
    """``epoch(timestamp)``, remembering the last one: a batch stamps all its events with the
    same ``recorded_at`` object, so this is computed once per batch instead of per event."""
    global _last_recorded
    last = _last_recorded  # one read: safe if another thread replaces it meanwhile
    if last[0] is not timestamp:
        last = _last_recorded = (timestamp, epoch(timestamp))
    return last[1]


def conflict(ticket_id: str, created: Fact | None, fact: Fact) -> str | None:
    """Why ``fact`` cannot join the history of a ticket created by ``created`` (None while
    the creation has not arrived: then every fact is pending and nothing conflicts yet)."""
    if created is None:
        return None
    if fact.type == CREATED and fact.event_id != created.event_id:
        return f"type: ticket {ticket_id} already has a ticket.created (event {created.event_id})"
    if fact.occurred_at < created.occurred_at:
        return (
            f"occurred_at: {fact.occurred_at.isoformat()} is before the ticket's "
            f"ticket.created at {created.occurred_at.isoformat()}"
        )
    if fact.customer_id is not None and fact.customer_id != created.customer_id:
        return (
            f"customer_id: {fact.customer_id!r} differs from the ticket's {created.customer_id!r}"
        )
    return None


def sort_out(ticket_id: str, history: Sequence[Fact], offered: Sequence[Fact]) -> Outcome:
    """Decide, in arrival order, which ``offered`` facts join a ticket whose current facts
    are ``history``: each is checked against the creation known at that point, and a
    creation that arrives late voids the pending facts that break its rules."""
    outcome = Outcome()
    facts = list(history)
    created = next((f for f in facts if f.type == CREATED), None)
    for fact in offered:
        reason = conflict(ticket_id, created, fact)
        if reason is not None:
            outcome.rejected.append((fact, reason))
            continue
        outcome.accepted.append(fact)
        if fact.type == CREATED:
            created = fact
            kept = []
            for pending in facts:
                why = conflict(ticket_id, created, pending)
                if why is None:
                    kept.append(pending)
                else:
                    outcome.voided.append((pending, why))
            facts = kept
        facts.append(fact)
    return outcome


class Ticket(Aggregate):
    """One support ticket as the engine knows it.

    Facts offered together (one ingest batch) are recorded by one event: ``Registered`` for
    a ticket's first facts, ``FactsRecorded`` after that; both also name the pending facts a
    late creation voided. ``AlertsReconciled`` records alerts raised and withdrawn. The
    event's timestamp is ``recorded_at`` (when the engine learnt the facts, for "what was
    known when" questions), always passed in by the caller: the domain never reads a clock.

    Stored events never change, so each event class carries the version of its stored shape
    (``class_version``; ``eventsourcing`` stores it with any event above version 1). Every
    shape ever stored is version 1. A change to an event's fields raises its version and adds
    a static ``upcast_vN_vM(state)`` on the class, which turns a stored version-N state dict
    into version M (e.g. sets a new field's default); the library applies the steps in turn
    when it reads an older event.
    """

    class Registered(Aggregate.Created):
        class_version = 1
        ticket_id: str
        facts: list[Fact]
        voided: dict[str, str]

        def apply(self, aggregate: Any) -> None:
            aggregate._record(self.facts, self.voided, self.timestamp)

    class FactsRecorded(Aggregate.Event):
        class_version = 1
        facts: list[Fact]
        voided: dict[str, str]  # event id -> reason

        def apply(self, aggregate: Any) -> None:
            aggregate._record(self.facts, self.voided, self.timestamp)

    class AlertsReconciled(Aggregate.Event):
        class_version = 1
        raised: list[Alert]
        withdrawn: list[Alert]  # no longer due: later facts changed the clock

        def apply(self, aggregate: Any) -> None:
            aggregate._reconcile(self.raised, self.withdrawn)

    def __init__(self, ticket_id: str) -> None:
        self.ticket_id = ticket_id
        self.facts: list[Fact] = []
        self.voided: dict[str, Voided] = {}
        self.alerts: dict[tuple[str, str, int] | tuple[str, str, int, int], Alert] = {}

    def _record(self, facts: list[Fact], voided: dict[str, str], timestamp: datetime) -> None:
        self._record_stamped(facts, voided, _recorded_epoch(timestamp))

    def _record_stamped(self, facts: list[Fact], voided: dict[str, str], stamp: int) -> None:
        """Record ``facts`` learnt at ``stamp`` (epoch s), voiding the ``voided`` ones."""
        for fact in facts:
            fact.recorded_at = stamp  # the one write to a fact: when the engine learnt it
        self.facts.extend(facts)
        if voided:
            by_id = {f.event_id: f for f in self.facts}
            for event_id, reason in voided.items():
                fact = by_id[event_id]
                self.facts.remove(fact)
                self.voided[event_id] = Voided(fact, reason, stamp)

    def _reconcile(self, raised: list[Alert], withdrawn: list[Alert]) -> None:
        for alert in withdrawn:
            self.alerts.pop(alert.key, None)
        for alert in raised:
            self.alerts[alert.key] = alert

    # ----------------------------------------------------------------- commands
    @classmethod
    def register(
        cls, ticket_id: str, facts: Sequence[Fact], recorded_at: datetime
    ) -> tuple[Ticket, Outcome]:
        """A new ticket aggregate from the first facts that name it (the first one is always
        accepted: nothing conflicts before the creation is known)."""
        outcome = sort_out(ticket_id, (), facts)
        ticket = cls._create(
            cls.Registered,
            id=ticket_uuid(ticket_id),
            ticket_id=ticket_id,
            facts=outcome.accepted,
            voided={f.event_id: why for f, why in outcome.voided},
            timestamp=recorded_at,
        )
        return ticket, outcome

    def record(self, facts: Sequence[Fact], recorded_at: datetime) -> Outcome:
        """Offer ``facts`` (in arrival order); the accepted ones are recorded by one event."""
        outcome = sort_out(self.ticket_id, self.facts, facts)
        if outcome.accepted:
            self.trigger_event(
                self.FactsRecorded,
                timestamp=recorded_at,
                facts=outcome.accepted,
                voided={f.event_id: why for f, why in outcome.voided},
            )
        return outcome

    def reconcile_alerts(
        self, due: set[Alert], recorded_at: datetime
    ) -> tuple[list[Alert], list[Alert]]:
        """Raise the alerts now due, withdraw those no longer due (late facts changed the
        clock). Returns (raised, withdrawn)."""
        by_key = {alert.key: alert for alert in due}
        withdrawn = [a for key, a in sorted(self.alerts.items()) if by_key.get(key) != a]
        raised = [a for key, a in sorted(by_key.items()) if self.alerts.get(key) != a]
        if raised or withdrawn:
            self.trigger_event(
                self.AlertsReconciled, timestamp=recorded_at, raised=raised, withdrawn=withdrawn
            )
        return raised, withdrawn

    # ------------------------------------------------------------------ queries
    def facts_known_at(self, known_at: int) -> list[Fact]:
        """The facts as the engine knew them at ``known_at`` (recorded by then, not yet
        voided then), in arrival order."""
        known = [f for f in self.facts if f.recorded_at is not None and f.recorded_at <= known_at]
        for v in self.voided.values():
            if v.fact.recorded_at is not None and v.fact.recorded_at <= known_at < v.at:
                known.append(v.fact)
        known.sort(key=lambda f: f.recorded_at or 0)  # stable: arrival order within a batch
        return known

    @property
    def last_recorded_at(self) -> int:
        """When the engine last learnt something about this ticket (epoch seconds)."""
        times = [f.recorded_at or 0 for f in self.facts]
        times += [v.at for v in self.voided.values()]
        return max(times, default=0)

    @property
    def created(self) -> Fact | None:
        return next((f for f in self.facts if f.type == CREATED), None)

    @property
    def customer_id(self) -> str | None:
        created = self.created
        return created.customer_id if created else None
