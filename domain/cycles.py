"""Cycle metrics: ``next_reply`` and ``ownership``, any number of clocks per ticket.

Each cycle is a clock of its own under the rules of ``domain.clocks`` (business time, pauses
when the plan lists the metric in ``pausable``, reprioritisation), started at the cycle's
start instead of the ticket's creation. One pass over the ticket's facts in their order finds
every cycle of both metrics (docs/clocks.md, "Cycle metrics"):

- ``next_reply``: a ``ticket.customer_replied`` starts a cycle when the ticket is open, no
  cycle runs and the ticket has been answered before (an acknowledgement, an agent reply or a
  resolution); the next ``ticket.agent_replied`` or ``ticket.resolved`` stops it;
- ``ownership``: a ``ticket.assigned`` (or a ``ticket.created`` with a ``group``) naming a
  group other than the holder stops the holder's cycle and starts one for the new group
  (while the ticket is resolved it only changes the holder); ``ticket.resolved`` stops the
  running cycle and ``ticket.reopened`` starts one for the holder.

A reprioritisation changes only the running cycle: ``recalculate`` judges it as if it had
always had the new priority, ``restart`` starts it afresh unless it is already breached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slaclock.domain.clocks import ClockSnapshot, ClockWalk, Note, Phase, breached_before, judge
from slaclock.domain.facts import (
    ACKNOWLEDGED,
    AGENT_REPLIED,
    ASSIGNED,
    CREATED,
    CUSTOMER_REPLIED,
    PAUSED,
    REOPENED,
    REPRIORITISED,
    RESOLVED,
    RESUMED,
    Fact,
)
from slaclock.domain.policy import NEXT_REPLY, OWNERSHIP, Plan

_ANSWERS = frozenset({ACKNOWLEDGED, AGENT_REPLIED, RESOLVED})
_HANDOVERS = frozenset({ASSIGNED, CREATED})


@dataclass(slots=True)
class CycleSnapshot(ClockSnapshot):
    """One cycle of a cycle metric; ``group``: the group holding the ticket (ownership)."""

    group: str | None = None


@dataclass(slots=True)
class Cycle:
    """A cycle as the walk found it: its metric, holder group and clock walk."""

    metric: str
    group: str | None
    walk: ClockWalk


def run_cycles(
    metrics: Sequence[str], ordered: Sequence[Fact], plan: Plan, priority: int
) -> dict[str, tuple[CycleSnapshot, ...]]:
    """The judged cycles of each of ``metrics`` the plan has targets for, in start order
    (``ordered``: the ticket's facts from its creation; ``priority``: the creation's)."""
    wanted = tuple(m for m in metrics if plan.has_cycles(m))
    found = walk_cycles(wanted, ordered, plan, priority, trace=False)
    return {metric: tuple(_judged(plan, c) for c in found[metric]) for metric in wanted}


def _judged(plan: Plan, cycle: Cycle) -> CycleSnapshot:
    w = cycle.walk
    target = plan.cycle_target(cycle.metric, cycle.group, w.priority)
    if target is None:
        return CycleSnapshot(metric=cycle.metric, priority=w.priority, group=cycle.group)
    snapshot = judge(cycle.metric, w, target, plan, CycleSnapshot, group=cycle.group)
    return snapshot  # type: ignore[return-value]


class _Walker:
    """The state of one pass: the ticket's state and each metric's running cycle."""

    def __init__(self, metrics: Sequence[str], plan: Plan, priority: int, trace: bool) -> None:
        self.plan, self.trace = plan, trace
        self.restart = plan.on_reprioritise == "restart"
        self.priority = priority
        self.paused = self.resolved = self.answered = False
        self.pause_reason: str | None = None
        self.holder: str | None = None
        self.running: dict[str, Cycle | None] = dict.fromkeys(metrics)
        self.cycles: dict[str, list[Cycle]] = {m: [] for m in metrics}

    def reply_awaited(self) -> bool:
        """Whether a customer message now starts a next_reply cycle."""
        return (
            NEXT_REPLY in self.running
            and self.running[NEXT_REPLY] is None
            and self.answered
            and not self.resolved
        )

    def accruing(self, metric: str) -> bool:
        return not (self.paused and metric in self.plan.pausable)

    def start(self, metric: str, group: str | None, t: int) -> None:
        accruing = self.accruing(metric)
        phase = Phase(t, "running") if accruing else Phase(t, "paused", self.pause_reason)
        walk = ClockWalk(
            priority=self.priority,
            origin=t,
            stretches=[],
            since=t if accruing else None,
            live=True,
            stopped_at=None,
            stopped_running=False,
            phases=[phase],
            notes=[],
            paused_since=None if accruing else t,
        )
        cycle = Cycle(metric, group, walk)
        self.running[metric] = cycle
        self.cycles[metric].append(cycle)

    def stop(self, metric: str, t: int, kind: str) -> None:
        cycle = self.running[metric]
        if cycle is None:
            return
        w = cycle.walk
        w.live, w.stopped_at, w.stopped_running = False, t, w.since is not None
        w.follow(False, t)
        if w.since is not None:
            w.stretches.append((w.since, t))
            w.since = None
        if self.trace:
            w.phases.append(Phase(t, "stopped", kind))
        self.running[metric] = None

    def reprioritise(self, new: int, t: int) -> None:
        old, self.priority = self.priority, new
        for metric, cycle in self.running.items():
            if cycle is None:
                continue
            w = cycle.walk
            before = self.plan.cycle_target(metric, cycle.group, w.priority)
            if not self.restart:
                w.priority = new
                what = "recalculated from the cycle's start"
            elif not breached_before(before, w, t):
                w.priority = new
                w.restart(t)
                what = "cycle restarted"
            else:
                what = "already breached, keeps its old target"
            if self.trace:
                w.notes.append(Note(t, f"priority {old} -> {new}: {what}"))

    def follow_pauses(self, t: int) -> None:
        """Close or open the running cycles' stretches after a pause, resume or reopen."""
        for metric, cycle in self.running.items():
            if cycle is None:
                continue
            w, accruing = cycle.walk, self.accruing(metric)
            w.follow(not accruing, t)
            if w.since is not None and not accruing:
                w.stretches.append((w.since, t))
                w.since = None
                if self.trace:
                    w.phases.append(Phase(t, "paused", self.pause_reason))
            elif w.since is None and accruing:
                w.since = t
                if self.trace:
                    w.phases.append(Phase(t, "running"))

    def take(self, fact: Fact) -> None:
        """One fact, in the ticket's order."""
        t, kind = fact.at, fact.type
        if kind == PAUSED:
            self.paused, self.pause_reason = True, fact.details.get("reason")
        elif kind == RESUMED:
            self.paused = False
        elif kind == REPRIORITISED and fact.priority is not None:
            self.reprioritise(fact.priority, t)
        elif kind == RESOLVED:
            self.paused, self.resolved = False, True
            for metric in self.running:
                self.stop(metric, t, kind)
        elif kind == REOPENED and self.resolved:
            self.paused, self.resolved = False, False
            if OWNERSHIP in self.running and self.holder is not None:
                self.start(OWNERSHIP, self.holder, t)
        elif kind == AGENT_REPLIED and NEXT_REPLY in self.running:
            self.stop(NEXT_REPLY, t, kind)
        elif kind == CUSTOMER_REPLIED and self.reply_awaited():
            self.start(NEXT_REPLY, None, t)
        if kind in _HANDOVERS and fact.group is not None and fact.group != self.holder:
            self.holder = fact.group
            if OWNERSHIP in self.running and not self.resolved:
                self.stop(OWNERSHIP, t, kind)
                self.start(OWNERSHIP, fact.group, t)
        if kind in _ANSWERS:
            self.answered = True
        if kind in (PAUSED, RESUMED, REOPENED):
            self.follow_pauses(t)


def walk_cycles(
    metrics: Sequence[str],
    ordered: Sequence[Fact],
    plan: Plan,
    priority: int,
    trace: bool = True,
) -> dict[str, list[Cycle]]:
    """Every cycle of ``metrics`` (in start order) in one pass over ``ordered`` (the ticket's
    facts from its creation, in the ticket's order); ``trace`` collects what explain shows."""
    walker = _Walker(metrics, plan, priority, trace)
    for fact in ordered:
        walker.take(fact)
    return walker.cycles
