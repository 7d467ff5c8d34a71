"""Accepted ticket lifecycle events, as the clock rules see them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

CREATED = "ticket.created"
ACKNOWLEDGED = "ticket.acknowledged"
INTERVENTION_STARTED = "ticket.intervention_started"
REPRIORITISED = "ticket.reprioritised"
PAUSED = "ticket.paused"
RESUMED = "ticket.resumed"
RESOLVED = "ticket.resolved"
REOPENED = "ticket.reopened"

EVENT_TYPES: tuple[str, ...] = (
    CREATED,
    ACKNOWLEDGED,
    INTERVENTION_STARTED,
    REPRIORITISED,
    PAUSED,
    RESUMED,
    RESOLVED,
    REOPENED,
)

DETAIL_FIELDS: tuple[str, ...] = ("reason", "channel", "actor", "source")
"""Fields kept for audit only: they never change a clock."""

def epoch(instant: datetime) -> int:
    """Whole UTC epoch seconds of an aware instant (clock arithmetic works at 1 s resolution)."""
    if instant.tzinfo is None:
        raise ValueError(f"{instant.isoformat()} has no UTC offset")
    return math.floor(instant.timestamp())


@dataclass(frozen=True, slots=True)
class Fact:
    """One accepted event of one ticket. ``at`` is ``occurred_at`` in epoch seconds."""

    event_id: str
    type: str
    occurred_at: datetime
    customer_id: str | None = None
    priority: int | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    at: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", epoch(self.occurred_at))


def in_order(facts: list[Fact]) -> list[Fact]:
    """Facts ordered by ``occurred_at``; ties keep arrival order (``sorted`` is stable)."""
    return sorted(facts, key=lambda f: f.occurred_at)
