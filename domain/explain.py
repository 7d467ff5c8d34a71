"""Why a clock came out as it did: its timeline, stretch by stretch.

For each metric the ticket's time from creation to the stop (or ``as_of``) is cut into spans:
``counted`` business time, and the time that did not count with its reason — ``outside_hours``,
``weekend``, ``holiday`` (with the holiday's name), ``closed`` (an extra closed date),
``paused`` (with the pause reason), ``resolved``, ``stopped``, or ``before_restart`` (time
before a restart under ``on_reprioritise = "restart"``). Notes mark priority changes and how
they moved the target, and DST changes. The counted spans add up to ``elapsed_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slaclock.domain.calendar import BusinessCalendar
from slaclock.domain.clocks import (
    ClockSnapshot,
    ClockWalk,
    Note,
    TicketSnapshot,
    evaluate,
    walk_clock,
)
from slaclock.domain.cycles import walk_cycles
from slaclock.domain.facts import CREATED, Fact, in_order
from slaclock.domain.policy import Policy


@dataclass(frozen=True, slots=True)
class Span:
    """``[start, end)`` of one kind; ``counted`` is the business time it added."""

    start: int
    end: int
    kind: str
    counted: int
    detail: str | None = None


@dataclass(frozen=True)
class ClockExplanation:
    metric: str
    clock: ClockSnapshot
    spans: list[Span]
    notes: list[Note]
    cycle: int | None = None
    """The cycle's number (from 0) for a cycle metric; explanations of cycles are keyed
    ``metric/n``."""


def explain(
    ticket_id: str, facts: list[Fact], policy: Policy, as_of: int
) -> tuple[TicketSnapshot, dict[str, ClockExplanation]] | None:
    """The snapshot of a ticket as of ``as_of`` and, per applicable clock, its timeline."""
    snapshot = evaluate(ticket_id, facts, policy, cutoff=as_of)
    if snapshot is None or snapshot.plan is None:
        return (snapshot, {}) if snapshot else None
    plan = snapshot.plan
    ordered = in_order([f for f in facts if f.at <= as_of])
    ordered = ordered[next(i for i, f in enumerate(ordered) if f.type == CREATED) :]
    first = ordered[0].priority if ordered[0].priority is not None else policy.default_priority
    result: dict[str, ClockExplanation] = {}
    for metric, clock in snapshot.clocks.items():
        if not clock.applicable or metric not in plan.targets:
            continue
        walk = walk_clock(metric, ordered, plan, first)
        target = plan.target(metric, walk.priority)
        assert target is not None  # the clock is applicable
        spans, notes = _timeline(walk, target.calendar, clock, as_of)
        result[metric] = ClockExplanation(metric, clock, spans, notes)
    if snapshot.cycles:
        found = walk_cycles(tuple(snapshot.cycles), ordered, plan, first)
        for metric, cycles in snapshot.cycles.items():
            for number, (cycle, walked) in enumerate(zip(cycles, found[metric], strict=True)):
                target = plan.cycle_target(metric, walked.group, walked.walk.priority)
                if target is None:
                    continue  # not applicable: nothing to explain
                spans, notes = _timeline(walked.walk, target.calendar, cycle, as_of)
                explained = ClockExplanation(metric, cycle, spans, notes, number)
                result[f"{metric}/{number}"] = explained
    return snapshot, result


def _timeline(
    walk: ClockWalk, calendar: BusinessCalendar, clock: ClockSnapshot, as_of: int
) -> tuple[list[Span], list[Note]]:
    """The spans (from the walk's first phase to ``as_of``) and notes of one clock."""
    spans: list[Span] = []
    bounds = [p.start for p in walk.phases[1:]] + [as_of]
    for phase, end in zip(walk.phases, bounds, strict=True):
        start = phase.start
        if start < walk.origin:
            cut = min(end, walk.origin)
            spans.append(Span(start, cut, "before_restart", 0))
            start = cut
        if start >= end:
            continue
        if phase.state == "running":
            spans.extend(_running(calendar, start, end))
        else:
            spans.append(Span(start, end, phase.state, 0, phase.detail))
    notes = walk.notes + _dst_changes(calendar, walk.phases[0].start, as_of)
    if clock.breach_at is not None and clock.breach_at < as_of:
        notes.append(Note(clock.breach_at, "deadline passed before any stop: breached"))
    notes.sort(key=_at)
    return _merged(spans), notes


def _at(note: Note) -> int:
    return note.at


def _running(calendar: BusinessCalendar, a: int, b: int) -> list[Span]:
    """A running stretch: open intervals count, the gaps between them are explained."""
    spans: list[Span] = []
    cursor = a
    for start, end in calendar.open_intervals(a, b):
        if start > cursor:
            spans.extend(_gap(calendar, cursor, start))
        spans.append(Span(start, end, "counted", end - start))
        cursor = end
    if cursor < b:
        spans.extend(_gap(calendar, cursor, b))
    return spans


def _gap(calendar: BusinessCalendar, a: int, b: int) -> list[Span]:
    """Closed time, cut at local midnights so each piece gets its day's reason."""
    zone = calendar.zone
    spans: list[Span] = []
    cursor = a
    while cursor < b:
        local = datetime.fromtimestamp(cursor, UTC).astimezone(zone)
        next_day = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0)
        piece_end = min(b, int(next_day.replace(tzinfo=zone).timestamp()))
        if piece_end <= cursor:  # a DST oddity around midnight: never loop
            piece_end = b
        spans.append(_closed_piece(calendar, cursor, piece_end, local.date()))
        cursor = piece_end
    return spans


def _closed_piece(calendar: BusinessCalendar, a: int, b: int, day) -> Span:
    reason = calendar.closed_reason(day)
    if reason == "closed":
        return Span(a, b, "closed", 0, f"closed date {day.isoformat()}")
    if reason is not None:
        rule = calendar.holidays
        where = (
            f"{rule.country}/{rule.subdivision}"
            if rule and rule.subdivision
            else (rule.country if rule else "")
        )
        return Span(a, b, "holiday", 0, f"{reason} ({where})" if where else reason)
    if not calendar.hours.on(day.weekday()):
        return Span(a, b, "weekend", 0, day.strftime("%A"))
    return Span(a, b, "outside_hours", 0)


def _merged(spans: list[Span]) -> list[Span]:
    """Adjacent spans of the same kind and detail become one."""
    merged: list[Span] = []
    for span in spans:
        if span.end <= span.start and span.kind != "counted":
            continue
        last = merged[-1] if merged else None
        if (
            last
            and last.kind == span.kind
            and last.detail == span.detail
            and last.end == span.start
        ):
            merged[-1] = Span(
                last.start, span.end, last.kind, last.counted + span.counted, last.detail
            )
        else:
            merged.append(span)
    return merged


def _dst_changes(calendar: BusinessCalendar, a: int, b: int) -> list[Note]:
    """UTC offset changes of the calendar's zone in ``[a, b)``, found day by day."""
    zone = calendar.zone
    notes: list[Note] = []

    def offset(t: int) -> timedelta:
        return datetime.fromtimestamp(t, UTC).astimezone(zone).utcoffset() or timedelta(0)

    day = 86400
    t = a
    while t < b:
        nxt = min(t + day, b)
        if offset(t) != offset(nxt):
            lo, hi = t, nxt
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == offset(lo):
                    lo = mid
                else:
                    hi = mid
            notes.append(
                Note(
                    hi, f"DST change in {zone.key}: UTC{_fmt(offset(lo))} -> UTC{_fmt(offset(hi))}"
                )
            )
        t = nxt
    return notes


def _fmt(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
