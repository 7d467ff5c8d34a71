"""Time-driven SLA events: warnings before a deadline and the breach itself.

A clock can breach with no ticket event at all: its deadline just passes. Which alerts are
due is a pure function of the clock and a *watermark* (the time the engine has reached:
wall-clock in live operation, the stream's event time in replays), so a replay with the same
input produces the same alerts. When late facts change a clock, alerts that are no longer due
are withdrawn by a correcting event rather than forgotten.

Escalation levels (``[[plans.NAME.escalations]]``) are alerts of kind ``escalation`` whose
``percent`` is the level: they are raised, withdrawn and kept exactly like warnings. Each
raised or withdrawn escalation has a stable id (:func:`alert_id`) that its deliveries carry.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from slaclock.domain.clocks import ClockSnapshot, TicketSnapshot

BREACH = "breach"
WARNING = "warning"
ESCALATION = "escalation"
RAISED = "raised"
WITHDRAWN = "withdrawn"


@dataclass(order=True, slots=True, unsafe_hash=True)
class Alert:
    """``kind`` of ``metric`` reached at ``at`` (``percent`` of the target; 100 = breach; the
    level for an escalation); ``cycle``: which cycle of a cycle metric (its number from 0),
    None for a clock.

    A value (hashed, kept in sets): never assign to one. Not ``frozen``: every evaluation of
    a ticket builds its due alerts, and a frozen dataclass costs several times as much to
    build (as for ``ClockSnapshot``)."""

    metric: str
    kind: str
    percent: int
    at: int
    cycle: int | None = None

    @property
    def key(self) -> tuple[str, str, int] | tuple[str, str, int, int]:
        if self.cycle is None:
            return (self.metric, self.kind, self.percent)
        return (self.metric, self.kind, self.percent, self.cycle)


def clock_alerts(clock: ClockSnapshot) -> list[Alert]:
    """Every alert this clock has or will have if nothing changes (future ones included)."""
    alerts = [Alert(clock.metric, WARNING, pct, at) for pct, at in clock.warnings]
    if clock.breach_at is not None:
        alerts.append(Alert(clock.metric, BREACH, 100, clock.breach_at))
    alerts += [Alert(clock.metric, ESCALATION, level, at) for level, at in clock.escalations]
    return alerts


def wall_watermark(now: float) -> int:
    """The watermark live operation (``--clock wall``) has reached at ``now`` (epoch seconds):
    the last whole second begun. Facts are whole seconds (floored), and a clock stopped in
    its deadline's second meets it, so an alert at ``S`` is only certain once second ``S``
    is over: ``S < wall_watermark(now)`` exactly when ``now >= falls_due_at(S)``."""
    return math.floor(now)


def falls_due_at(at: int) -> int:
    """The first wall-clock instant whose watermark raises an alert at ``at`` (epoch
    seconds): when second ``at`` is over (see :func:`wall_watermark`)."""
    return at + 1


def alerts_due(snapshot: TicketSnapshot, watermark: int) -> set[Alert]:
    """The alerts whose instant the watermark has passed (those of :func:`clock_alerts`,
    filtered before they are built: this runs for every evaluated ticket)."""
    due = set()
    for clock in snapshot.clocks.values():
        for percent, at in clock.warnings:
            if at < watermark:
                due.add(Alert(clock.metric, WARNING, percent, at))
        breach_at = clock.breach_at
        if breach_at is not None and breach_at < watermark:
            due.add(Alert(clock.metric, BREACH, 100, breach_at))
        for level, at in clock.escalations:
            if at < watermark:
                due.add(Alert(clock.metric, ESCALATION, level, at))
    if snapshot.cycles:
        for cycles in snapshot.cycles.values():
            for number, cycle in enumerate(cycles):
                for percent, at in cycle.warnings:
                    if at < watermark:
                        due.add(Alert(cycle.metric, WARNING, percent, at, number))
                if cycle.breach_at is not None and cycle.breach_at < watermark:
                    due.add(Alert(cycle.metric, BREACH, 100, cycle.breach_at, number))
                for level, at in cycle.escalations:
                    if at < watermark:
                        due.add(Alert(cycle.metric, ESCALATION, level, at, number))
    return due


def next_alert_at(clock: ClockSnapshot, watermark: int) -> int | None:
    """When this clock's next alert falls due (None: nothing pending): the first instant
    of :func:`clock_alerts` at or after the watermark (without building the alerts: this
    runs for every clock row written)."""
    future = [at for _, at in clock.warnings if at >= watermark]
    if clock.breach_at is not None and clock.breach_at >= watermark:
        future.append(clock.breach_at)
    future += [at for _, at in clock.escalations if at >= watermark]
    return min(future, default=None)


def alert_id(ticket_id: str, alert: Alert, state: str) -> str:
    """The id of one raised or withdrawn alert: the same for the same ticket, clock (metric
    and the alert's cycle: 0 for a metric with one clock), kind, level and instant, so that a replay
    or a redelivery names it alike and a receiver can drop copies by it. 32 hex digits (a
    BLAKE2b digest: cheap enough for a backfill raising thousands a second)."""
    cycle = alert.cycle or 0
    name = (
        f"{ticket_id}\n{alert.metric}\n{cycle}\n{alert.kind}\n{alert.percent}\n{alert.at}\n{state}"
    )
    return hashlib.blake2b(name.encode(), digest_size=16).hexdigest()
