"""The clock rules: from a ticket's accepted facts to one clock per metric.

Everything here is a pure function of (facts, plan, cut-off), so a clock never depends on
when it is looked at or on arrival order. :func:`evaluate` gives a :class:`ClockSnapshot` per
metric; :meth:`ClockSnapshot.view` answers "as of T" with a few comparisons and at most one
calendar call, so the projection can store snapshots and reports never re-fold tickets.
The rules, in words: docs/clocks.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from slaclock.domain.calendar import BusinessCalendar
from slaclock.domain.facts import (
    ACKNOWLEDGED,
    AGENT_REPLIED,
    CREATED,
    INTERVENTION_STARTED,
    PAUSED,
    REOPENED,
    REPRIORITISED,
    RESOLVED,
    RESUMED,
    Fact,
    in_order,
)
from slaclock.domain.policy import Contract, Plan, Policy, Target

Status = Literal["met", "breached", "paused", "running", "not_applicable"]
BetweenFn = Callable[[int, int], int]
"""Open seconds between two epoch instants on one calendar."""
AddFn = Callable[[int, int], int]
"""The epoch instant a number of open seconds after an epoch instant."""

_STOPPED_BY: dict[str, frozenset[str]] = {
    "response": frozenset({ACKNOWLEDGED, AGENT_REPLIED, RESOLVED}),
    "intervention": frozenset({INTERVENTION_STARTED, RESOLVED}),
    "resolution": frozenset({RESOLVED}),
}
_REOPENABLE = frozenset({"resolution"})


@dataclass(frozen=True, slots=True)
class ClockView:
    """A clock as of one instant; all instants are epoch seconds."""

    status: Status
    target_seconds: int | None = None
    calendar: str | None = None
    started_at: int | None = None
    deadline: int | None = None
    stopped_at: int | None = None
    breached_at: int | None = None
    elapsed_seconds: int | None = None
    remaining_seconds: int | None = None


@dataclass(slots=True)
class ClockSnapshot:
    """A clock after a set of facts, independent of the instant it is looked at.

    ``breach_at`` is the deadline when the deadline passes before any stop (the clock is then
    breached for every ``as_of`` after it). ``accrued`` is the open time of closed running
    stretches; ``running_since`` starts the stretch still running, if any.

    A value: never assign to one (clocks without a target share one instance). Not
    ``frozen``: a frozen dataclass costs three times as much to build (1.7 µs here), and
    every evaluation builds one per clock, on the path of every event stored and every
    ticket recomputed.
    """

    metric: str
    priority: int | None
    target_seconds: int | None = None
    calendar: str | None = None
    started_at: int | None = None
    deadline: int | None = None
    stopped_at: int | None = None
    breach_at: int | None = None
    accrued: int = 0
    running_since: int | None = None
    paused: bool = False
    paused_seconds: int | None = 0
    """Real seconds the clock spent paused (live, not accruing under the plan's pauses)
    between its start and its stop, counting the pauses that ended; a pause still open
    runs since ``paused_since``. None only in a stored row written before the read model
    kept it (store schema 9) and not recomputed since."""
    paused_since: int | None = None
    """Start of the pause still open (None unless the clock is paused)."""
    warnings: tuple[tuple[int, int], ...] = ()
    """(percent, instant) of each warning threshold reached while running (or to be reached
    if the clock runs on)."""
    escalations: tuple[tuple[int, int], ...] = ()
    """(level, instant) of each escalation level of the plan reached while running (or to be
    reached if the clock runs on), as for ``warnings``."""

    @property
    def applicable(self) -> bool:
        return self.target_seconds is not None

    def view(self, as_of: int, between: BetweenFn | None = None) -> ClockView:
        """The clock as of ``as_of``; ``between`` counts open time for a running stretch."""
        if self.target_seconds is None:
            return ClockView(status="not_applicable")
        elapsed = self.accrued
        if self.running_since is not None and as_of > self.running_since:
            if between is None:
                raise ValueError("a running clock needs its calendar to be viewed")
            elapsed += between(self.running_since, as_of)
        status: Status
        if self.stopped_at is not None:
            status = "breached" if self.breach_at is not None else "met"
        elif self.breach_at is not None and self.breach_at < as_of:
            status = "breached"
        elif self.paused:
            status = "paused"
        else:
            status = "running"
        return ClockView(
            status=status,
            target_seconds=self.target_seconds,
            calendar=self.calendar,
            started_at=self.started_at,
            deadline=self.deadline,
            stopped_at=self.stopped_at,
            breached_at=self.breach_at if status == "breached" else None,
            elapsed_seconds=elapsed,
            remaining_seconds=self.target_seconds - elapsed,
        )


@dataclass(slots=True)
class TicketSnapshot:
    """A ticket after the facts up to a cut-off: who, under which contract, and its clocks.
    A value, not ``frozen`` for the reason :class:`ClockSnapshot` gives."""

    ticket_id: str
    customer_id: str
    contract: Contract | None
    priority: int
    created_at: int
    last_fact_at: int
    clocks: dict[str, ClockSnapshot]
    resolved_at: int | None = None
    """When the ticket was resolved (None while open: never resolved, or reopened since)."""
    cycles: Mapping[str, tuple[ClockSnapshot, ...]] | None = None
    """Per cycle metric the plan has targets for, its cycles in start order (``domain.cycles``;
    a metric absent here is not applicable); None when no plan of the policy has any."""

    @property
    def plan(self) -> Plan | None:
        return self.contract.plan if self.contract else None


def evaluate(
    ticket_id: str,
    facts: Sequence[Fact],
    policy: Policy,
    cutoff: int | None = None,
) -> TicketSnapshot | None:
    """Clocks of a ticket from its facts with ``at <= cutoff`` (all when ``cutoff`` is None).

    Returns None when the ticket had not been created by the cut-off.
    """
    ordered = in_order(list(facts) if cutoff is None else [f for f in facts if f.at <= cutoff])
    created = next((f for f in ordered if f.type == CREATED), None)
    if created is None:
        return None
    ordered = ordered[ordered.index(created) :]
    customer = created.customer_id or ""
    contract = policy.contract_for(customer, created.occurred_at)
    plan = contract.plan if contract else None
    first_priority = created.priority if created.priority is not None else policy.default_priority
    priority = first_priority
    resolved_at: int | None = None
    for fact in ordered:
        if fact.type == REPRIORITISED and fact.priority is not None:
            priority = fact.priority
        elif fact.type == RESOLVED and resolved_at is None:
            resolved_at = fact.at
        elif fact.type == REOPENED:
            resolved_at = None
    clocks = {
        metric: _run_clock(metric, ordered, plan, first_priority) for metric in policy.metrics
    }
    cycles = None
    if policy.cycle_metrics:
        cycles = (
            _cycles.run_cycles(policy.cycle_metrics, ordered, plan, first_priority)
            if plan is not None
            else {}
        )
    return TicketSnapshot(
        ticket_id=ticket_id,
        customer_id=customer,
        contract=contract,
        priority=priority,
        created_at=created.at,
        last_fact_at=ordered[-1].at,
        clocks=clocks,
        resolved_at=resolved_at,
        cycles=cycles,
    )


@dataclass(frozen=True, slots=True)
class Phase:
    """From ``start`` until the next phase: the clock was running, paused, resolved or
    stopped. ``detail`` says why (the pause reason, the stopping event type)."""

    start: int
    state: Literal["running", "paused", "resolved", "stopped"]
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """A moment worth telling an auditor about, e.g. a priority change and its effect."""

    at: int
    text: str


@dataclass
class ClockWalk:
    """Everything one pass over a ticket's facts learns about one clock."""

    priority: int
    origin: int
    stretches: list[tuple[int, int]]
    since: int | None
    live: bool
    stopped_at: int | None
    stopped_running: bool
    phases: list[Phase]
    notes: list[Note]
    paused_total: int = 0
    """Real seconds of the pauses that ended (time live but not accruing)."""
    paused_since: int | None = None
    """Start of the pause still open."""

    def follow(self, paused: bool, t: int) -> None:
        """Account real paused time at ``t``, where the clock is now ``paused`` or not."""
        if self.paused_since is not None and not paused:
            self.paused_total += t - self.paused_since
            self.paused_since = None
        elif paused and self.paused_since is None:
            self.paused_since = t

    def restart(self, t: int) -> None:
        """Start the clock afresh at ``t``, keeping whether it runs or is paused."""
        self.origin, self.stretches, self.paused_total = t, [], 0
        if self.since is not None:
            self.since = t
        if self.paused_since is not None:
            self.paused_since = t


def walk_clock(
    metric: str, ordered: Sequence[Fact], plan: Plan, priority: int, trace: bool = True
) -> ClockWalk:
    """Walk the facts once, collecting the stretches in which this clock accrues.

    ``trace`` also collects the phases and notes an explanation shows; the clock itself
    (stretches, priority, stop) does not need them, so evaluation walks without. Kept in one
    piece (a little over a screen): it is the clock's state machine, one branch per fact
    type, and reads best as one loop on the hot path of every evaluation."""
    stopped_by = _STOPPED_BY[metric]
    pausable = metric in plan.pausable
    restart = plan.on_reprioritise == "restart"
    w = ClockWalk(
        priority=priority,
        origin=ordered[0].at,
        stretches=[],
        since=ordered[0].at,
        live=True,
        stopped_at=None,
        stopped_running=False,
        phases=[Phase(ordered[0].at, "running")],
        notes=[],
    )
    ticket_priority = priority
    paused, resolved = False, False
    pause_reason: str | None = None

    for fact in ordered[1:]:
        t = fact.at
        was_accruing = w.since is not None
        kind = fact.type
        if kind == PAUSED:
            paused, pause_reason = True, fact.details.get("reason")
        elif kind == RESUMED:
            paused = False
        elif kind == RESOLVED:
            paused, resolved = False, True
        elif kind == REOPENED and resolved:
            paused, resolved = False, False
            if metric in _REOPENABLE and not w.live:
                w.live, w.stopped_at = True, None
                if not restart:
                    w.priority = ticket_priority
        elif kind == REPRIORITISED and fact.priority is not None:
            old, ticket_priority = ticket_priority, fact.priority
            if trace:
                w.notes.append(Note(t, _reprioritised(plan, metric, w, old, ticket_priority, t)))
            if w.live and not restart:
                w.priority = ticket_priority
            elif w.live and not _breached_by(plan, metric, w.priority, w, t):
                w.priority = ticket_priority
                w.restart(t)
        if w.live and kind in stopped_by:
            w.live, w.stopped_at, w.stopped_running = False, t, was_accruing
        accruing = w.live and not (paused and pausable)
        w.follow(w.live and not accruing, t)
        if was_accruing and not accruing:
            w.stretches.append((w.since, t))  # type: ignore[arg-type]
            w.since = None
        elif accruing and not was_accruing:
            w.since = t
        if not trace:
            continue
        phase = _phase(t, w.live, accruing, resolved and metric in _REOPENABLE, kind, pause_reason)
        last = w.phases[-1]
        if phase.state != last.state or (phase.state == "paused" and phase.detail != last.detail):
            w.phases.append(phase)
    return w


def _phase(
    t: int, live: bool, accruing: bool, resolved: bool, kind: str, pause_reason: str | None
) -> Phase:
    if accruing:
        return Phase(t, "running")
    if live:
        return Phase(t, "paused", pause_reason)
    return Phase(t, "resolved" if resolved else "stopped", kind if not resolved else None)


def _reprioritised(plan: Plan, metric: str, w: ClockWalk, old: int, new: int, t: int) -> str:
    """How a priority change moved this clock, in words for the explain timeline."""
    before, after = plan.target(metric, w.priority), plan.target(metric, new)
    change = f"priority {old} -> {new}"
    if not w.live:
        return f"{change}: clock already stopped, unchanged"
    if after is None:
        return f"{change}: no target for priority {new}, clock not applicable"
    target = f"target {_promise(before) if before else 'none'} -> {_promise(after)}"
    if plan.on_reprioritise == "recalculate":
        return f"{change}: {target}, recalculated from creation on {after.calendar.name}"
    if _breached_by(plan, metric, w.priority, w, t):
        return f"{change}: already breached, keeps its old target"
    return f"{change}: {target}, clock restarted"


def _promise(target: Target) -> str:
    if target.business_day is not None:
        return target.business_day.text
    return f"{target.seconds / 3600:g}h"


def _run_clock(
    metric: str, ordered: Sequence[Fact], plan: Plan | None, priority: int
) -> ClockSnapshot:
    """The clock's snapshot: its walk, then deadline and breach on its target's calendar."""
    if plan is None or metric not in plan.targets:
        return _not_applicable(metric, priority)
    w = walk_clock(metric, ordered, plan, priority, trace=False)
    target = plan.target(metric, w.priority)
    if target is None:
        return _not_applicable(metric, w.priority)
    return judge(metric, w, target, plan)


def judge(
    metric: str,
    w: ClockWalk,
    target: Target,
    plan: Plan,
    make: Callable[..., ClockSnapshot] = ClockSnapshot,
    **extra: object,
) -> ClockSnapshot:
    """The snapshot (built by ``make``, with ``extra`` fields) of the walk ``w`` on
    ``target``: deadline, breach, the plan's warnings and the escalation levels that apply."""
    cal = target.calendar
    fixed = target.deadline_from(w.origin)
    seconds = target.seconds if fixed is None else cal.between_epoch(w.origin, fixed)
    stretches, since = w.stretches, w.since
    lengths = [cal.between_epoch(start, end) for start, end in stretches]
    accrued = sum(lengths)
    # The closed stretches reach a part of the target only if their sum does: skip the walk
    # when it does not (most clocks, and most of their warning thresholds).
    reach = _reached(cal.add_epoch, seconds, stretches, lengths) if accrued >= seconds else None
    if reach is None and since is not None:
        reach = cal.add_epoch(since, seconds - accrued)
    deadline = reach  # when the open time reaches the target (levels at breach reuse it)
    if deadline is None and w.stopped_at is not None and w.stopped_running and stretches:
        # A stopped clock reports the deadline it had while it last ran.
        last_start, _ = stretches[-1]
        deadline = cal.add_epoch(last_start, seconds - (accrued - lengths[-1]))
    deadline = _business_deadline(cal, deadline, fixed)
    stopped_at = w.stopped_at
    breach_at = (
        deadline if deadline is not None and (stopped_at is None or deadline < stopped_at) else None
    )

    def while_running(at: int | None) -> int | None:
        return at if at is not None and (stopped_at is None or at < stopped_at) else None

    def reached_running(part: int) -> int | None:
        """When the clock's open time reaches ``part`` while it runs (None: it stopped or
        paused first, or never will)."""
        at = _reached(cal.add_epoch, part, stretches, lengths) if accrued >= part else None
        if at is None and since is not None:
            at = cal.add_epoch(since, part - accrued)
        return while_running(at)

    # part -> when reached, for the levels: at a warning's share or at the breach, known
    found: dict[int, int | None] = {seconds: while_running(reach)}
    warnings = []
    for percent in plan.warnings:
        at = found[seconds * percent // 100] = reached_running(seconds * percent // 100)
        if at is not None:
            warnings.append((percent, at))
    escalations = []
    for level in plan.levels_for(metric, w.priority):  # most clocks: none
        part = level.part(seconds)
        at = found[part] if part in found else reached_running(part)
        if at is not None:
            escalations.append((level.level, at))
    return make(
        metric=metric,
        priority=w.priority,
        target_seconds=seconds,
        calendar=cal.name,
        started_at=w.origin,
        deadline=deadline,
        stopped_at=stopped_at,
        breach_at=breach_at,
        accrued=accrued,
        running_since=since,
        paused=w.live and since is None,
        paused_seconds=w.paused_total,
        paused_since=w.paused_since,
        warnings=tuple(warnings),
        escalations=tuple(escalations),
        **extra,
    )


@lru_cache(maxsize=256)
def _not_applicable(metric: str, priority: int) -> ClockSnapshot:
    """A clock without a target (immutable, so one per metric and priority is shared)."""
    return ClockSnapshot(metric=metric, priority=priority)


def _reached(
    add: AddFn, target: int, stretches: Sequence[tuple[int, int]], lengths: Sequence[int]
) -> int | None:
    """The instant the closed ``stretches`` (business seconds ``lengths``) reach ``target``,
    or None if they stay below it."""
    accrued = 0
    for (start, _), length in zip(stretches, lengths, strict=True):
        if accrued + length >= target:
            return add(start, target - accrued)
        accrued += length
    return None


def _deadline_in(
    between: BetweenFn, add: AddFn, target: int, stretches: Iterable[tuple[int, int]]
) -> tuple[int | None, int]:
    """The instant the closed stretches reach ``target`` (if they do) and their total."""
    accrued = 0
    deadline: int | None = None
    for start, end in stretches:
        length = between(start, end)
        if deadline is None and accrued + length >= target:
            deadline = add(start, target - accrued)
        accrued += length
    return deadline, accrued


def _business_deadline(
    cal: BusinessCalendar, deadline: int | None, fixed: int | None
) -> int | None:
    """A business-day target's deadline is its rule's instant (``fixed``): where the open
    time runs out at an earlier instant with only closed time up to ``fixed`` (a
    ``next-business-day HH:MM`` moved to the next opening), ``fixed`` is the deadline."""
    if fixed is None or deadline is None or deadline > fixed:
        return deadline
    return fixed if cal.between_epoch(deadline, fixed) == 0 else deadline


def _breached_by(plan: Plan, metric: str, priority: int, w: ClockWalk, t: int) -> bool:
    """Whether the clock on ``priority`` had passed its deadline before instant ``t``."""
    return breached_before(plan.target(metric, priority), w, t)


def breached_before(target: Target | None, w: ClockWalk, t: int) -> bool:
    """Whether a clock on ``target`` walked as ``w`` so far (its closed stretches, and
    running since ``w.since``) had passed its deadline before instant ``t``."""
    if target is None:
        return False
    cal = target.calendar
    fixed = target.deadline_from(w.origin)
    seconds = target.seconds if fixed is None else cal.between_epoch(w.origin, fixed)
    upto = [*w.stretches, (w.since, t)] if w.since is not None else w.stretches
    deadline, _ = _deadline_in(cal.between_epoch, cal.add_epoch, seconds, upto)
    deadline = _business_deadline(cal, deadline, fixed)
    return deadline is not None and deadline < t


# Last: domain.cycles builds on this module's clocks (a cycle is judged like a clock).
from slaclock.domain import cycles as _cycles  # noqa: E402
