"""What the ingest pipeline hands on: a batch ready to store (:class:`Prepared`), the run's
counts (:class:`IngestStats`), and the records a batch writes beside its tickets (alerts
raised or withdrawn, counter increments, the JSON of a pending event a late creation voided).

Plain data and functions of their inputs, apart from ``consumers.ingest`` so that it reads
as steps.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from eventsourcing.persistence import Tracking

from slaclock.consumers.events import Rejection
from slaclock.domain.alerts import ESCALATION, Alert, alert_id
from slaclock.domain.clocks import ClockSnapshot, TicketSnapshot
from slaclock.domain.facts import Fact
from slaclock.domain.ticket import Ticket
from slaclock.projections.alert_outbox import delivery_row, payload_text
from slaclock.projections.dead_letters import DeadLetter
from slaclock.projections.ledger import LedgerEntry

EPOCH = date(1970, 1, 1)


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
    alerts: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class AlertMove(NamedTuple):
    """An alert a batch raised or withdrew (``state``), on the ticket's new snapshot. Turned
    into the published record (:meth:`record`) only when someone listens: a busy stream
    raises several alerts per ticket, and most ingests only count them."""

    ticket_id: str
    snapshot: TicketSnapshot
    alert: Alert
    state: str

    def record(self) -> dict[str, Any]:
        return alert_record(self.ticket_id, self.snapshot, self.alert, self.state)


@dataclass
class Prepared:
    """A batch applied to its tickets in memory, ready to store (see ``Ingestor.prepare``)."""

    tickets: list[Ticket]
    event_ids: list[tuple[str, str]]
    tracking: list[Tracking]
    snapshots: dict[str, TicketSnapshot | None]
    ledger: list[LedgerEntry]
    watermark: int
    counters: dict[tuple[str, str], int]
    meta: dict[str, str]
    duplicates: int
    alerts: list[AlertMove]
    rejected: list[Rejection]
    voided: int
    waiting: dict[str, int]
    dead_letters: list[DeadLetter] = field(default_factory=list)
    source_state: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    """Rows of what source translation keeps (``projections.source_state``), stored with it."""
    deliveries: list[tuple[Any, ...]] = field(default_factory=list)
    """The alert outbox's rows of the escalations the batch raised or withdrew."""


def counters(
    accepted: int, duplicates: int, rejected: list[str], alerts: list[AlertMove]
) -> dict[tuple[str, str], int]:
    """What one batch adds to the store's running totals (labels stay few: the field name of
    a rejection, the kind of an alert)."""
    counts: dict[tuple[str, str], int] = {
        ("events", "accepted"): accepted,
        ("events", "duplicate"): duplicates,
        ("events", "rejected"): len(rejected),
    }
    for reason in rejected:
        field = reason.split(":", 1)[0] if ":" in reason else "event"
        key = ("rejected", field if field.isidentifier() else "event")
        counts[key] = counts.get(key, 0) + 1
    for move in alerts:
        key = ("alerts", f"{move.state}:{move.alert.kind}")
        counts[key] = counts.get(key, 0) + 1
    return counts


def alert_record(
    ticket_id: str, snapshot: TicketSnapshot, alert: Alert, state: str
) -> dict[str, Any]:
    """An alert as published: who, which clock, what happened, deadline and time left (an
    escalation: its level instead of a percent and time left)."""
    clock = alerted_clock(snapshot, alert)
    record: dict[str, Any] = {
        "alert": state,
        "kind": alert.kind,
        "percent": alert.percent,
        "ticket_id": ticket_id,
        "customer_id": snapshot.customer_id,
        "metric": alert.metric,
        "priority": clock.priority,
        "at": _iso(alert.at),
        "deadline": _iso(clock.deadline),
    }
    if alert.kind == ESCALATION:  # ``percent`` is the level
        record["level"] = record.pop("percent")
    else:
        record["remaining_seconds"] = (clock.target_seconds or 0) * (100 - alert.percent) // 100
    if alert.cycle is not None:  # a cycle's alert: which one, and its group
        record["cycle"] = alert.cycle
        record["group"] = getattr(clock, "group", None)
    return record


def alerted_clock(snapshot: TicketSnapshot, alert: Alert) -> ClockSnapshot:
    """The clock (or the cycle, for a cycle's alert) ``alert`` is about."""
    if alert.cycle is None:
        return snapshot.clocks[alert.metric]
    return (snapshot.cycles or {})[alert.metric][alert.cycle]


def escalation_deliveries(moves: list[AlertMove], stored_at: float) -> list[tuple[Any, ...]]:
    """One outbox row per escalation among ``moves`` and notifier its level names (the
    payload built and encoded once per alert)."""
    rows = []
    for move in moves:
        alert, snapshot = move.alert, move.snapshot
        if alert.kind != ESCALATION or snapshot.plan is None:
            continue
        clock = alerted_clock(snapshot, alert)
        level = snapshot.plan.escalation(alert.percent, alert.metric, clock.priority)
        if level is None:  # the plan lost the level since it was raised: nobody to tell
            continue
        payload = _payload(move, clock)
        text, ticket_id = payload_text(payload), move.ticket_id
        rows += [delivery_row(payload["id"], n, ticket_id, text, stored_at) for n in level.notify]
    return rows


def escalation_payload(move: AlertMove) -> dict[str, Any]:
    """What a notifier is told of a raised or withdrawn escalation (docs/alerts.md)."""
    return _payload(move, alerted_clock(move.snapshot, move.alert))


def _payload(move: AlertMove, clock: ClockSnapshot) -> dict[str, Any]:
    alert, snapshot = move.alert, move.snapshot
    return {
        "id": alert_id(move.ticket_id, alert, move.state),
        "level": alert.percent,
        "kind": move.state,
        "ticket_id": move.ticket_id,
        "customer_id": snapshot.customer_id,
        "plan": snapshot.plan.name if snapshot.plan else None,
        "metric": alert.metric,
        "cycle": alert.cycle,
        "priority": clock.priority,
        "deadline": _iso(clock.deadline),
        "due_at": _iso(alert.at),
    }


def _iso(epoch_seconds: int | None) -> str | None:
    """``datetime.fromtimestamp(epoch_seconds, UTC).isoformat()`` of whole seconds, a
    third of its cost (a backfill formats two instants per alert)."""
    if epoch_seconds is None:
        return None
    day, second = divmod(epoch_seconds, 86400)
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return f"{_date(day)}T{hour:02d}:{minute:02d}:{second:02d}+00:00"


@lru_cache(maxsize=1024)
def _date(day: int) -> str:
    """The date of a day counted from the epoch, as ISO 8601."""
    return (EPOCH + timedelta(days=day)).isoformat()


def fact_json(ticket_id: str, fact: Fact) -> str:
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
    if fact.group is not None:
        record["group"] = fact.group
    record.update(fact.details)
    return json.dumps(record)
