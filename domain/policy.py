"""What the customer was promised: plans, their targets, credits and contracts.

These are plain frozen values built once from the configuration (see ``slaclock.config``);
the clock rules in ``domain.clocks`` only read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal

from slaclock.domain.business_days import BusinessDayRule
from slaclock.domain.calendar import BusinessCalendar
from slaclock.domain.hour_account import AccountTerms, BillingRule
from slaclock.domain.money import money
from slaclock.domain.objectives import Objective

METRICS: tuple[str, ...] = ("response", "intervention", "resolution")
"""Every metric with one clock per ticket, in the order reports list them."""
NEXT_REPLY = "next_reply"
OWNERSHIP = "ownership"
CYCLE_METRICS: tuple[str, ...] = (NEXT_REPLY, OWNERSHIP)
"""Metrics with any number of cycles per ticket, each a clock of its own (domain.cycles)."""
ANY = "*"
"""An ownership table's row or column for any other group or priority."""

Reprioritise = Literal["recalculate", "restart"]


@dataclass(frozen=True)
class Target:
    """One promise: ``seconds`` of open time on ``calendar``, or, for a business-day target
    (``business_day`` set, ``seconds`` 0), a deadline rule on ``calendar``."""

    seconds: int
    calendar: BusinessCalendar
    business_day: BusinessDayRule | None = None

    def deadline_from(self, start: int) -> int | None:
        """The fixed deadline of a business-day target for a clock started at ``start``;
        None for a duration (its deadline depends on how the clock runs)."""
        if self.business_day is None:
            return None
        return self.business_day.deadline(self.calendar, start)

    def seconds_from(self, start: int) -> int:
        """The target's open seconds for a clock started at epoch second ``start``."""
        if self.business_day is None:
            return self.seconds
        return self.calendar.between_epoch(start, self.business_day.deadline(self.calendar, start))

    @property
    def spec(self) -> str | int:
        """What the configuration promised: the seconds, or the business-day form."""
        return self.seconds if self.business_day is None else self.business_day.text


@dataclass(frozen=True)
class CreditRule:
    """Money owed per breached clock: ``per_breach`` and ``cap`` are fractions of the fee.
    Without ``per_breach`` no breach earns a credit of its own (a plan with objectives only);
    without ``cap`` the month's credits are not capped."""

    metrics: frozenset[str]
    per_breach: Decimal | None
    cap: Decimal | None

    def credits(self, metric: str) -> bool:
        """Whether a breach of ``metric`` earns a per-breach credit."""
        return self.per_breach is not None and metric in self.metrics

    def amount(self, monthly_fee: Decimal) -> Decimal:
        assert self.per_breach is not None
        return money(self.per_breach * monthly_fee)

    def cap_amount(self, monthly_fee: Decimal) -> Decimal | None:
        return None if self.cap is None else money(self.cap * monthly_fee)


@dataclass(frozen=True)
class HourAccountPlan:
    """A plan's support-hour account: how work is billed and what each month pays in."""

    rule: BillingRule
    monthly_credit_minutes: int
    overdraft_limit_minutes: int
    rollover: bool = True

    def terms(self, opening_balance_minutes: int = 0) -> AccountTerms:
        return AccountTerms(
            monthly_credit_minutes=self.monthly_credit_minutes,
            overdraft_limit_minutes=self.overdraft_limit_minutes,
            opening_balance_minutes=opening_balance_minutes,
            rollover=self.rollover,
        )


@dataclass(frozen=True)
class Escalation:
    """One escalation level of a plan: when a running clock reaches it, and who is told.

    ``at`` is measured in business seconds on the clock's target calendar: ``percent`` of the
    target (``"75%"``), or ``seconds`` relative to the deadline (``"-30m"``, ``"0"`` at breach,
    ``"+1h"`` after it). ``metrics`` and ``priorities`` limit it to some clocks (None: all).
    """

    level: int
    notify: tuple[str, ...]
    percent: int | None = None
    seconds: int = 0
    metrics: frozenset[str] | None = None
    priorities: frozenset[int] | None = None

    def applies(self, metric: str, priority: int) -> bool:
        return (self.metrics is None or metric in self.metrics) and (
            self.priorities is None or priority in self.priorities
        )

    def part(self, target_seconds: int) -> int:
        """The open seconds a clock with this target has accrued when the level is reached."""
        if self.percent is not None:
            return target_seconds * self.percent // 100
        return max(0, target_seconds + self.seconds)


@dataclass(frozen=True)
class Plan:
    """A service plan: per metric and priority the target that applies.

    A priority missing from a metric's row means no guarantee for it.
    """

    name: str
    calendar: BusinessCalendar
    targets: Mapping[str, Mapping[int, Target]]
    pausable: frozenset[str] = frozenset()
    on_reprioritise: Reprioritise = "recalculate"
    credits: CreditRule | None = None
    warnings: tuple[int, ...] = (75, 90)
    """Percentages of a target at which a running clock raises a warning."""
    hours: HourAccountPlan | None = None
    escalations: tuple[Escalation, ...] = ()
    """Escalation levels (``[[plans.NAME.escalations]]``); at most one per level and clock."""
    ownership: Mapping[str, Mapping[int | str, Target]] = field(default_factory=dict)
    """Ownership (OLA) targets: group -> priority -> target, ``ANY`` for any other one."""
    objectives: tuple[Objective, ...] = ()
    """Shares of outcomes promised per month, with tiered credits (``domain.objectives``)."""

    def target(self, metric: str, priority: int | None) -> Target | None:
        if priority is None:
            return None
        return self.targets.get(metric, {}).get(priority)

    _levels: dict[tuple[Any, ...], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Answers of :meth:`levels_for` and :meth:`escalation`, kept (the plan never changes):
    they are asked for every clock judged and every escalation delivered."""

    def levels_for(self, metric: str, priority: int) -> tuple[Escalation, ...]:
        """The escalation levels that apply to a clock of ``metric`` on ``priority``."""
        key = (metric, priority)
        found = self._levels.get(key)
        if found is None:
            found = self._levels[key] = tuple(
                e for e in self.escalations if e.applies(metric, priority)
            )
        return found

    def escalation(self, level: int, metric: str, priority: int | None) -> Escalation | None:
        """The level ``level`` a clock of ``metric`` on ``priority`` escalates by (for a
        withdrawn one whose priority moved since: the first of that level and metric)."""
        key = (level, metric, priority, "level")
        if key not in self._levels:
            self._levels[key] = self._escalation(level, metric, priority)
        return self._levels[key]

    def _escalation(self, level: int, metric: str, priority: int | None) -> Escalation | None:
        same = [e for e in self.escalations if e.level == level]
        for escalation in same:
            if priority is not None and escalation.applies(metric, priority):
                return escalation
        for escalation in same:
            if escalation.metrics is None or metric in escalation.metrics:
                return escalation
        return None

    def ownership_target(self, group: str | None, priority: int | None) -> Target | None:
        """How long ``group`` may hold a ticket of ``priority``: the group's own row, else the
        ``"*"`` row; in it the priority, else ``"*"``; None (not applicable) otherwise. A
        group with a row of its own never falls back to the ``"*"`` row."""
        row = self.ownership.get(group or "", self.ownership.get(ANY))
        if row is None or priority is None:
            return None
        return row.get(priority, row.get(ANY))

    def cycle_target(self, metric: str, group: str | None, priority: int | None) -> Target | None:
        """The target of a cycle of ``metric`` (``group``: the holder of an ownership cycle)."""
        if metric == OWNERSHIP:
            return self.ownership_target(group, priority)
        return self.target(metric, priority)

    def has_cycles(self, metric: str) -> bool:
        """Whether this plan promises anything for the cycle metric (else not applicable)."""
        return bool(self.ownership) if metric == OWNERSHIP else bool(self.targets.get(metric))


@dataclass(frozen=True)
class Contract:
    """A customer's plan from a date on (the date is read in the plan calendar's timezone)."""

    customer: str
    plan: Plan
    valid_from: date
    monthly_fee: Decimal
    opening_hour_balance_minutes: int = 0

    @cached_property
    def key(self) -> str:
        """A stable name for the contract, used by reports to group credits per contract."""
        return f"{self.customer}@{self.valid_from.isoformat()}"

    def starts_by(self, instant: datetime) -> bool:
        return instant.astimezone(self.plan.calendar.zone).date() >= self.valid_from


@dataclass(frozen=True)
class Policy:
    """Everything the configuration promises, as one value."""

    currency: str = "EUR"
    default_priority: int = 3
    priorities: tuple[int, ...] = (1, 2, 3, 4)
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    plans: Mapping[str, Plan] = field(default_factory=dict)
    contracts: tuple[Contract, ...] = ()

    @cached_property
    def metrics(self) -> tuple[str, ...]:
        """The metrics any plan defines: every ticket gets one clock for each."""
        used = {m for plan in self.plans.values() for m, row in plan.targets.items() if row}
        return tuple(m for m in METRICS if m in used)

    @cached_property
    def cycle_metrics(self) -> tuple[str, ...]:
        """The cycle metrics any plan defines: tickets on those plans get their cycles."""
        return tuple(m for m in CYCLE_METRICS if any(p.has_cycles(m) for p in self.plans.values()))

    @cached_property
    def _contracts_by_customer(self) -> dict[str, list[Contract]]:
        index: dict[str, list[Contract]] = {}
        for contract in sorted(self.contracts, key=lambda c: c.valid_from):
            index.setdefault(contract.customer, []).append(contract)
        return index

    @cached_property
    def _contracts_by_key(self) -> dict[str, Contract]:
        return {contract.key: contract for contract in self.contracts}

    def contract_for(self, customer: str, created_at: datetime) -> Contract | None:
        """The contract whose ``from`` is latest but not after the ticket's creation date."""
        for contract in reversed(self._contracts_by_customer.get(customer, [])):
            if contract.starts_by(created_at):
                return contract
        return None

    def contract_by_key(self, key: str) -> Contract | None:
        return self._contracts_by_key.get(key)

    def calendar_or_plan(self, name: str) -> BusinessCalendar | None:
        """A calendar by its name, or the default calendar of the plan of that name."""
        if name in self.calendars:
            return self.calendars[name]
        plan = self.plans.get(name)
        return plan.calendar if plan else None

    def calendar_named(self, name: str) -> BusinessCalendar | None:
        """The calendar a clock row names (a calendar, or a shorthand plan's own calendar)."""
        if name in self.calendars:
            return self.calendars[name]
        for plan in self.plans.values():
            for row in [*plan.targets.values(), *plan.ownership.values()]:
                for target in row.values():
                    if target.calendar.name == name:
                        return target.calendar
        return None

    def check_priority(self, priority: int) -> str | None:
        """Why ``priority`` is not acceptable, or ``None`` when it is."""
        if priority not in self.priorities:
            return f"priority: {priority} is not one of {list(self.priorities)}"
        return None
