"""The Ticket aggregate: the accepted lifecycle events of one ticket, in arrival order.

The aggregate keeps facts, not clocks: clocks are derived by ``domain.clocks.evaluate``
from the facts ordered by ``occurred_at``, so a late event is simply one more fact and the
outcome never depends on arrival order. A ticket exists as an aggregate from its first
accepted event; until its ``ticket.created`` arrives its events are *pending*.

Rules that need the ticket's history live here: a second ``ticket.created``, an event that
occurred before the creation, a customer that is not the ticket's. When the creation arrives
after other events, those pending events are checked against it and *voided* (with the
reason) if they break a rule: they stay in the history for audit but count for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import facts as F
from domain.alerts import Alert
from domain.facts import Fact, epoch

_NAMESPACE = uuid5(NAMESPACE_URL, "https://slaclock.dev/ticket")


def ticket_uuid(ticket_id: str) -> UUID:
    """The aggregate id of a ticket: stable, so any consumer finds the same aggregate."""
    return uuid5(_NAMESPACE, ticket_id)


@dataclass(frozen=True, slots=True)
class Voided:
    """A pending fact that its late ``ticket.created`` showed to be invalid, and when."""

    fact: Fact
    reason: str
    at: int


_last_recorded: tuple[datetime | None, int] = (None, 0)


def _recorded_epoch(timestamp: datetime) -> int:
    """``epoch(timestamp)``, remembering the last one: a batch stamps all its events with the
    same ``recorded_at`` object, so this is computed once per batch instead of per event."""
    global _last_recorded
    last = _last_recorded  # one read: safe if another thread replaces it meanwhile
    if last[0] is not timestamp:
        last = _last_recorded = (timestamp, epoch(timestamp))
    return last[1]


class Ticket(Aggregate):
    """One support ticket as the engine knows it.

    Its events are explicit classes (``Registered``, ``EventAccepted``, ``EventVoided``);
    ``recorded_at`` (when the engine learnt the fact, for "what was known when" questions)
    is always passed in by the caller: the domain never reads a clock.
    """

    class Registered(Aggregate.Created):
        ticket_id: str

    class EventAccepted(Aggregate.Event):
        event_id: str
        event_type: str
        occurred_at: str
        customer_id: str | None
        priority: int | None
        details: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate.facts.append(
                Fact(
                    event_id=self.event_id,
                    type=self.event_type,
                    occurred_at=datetime.fromisoformat(self.occurred_at),
                    customer_id=self.customer_id,
                    priority=self.priority,
                    details=self.details,
                    recorded_at=_recorded_epoch(self.timestamp),
                )
            )

    class EventVoided(Aggregate.Event):
        event_id: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            fact = next(f for f in aggregate.facts if f.event_id == self.event_id)
            aggregate.facts.remove(fact)
            aggregate.voided[self.event_id] = Voided(fact, self.reason, epoch(self.timestamp))

    class AlertRaised(Aggregate.Event):
        metric: str
        kind: str
        percent: int
        at: int

        def apply(self, aggregate: Any) -> None:
            alert = Alert(self.metric, self.kind, self.percent, self.at)
            aggregate.alerts[alert.key] = alert

    class AlertWithdrawn(Aggregate.Event):
        metric: str
        kind: str
        percent: int
        at: int
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.alerts.pop((self.metric, self.kind, self.percent), None)

    def __init__(self, ticket_id: str) -> None:
        self.ticket_id = ticket_id
        self.facts: list[Fact] = []
        self.voided: dict[str, Voided] = {}
        self.alerts: dict[tuple[str, str, int], Alert] = {}

    def reconcile_alerts(
        self, due: set[Alert], recorded_at: datetime
    ) -> tuple[list[Alert], list[Alert]]:
        """Raise the alerts now due, withdraw those no longer due (late facts changed the
        clock). Returns (raised, withdrawn)."""
        by_key = {alert.key: alert for alert in due}
        withdrawn = [a for key, a in sorted(self.alerts.items()) if by_key.get(key) != a]
        for alert in withdrawn:
            self.trigger_event(
                self.AlertWithdrawn,
                timestamp=recorded_at,
                metric=alert.metric,
                kind=alert.kind,
                percent=alert.percent,
                at=alert.at,
                reason="no longer due after later facts",
            )
        raised = [a for key, a in sorted(by_key.items()) if key not in self.alerts]
        for alert in raised:
            self.trigger_event(
                self.AlertRaised,
                timestamp=recorded_at,
                metric=alert.metric,
                kind=alert.kind,
                percent=alert.percent,
                at=alert.at,
            )
        return raised, withdrawn

    @classmethod
    def register(cls, ticket_id: str, recorded_at: datetime) -> Ticket:
        """A new ticket aggregate, from the first accepted event that names it."""
        return cls._create(
            cls.Registered, id=ticket_uuid(ticket_id), ticket_id=ticket_id, timestamp=recorded_at
        )

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
        return next((f for f in self.facts if f.type == F.CREATED), None)

    @property
    def customer_id(self) -> str | None:
        created = self.created
        return created.customer_id if created else None

    def conflict(self, fact: Fact) -> str | None:
        """Why ``fact`` cannot join this ticket's history, or None when it can."""
        created = self.created
        if created is None:
            return None
        if fact.type == F.CREATED and fact.event_id != created.event_id:
            return (
                f"type: ticket {self.ticket_id} already has a ticket.created "
                f"(event {created.event_id})"
            )
        if fact.occurred_at < created.occurred_at:
            return (
                f"occurred_at: {fact.occurred_at.isoformat()} is before the ticket's "
                f"ticket.created at {created.occurred_at.isoformat()}"
            )
        if fact.customer_id is not None and fact.customer_id != created.customer_id:
            return (
                f"customer_id: {fact.customer_id!r} differs from the ticket's "
                f"{created.customer_id!r}"
            )
        return None

    # ----------------------------------------------------------------- commands
    def accept(self, fact: Fact, recorded_at: datetime) -> list[tuple[Fact, str]]:
        """Record ``fact`` (the caller checked :meth:`conflict`).

        Returns the pending facts that a late ``ticket.created`` voided, with their reasons.
        """
        self.trigger_event(
            self.EventAccepted,
            timestamp=recorded_at,
            event_id=fact.event_id,
            event_type=fact.type,
            occurred_at=fact.occurred_at.isoformat(),
            customer_id=fact.customer_id,
            priority=fact.priority,
            details=dict(fact.details),
        )
        if fact.type != F.CREATED:
            return []
        voided = []
        for pending in self.facts[:-1]:
            reason = self.conflict(pending)
            if reason is not None:
                self.trigger_event(
                    self.EventVoided,
                    timestamp=recorded_at,
                    event_id=pending.event_id,
                    reason=reason,
                )
                voided.append((pending, reason))
        return voided
