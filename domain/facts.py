"""Accepted ticket lifecycle events, as the clock rules see them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from operator import attrgetter

CREATED = "ticket.created"
ACKNOWLEDGED = "ticket.acknowledged"
INTERVENTION_STARTED = "ticket.intervention_started"
REPRIORITISED = "ticket.reprioritised"
PAUSED = "ticket.paused"
RESUMED = "ticket.resumed"
RESOLVED = "ticket.resolved"
REOPENED = "ticket.reopened"
WORK_LOGGED = "ticket.work_logged"
CUSTOMER_REPLIED = "ticket.customer_replied"
AGENT_REPLIED = "ticket.agent_replied"
ASSIGNED = "ticket.assigned"

EVENT_TYPES: tuple[str, ...] = (
    CREATED,
    ACKNOWLEDGED,
    INTERVENTION_STARTED,
    REPRIORITISED,
    PAUSED,
    RESUMED,
    RESOLVED,
    REOPENED,
    WORK_LOGGED,
    CUSTOMER_REPLIED,
    AGENT_REPLIED,
    ASSIGNED,
)

DETAIL_FIELDS: tuple[str, ...] = ("reason", "channel", "actor", "source", "minutes", "mode")
"""Fields that never change a clock: audit details, and a work log's minutes and mode
(kept as text; the hour account reads them)."""


def epoch(instant: datetime) -> int:
    """Whole UTC epoch seconds of an aware instant (clock arithmetic works at 1 s resolution)."""
    if instant.tzinfo is None:
        raise ValueError(f"{instant.isoformat()} has no UTC offset")
    return math.floor(instant.timestamp())


class Fact:
    """One accepted event of one ticket. ``at`` is ``occurred_at`` in epoch seconds;
    ``recorded_at`` is when the engine stored it (None before it is stored).

    A plain slotted class rather than a dataclass: the engine builds one per event on every
    replay, and this keeps that cheap. Treat instances as immutable. ``occurred_at_text`` is
    ``occurred_at.isoformat()`` when the caller already has it (a decoding process sends it):
    the stored event needs that text, and a conversion costs more than the rest of a fact.
    """

    __slots__ = (
        "at",
        "customer_id",
        "details",
        "event_id",
        "group",
        "occurred_at",
        "occurred_at_text",
        "priority",
        "recorded_at",
        "type",
    )

    def __init__(
        self,
        event_id: str,
        type: str,
        occurred_at: datetime,
        customer_id: str | None = None,
        priority: int | None = None,
        details: Mapping[str, str] | None = None,
        recorded_at: int | None = None,
        *,
        at: int | None = None,
        occurred_at_text: str | None = None,
        group: str | None = None,
    ) -> None:
        """``at`` and ``occurred_at_text``, when given, must be ``epoch(occurred_at)`` and
        ``occurred_at.isoformat()`` (computed already by whoever parsed the event).
        ``group``: the group a ``ticket.assigned`` (or a ``ticket.created``) hands the
        ticket to; None for every other event."""
        self.event_id = event_id
        self.type = type
        self.occurred_at = occurred_at
        self.customer_id = customer_id
        self.priority = priority
        self.details: Mapping[str, str] = details or {}
        self.at = epoch(occurred_at) if at is None else at
        self.occurred_at_text = occurred_at_text
        self.group = group
        self.recorded_at = recorded_at  # when the engine stored it (epoch s), for known-at

    def __repr__(self) -> str:
        return f"Fact({self.type} {self.event_id} at {self.occurred_at.isoformat()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fact) and all(
            getattr(self, k) == getattr(other, k) for k in _COMPARED
        )

    __hash__ = None  # type: ignore[assignment]


_COMPARED = tuple(k for k in Fact.__slots__ if k not in ("recorded_at", "occurred_at_text"))
"""What makes two facts equal: not when they were stored, nor a cached text of a field."""


def in_order(facts: list[Fact]) -> list[Fact]:
    """Facts ordered by ``occurred_at``; ties keep arrival order (``sorted`` is stable)."""
    return sorted(facts, key=_OCCURRED_AT)


_OCCURRED_AT = attrgetter("occurred_at")
