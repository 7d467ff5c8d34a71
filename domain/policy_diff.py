"""What a configuration change can move: the old and new policy compared, entity by entity.

Each difference becomes a :class:`Change`: what changed, in words, and the :class:`Scope` of
stored tickets whose read-model rows it can move. Rows hold a ticket's contract and plan and,
per clock, its target, calendar, deadline, accrual and next alert, so:

- a customer's contracts (plan, start date) move that customer's tickets only;
- a plan's targets, pausable metrics, reprioritisation rule or warnings move its tickets;
- a calendar's hours, time zone or holiday rule move the tickets with a clock on it (a time
  zone also decides which contract a ticket falls under, so customers with a contract on a
  plan counting on that calendar are included);
- a calendar's closed dates move only clocks on it whose span meets a changed date: from the
  ticket's creation to the latest of the clock's deadline, its stop and the ticket's last
  fact (accrual, deadline and warnings are all computed within it);
- credit terms, fees, opening hour balances, hour accounts and the currency move no rows:
  credits are posted to the ledger when breaches are raised, and reports read them;
- anything else (default priority, the priority list) is not classified: every ticket.

A ``holidays`` package upgrade moves every calendar with a holiday rule (which dates moved is
unknown). Pure: no I/O; the caller counts and recomputes the tickets a scope selects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from slaclock.domain.calendar import BusinessCalendar
from slaclock.domain.policy import Plan, Policy


@dataclass(frozen=True)
class Scope:
    """The stored tickets a change can move: those of ``customers`` or ``plans``, those with
    a clock on one of ``calendars``, and those with a clock on a calendar of ``days`` whose
    span meets one of its (start, end) epoch-second ranges; every ticket if ``everything``."""

    everything: bool = False
    customers: frozenset[str] = frozenset()
    plans: frozenset[str] = frozenset()
    calendars: frozenset[str] = frozenset()
    days: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.everything or self.customers or self.plans or self.calendars or self.days)


@dataclass(frozen=True)
class Change:
    """One difference between two policies and the tickets it can move."""

    what: str
    scope: Scope


EVERYTHING = Scope(everything=True)


def policy_changes(old: Policy, new: Policy, *, holidays_moved: bool = False) -> list[Change]:
    """The differences between ``old`` and ``new`` that matter to stored tickets.

    ``holidays_moved``: the ``holidays`` package changed version since ``old`` was applied."""
    changes = _top_level(old, new)
    changes += _calendar_changes(old, new, holidays_moved)
    changes += _plan_changes(old, new)
    changes += _contract_changes(old, new)
    return changes


def _top_level(old: Policy, new: Policy) -> list[Change]:
    changes = []
    if old.default_priority != new.default_priority:
        changes.append(Change("default priority changed", EVERYTHING))
    if old.priorities != new.priorities:
        changes.append(Change("priorities changed", EVERYTHING))
    if old.currency != new.currency:
        changes.append(Change("currency changed (reports only)", Scope()))
    return changes


def calendars_of(policy: Policy) -> dict[str, BusinessCalendar] | None:
    """Every calendar by the name clock rows record (a shorthand plan's own calendar too);
    None if two different calendars share a name."""
    found: dict[str, BusinessCalendar] = dict(policy.calendars)
    for plan in policy.plans.values():
        rows = [*plan.targets.values(), *plan.ownership.values()]
        used = [plan.calendar, *(t.calendar for row in rows for t in row.values())]
        for calendar in used:
            known = found.setdefault(calendar.name, calendar)
            if known is not calendar and _calendar_terms(known) != _calendar_terms(calendar):
                return None
    return found


def _calendar_terms(calendar: BusinessCalendar) -> tuple[object, ...]:
    return (calendar.timezone, calendar.hours, calendar.holidays, calendar.closed)


def _calendar_changes(old: Policy, new: Policy, holidays_moved: bool) -> list[Change]:
    before, after = calendars_of(old), calendars_of(new)
    if before is None or after is None:
        return [Change("two calendars share a name", EVERYTHING)]
    changes = []
    for name in sorted(before.keys() | after.keys()):
        was, now = before.get(name), after.get(name)
        if was is None or now is None:
            verb = "added" if was is None else "removed"
            changes.append(Change(f"calendar '{name}' {verb}", Scope(calendars=frozenset([name]))))
            continue
        what = []
        if was.timezone != now.timezone:
            what.append("time zone")
        if was.hours != now.hours:
            what.append("hours")
        if was.holidays != now.holidays:
            what.append("holidays")
        elif holidays_moved and now.holidays is not None:
            what.append("holidays (the holidays package changed version)")
        if what:
            scope = Scope(
                customers=_customers_counting_on(name, old, new) if "time zone" in what else
                frozenset(),
                calendars=frozenset([name]),
            )  # fmt: skip
            changes.append(Change(f"calendar '{name}' {' and '.join(what)} changed", scope))
        elif was.closed != now.closed:
            moved = sorted(was.closed ^ now.closed)
            days = {name: tuple(_day_range(day, now) for day in moved)}
            listed = ", ".join(day.isoformat() for day in moved)
            what = f"calendar '{name}' closed dates {listed} changed"
            changes.append(Change(what, Scope(days=days)))
    return changes


def _day_range(day: date, calendar: BusinessCalendar) -> tuple[int, int]:
    """The epoch seconds of a local calendar day (start inclusive, end exclusive)."""
    start = datetime.combine(day, time(), calendar.zone)
    end = datetime.combine(day + timedelta(days=1), time(), calendar.zone)
    return int(start.timestamp()), int(end.timestamp())


def _customers_counting_on(calendar: str, *policies: Policy) -> frozenset[str]:
    """Customers with a contract on a plan whose own calendar is ``calendar``: its time zone
    decides on which date a ticket was created, hence which contract it falls under."""
    return frozenset(
        contract.customer
        for policy in policies
        for contract in policy.contracts
        if contract.plan.calendar.name == calendar
    )


def _plan_terms(plan: Plan) -> tuple[object, ...]:
    """What of a plan the clock rows depend on (not credits, not the hour account)."""
    targets = {
        metric: {priority: (t.seconds, t.calendar.name) for priority, t in row.items()}
        for metric, row in plan.targets.items()
        if row
    }
    ownership = {
        group: {priority: (t.seconds, t.calendar.name) for priority, t in row.items()}
        for group, row in plan.ownership.items()
    }
    terms = (plan.calendar.name, targets, plan.pausable, plan.on_reprioritise, plan.warnings)
    return (*terms, ownership) if ownership else terms


def _plan_changes(old: Policy, new: Policy) -> list[Change]:
    changes = []
    for name in sorted(old.plans.keys() | new.plans.keys()):
        was, now = old.plans.get(name), new.plans.get(name)
        if was is None or now is None:
            verb = "added" if was is None else "removed"
            changes.append(Change(f"plan '{name}' {verb}", Scope(plans=frozenset([name]))))
        elif _plan_terms(was) != _plan_terms(now):
            customers = frozenset()
            if was.calendar.zone.key != now.calendar.zone.key:
                customers = _customers_on_plan(name, old, new)
            scope = Scope(customers=customers, plans=frozenset([name]))
            changes.append(Change(f"plan '{name}' targets changed", scope))
        elif (was.credits, was.hours) != (now.credits, now.hours):
            changes.append(Change(f"plan '{name}' credit or hour terms changed (ledger)", Scope()))
    return changes


def _customers_on_plan(plan: str, *policies: Policy) -> frozenset[str]:
    return frozenset(
        c.customer for policy in policies for c in policy.contracts if c.plan.name == plan
    )


def _contracts(policy: Policy) -> dict[str, list[tuple[date, str]]]:
    by_customer: dict[str, list[tuple[date, str]]] = {}
    for contract in policy.contracts:
        by_customer.setdefault(contract.customer, []).append(
            (contract.valid_from, contract.plan.name)
        )
    return {customer: sorted(terms) for customer, terms in by_customer.items()}


def _terms(policy: Policy) -> dict[str, list[tuple[object, ...]]]:
    return {
        customer: sorted(
            (c.valid_from, str(c.monthly_fee), c.opening_hour_balance_minutes)
            for c in policy.contracts
            if c.customer == customer
        )
        for customer in {c.customer for c in policy.contracts}
    }


def _contract_changes(old: Policy, new: Policy) -> list[Change]:
    before, after = _contracts(old), _contracts(new)
    fees_before, fees_after = _terms(old), _terms(new)
    changes = []
    for customer in sorted(before.keys() | after.keys()):
        was, now = before.get(customer), after.get(customer)
        if was != now:
            verb = "added" if was is None else "removed" if now is None else "changed"
            scope = Scope(customers=frozenset([customer]))
            changes.append(Change(f"contract for '{customer}' {verb}", scope))
        elif fees_before.get(customer) != fees_after.get(customer):
            what = f"contract for '{customer}' fee or hour balance changed (ledger and reports)"
            changes.append(Change(what, Scope()))
    return changes


def union(scopes: Iterable[Scope]) -> Scope:
    """One scope selecting what any of ``scopes`` selects."""
    scopes = list(scopes)
    days: dict[str, tuple[tuple[int, int], ...]] = {}
    for scope in scopes:
        for name, ranges in scope.days.items():
            days[name] = days.get(name, ()) + tuple(ranges)
    return Scope(
        everything=any(s.everything for s in scopes),
        customers=frozenset().union(*(s.customers for s in scopes)),
        plans=frozenset().union(*(s.plans for s in scopes)),
        calendars=frozenset().union(*(s.calendars for s in scopes)),
        days=days,
    )
