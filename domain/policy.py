"""What the customer was promised: plans, their targets, credits and contracts.

These are plain frozen values built once from the configuration (see ``slaclock.config``);
the clock rules in ``domain.clocks`` only read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Literal

from slaclock.domain.calendar import BusinessCalendar
from slaclock.domain.hour_account import AccountTerms, BillingRule

METRICS: tuple[str, ...] = ("response", "intervention", "resolution")
"""Every metric with one clock per ticket, in the order reports list them."""
NEXT_REPLY = "next_reply"
OWNERSHIP = "ownership"
CYCLE_METRICS: tuple[str, ...] = (NEXT_REPLY, OWNERSHIP)
"""Metrics with any number of cycles per ticket, each a clock of its own (domain.cycles)."""
ANY = "*"
"""An ownership table's row or column for any other group or priority."""

Reprioritise = Literal["recalculate", "restart"]
CENT = Decimal("0.01")


def money(amount: Decimal) -> Decimal:
    """Round an amount half-up to cents, the way credits are invoiced."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Target:
    """One promise: ``seconds`` of open time on ``calendar``."""

    seconds: int
    calendar: BusinessCalendar


@dataclass(frozen=True)
class CreditRule:
    """Money owed per breached clock: ``per_breach`` and ``cap`` are fractions of the fee."""

    metrics: frozenset[str]
    per_breach: Decimal
    cap: Decimal | None

    def amount(self, monthly_fee: Decimal) -> Decimal:
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
    ownership: Mapping[str, Mapping[int | str, Target]] = field(default_factory=dict)
    """Ownership (OLA) targets: group -> priority -> target, ``ANY`` for any other one."""

    def target(self, metric: str, priority: int | None) -> Target | None:
        if priority is None:
            return None
        return self.targets.get(metric, {}).get(priority)

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
