"""The clock rules: from a ticket's accepted facts to one clock per metric.

Everything here is a pure function of (facts, plan, cut-off). The result of
:func:`evaluate` is a :class:`ClockSnapshot` per metric that does not depend on the moment it
is looked at; :meth:`ClockSnapshot.view` then answers "as of T" with a few comparisons and at
most one calendar call. The projection stores snapshots, so reports never re-fold tickets.

Rules (contract, section 3):
- a clock starts at creation and accrues open time on the calendar of its current target,
  except while paused (pausable metrics) or, for resolution, while resolved;
- response stops at the first acknowledgement, intervention at the first intervention start,
  every clock at resolution; reopening runs the resolution clock again;
- resolving or reopening ends a pause;
- reprioritisation changes clocks still running (not stopped) at that instant:
  ``recalculate`` judges the clock as if the ticket always had the new priority;
  ``restart`` starts a clock that is not yet breached afresh at that instant with the new
  target, and leaves a breached clock on its old target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from domain import facts as F
from domain.facts import Fact, in_order
from domain.policy import Contract, Plan, Policy

Status = Literal["met", "breached", "paused", "running", "not_applicable"]
BetweenFn = Callable[[int, int], int]
"""Open seconds between two epoch instants on one calendar."""
AddFn = Callable[[int, int], int]
"""The epoch instant a number of open seconds after an epoch instant."""

_STOPPED_BY: dict[str, frozenset[str]] = {
    "response": frozenset({F.ACKNOWLEDGED, F.RESOLVED}),
    "intervention": frozenset({F.INTERVENTION_STARTED, F.RESOLVED}),
    "resolution": frozenset({F.RESOLVED}),
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


@dataclass(frozen=True, slots=True)
class ClockSnapshot:
    """A clock after a set of facts, independent of the instant it is looked at.

    ``breach_at`` is the deadline when the deadline passes before any stop (the clock is then
    breached for every ``as_of`` after it). ``accrued`` is the open time of closed running
    stretches; ``running_since`` starts the stretch still running, if any.
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


@dataclass(frozen=True, slots=True)
class TicketSnapshot:
    """A ticket after the facts up to a cut-off: who, under which contract, and its clocks."""

    ticket_id: str
    customer_id: str
    contract: Contract | None
    priority: int
    created_at: int
    last_fact_at: int
    clocks: dict[str, ClockSnapshot]

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
    ordered = in_order([f for f in facts if cutoff is None or f.at <= cutoff])
    created = next((f for f in ordered if f.type == F.CREATED), None)
    if created is None:
        return None
    ordered = ordered[ordered.index(created) :]
    customer = created.customer_id or ""
    contract = policy.contract_for(customer, created.occurred_at)
    plan = contract.plan if contract else None
    first_priority = created.priority if created.priority is not None else policy.default_priority
    priority = first_priority
    for fact in ordered:
        if fact.type == F.REPRIORITISED and fact.priority is not None:
            priority = fact.priority
    clocks = {
        metric: _run_clock(metric, ordered, plan, first_priority) for metric in policy.metrics
    }
    return TicketSnapshot(
        ticket_id=ticket_id,
        customer_id=customer,
        contract=contract,
        priority=priority,
        created_at=created.at,
        last_fact_at=ordered[-1].at,
        clocks=clocks,
    )


def _run_clock(
    metric: str, ordered: Sequence[Fact], plan: Plan | None, priority: int
) -> ClockSnapshot:
    """Walk the facts once, collecting the stretches in which this clock accrues."""
    if plan is None or metric not in plan.targets:
        return ClockSnapshot(metric=metric, priority=priority)
    stopped_by = _STOPPED_BY[metric]
    pausable = metric in plan.pausable
    restart = plan.on_reprioritise == "restart"
    origin = ordered[0].at
    clock_priority = ticket_priority = priority
    live, paused, resolved = True, False, False
    stopped_at: int | None = None
    stopped_running = False
    stretches: list[tuple[int, int]] = []
    since: int | None = origin

    for fact in ordered[1:]:
        t = fact.at
        was_accruing = since is not None
        kind = fact.type
        if kind == F.PAUSED:
            paused = True
        elif kind == F.RESUMED:
            paused = False
        elif kind == F.RESOLVED:
            paused, resolved = False, True
        elif kind == F.REOPENED and resolved:
            paused, resolved = False, False
            if metric in _REOPENABLE and not live:
                live, stopped_at = True, None
                if not restart:
                    clock_priority = ticket_priority
        elif kind == F.REPRIORITISED and fact.priority is not None:
            ticket_priority = fact.priority
            if live and not restart:
                clock_priority = ticket_priority
            elif live and not _breached_by(plan, metric, clock_priority, stretches, since, t):
                clock_priority, origin, stretches = ticket_priority, t, []
                since = t if was_accruing else None
        if live and kind in stopped_by:
            live, stopped_at, stopped_running = False, t, was_accruing
        accruing = live and not (paused and pausable)
        if was_accruing and not accruing:
            stretches.append((since, t))  # type: ignore[arg-type]
            since = None
        elif accruing and not was_accruing:
            since = t

    target = plan.target(metric, clock_priority)
    if target is None:
        return ClockSnapshot(metric=metric, priority=clock_priority)
    cal = target.calendar
    deadline, accrued = _deadline_in(cal.between_epoch, cal.add_epoch, target.seconds, stretches)
    if deadline is None and since is not None:
        deadline = cal.add_epoch(since, target.seconds - accrued)
    elif deadline is None and stopped_at is not None and stopped_running and stretches:
        # A stopped clock reports the deadline it had while it last ran.
        last_start, _ = stretches[-1]
        before_last = accrued - cal.between_epoch(*stretches[-1])
        deadline = cal.add_epoch(last_start, target.seconds - before_last)
    breach_at = (
        deadline if deadline is not None and (stopped_at is None or deadline < stopped_at) else None
    )
    return ClockSnapshot(
        metric=metric,
        priority=clock_priority,
        target_seconds=target.seconds,
        calendar=cal.name,
        started_at=origin,
        deadline=deadline,
        stopped_at=stopped_at,
        breach_at=breach_at,
        accrued=accrued,
        running_since=since,
        paused=live and since is None,
    )


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


def _breached_by(
    plan: Plan,
    metric: str,
    priority: int,
    stretches: list[tuple[int, int]],
    since: int | None,
    t: int,
) -> bool:
    """Whether the clock on ``priority`` had passed its deadline before instant ``t``."""
    target = plan.target(metric, priority)
    if target is None:
        return False
    cal = target.calendar
    upto = [*stretches, (since, t)] if since is not None else stretches
    deadline, _ = _deadline_in(cal.between_epoch, cal.add_epoch, target.seconds, upto)
    return deadline is not None and deadline < t
