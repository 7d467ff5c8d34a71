"""Small builders for tests: domain objects built directly (calendars, plans, contracts, a
policy, facts), so that domain tests do not depend on the configuration loader; and the
sample's policy as the loader reads it, for the tests of ingest and the store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from slaclock.config import load_policy
from slaclock.domain.calendar import BusinessCalendar
from slaclock.domain.facts import Fact
from slaclock.domain.holiday_rules import HolidayRule
from slaclock.domain.policy import Contract, CreditRule, Plan, Policy, Reprioritise, Target
from slaclock.domain.weekly_hours import parse_hours, service_level_hours

HOUR = 3600

FIXTURE_CONFIG = Path(__file__).parent.parent / "examples" / "slaclock.toml"


def contract_policy() -> Policy:
    return load_policy(FIXTURE_CONFIG)[0]


def fact(
    n: int | str,
    kind: str,
    when: str,
    *,
    customer: str | None = None,
    priority: int | None = None,
    group: str | None = None,
    **details: str,
) -> Fact:
    return Fact(
        event_id=f"e{n}",
        type=f"ticket.{kind}",
        occurred_at=datetime.fromisoformat(when),
        customer_id=customer,
        priority=priority,
        details=details,
        group=group,
    )


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


# ------------------------------------------------------------- domain objects, built directly
def calendar(
    name: str,
    timezone: str = "UTC",
    hours: Mapping[str, str] | None = None,
    holidays: HolidayRule | None = None,
    closed: Iterable[date] = (),
) -> BusinessCalendar:
    """A business calendar; by default open around the clock."""
    weekly = parse_hours(dict(hours or {"mon-sun": "00:00-24:00"}))
    return BusinessCalendar(name, timezone, weekly, holidays, tuple(closed))


def plan(
    name: str,
    default: BusinessCalendar,
    targets: Mapping[str, Mapping[int, float | tuple[float, BusinessCalendar]]],
    *,
    pausable: Iterable[str] = (),
    on_reprioritise: Reprioritise = "recalculate",
    credits: CreditRule | None = None,
) -> Plan:
    """A plan; each target is hours on the plan's calendar, or (hours, another calendar)."""

    def target(spec: float | tuple[float, BusinessCalendar]) -> Target:
        hours, on = spec if isinstance(spec, tuple) else (spec, default)
        return Target(int(hours * HOUR), on)

    rows = {metric: {p: target(t) for p, t in row.items()} for metric, row in targets.items()}
    return Plan(name, default, rows, frozenset(pausable), on_reprioritise, credits)


def shorthand_plan(name: str, level: tuple[int, int, int], day_starts: str, **options) -> Plan:
    """An "HxDxR" plan: H hours a day from ``day_starts`` on D days, response within R hours,
    on a calendar named after the plan (as the configuration builds it)."""
    per_day, days, response = level
    weekly = service_level_hours(per_day, days, day_starts)
    own = BusinessCalendar(
        name, options.pop("timezone", "UTC"), weekly, options.pop("holidays", None)
    )
    priorities = options.pop("priorities", (1, 2, 3))
    return Plan(
        name, own, {"response": {p: Target(response * HOUR, own) for p in priorities}}, **options
    )


def credits(metrics: Iterable[str], per_breach: str, cap: str | None) -> CreditRule:
    """Credits as percentages of the monthly fee, e.g. ``credits(["response"], "5", "25")``."""
    percent = Decimal(100)
    return CreditRule(
        frozenset(metrics),
        Decimal(per_breach) / percent,
        None if cap is None else Decimal(cap) / percent,
    )


def contract(customer: str, on: Plan, valid_from: str = "2025-01-01", fee: str = "100") -> Contract:
    return Contract(customer, on, date.fromisoformat(valid_from), Decimal(fee))


def policy(
    *contracts: Contract,
    calendars: Iterable[BusinessCalendar] = (),
    priorities: tuple[int, ...] = (1, 2, 3),
    default_priority: int = 3,
) -> Policy:
    """A policy of these contracts; their plans and the given calendars are named in it."""
    plans = {c.plan.name: c.plan for c in contracts}
    named = {c.name: c for c in calendars}
    return Policy("EUR", default_priority, priorities, named, plans, tuple(contracts))


def sample_policy() -> Policy:
    """What ``examples/slaclock.toml`` promises (calendars, plans, contracts), built directly."""
    germany, luxembourg = HolidayRule("DE", "NW"), HolidayRule("LU")
    office = calendar(
        "office", "Europe/Berlin", {"mon-fri": "09:00-17:00"}, germany,
        (date(2025, 12, 24), date(2025, 12, 31)),
    )  # fmt: skip
    support_lu = calendar("support-lu", "Europe/Luxembourg", {"mon-fri": "07:30-18:00"}, luxembourg)
    faults_lu = calendar("faults-lu", "Europe/Luxembourg", {"mon-sun": "07:00-19:00"}, luxembourg)
    always = calendar("always")
    german = {"timezone": "Europe/Berlin", "holidays": germany}
    basic = shorthand_plan(
        "basic-8x5x12", (8, 5, 12), "09:00", credits=credits(["response"], "10", "50"), **german
    )
    managed = shorthand_plan(
        "managed-10x5x4", (10, 5, 4), "08:00", credits=credits(["response"], "10", "50"), **german
    )
    professional = plan("professional", office, {"response": {1: 3, 2: 6, 3: 9}})
    advanced = plan(
        "advanced",
        office,
        {
            "response": {1: (1, always), 2: 3, 3: 6},
            "resolution": {1: (8, always), 2: 24, 3: 40},
        },
        pausable=["resolution"],
        credits=credits(["response", "resolution"], "5", "25"),
    )
    business = plan(
        "business",
        faults_lu,
        {"response": {1: 3, 2: 3, 3: 3}, "intervention": {1: 6, 2: 6, 3: 6}},
        on_reprioritise="restart",
    )
    return policy(
        contract("acme", basic, fee="262.00"),
        contract("acme", managed, "2025-09-01", "262.00"),
        contract("globex", advanced, fee="318.00"),
        contract("initech", professional, fee="58.00"),
        contract("umbrella", business, "2025-06-01", "318.00"),
        calendars=[office, support_lu, faults_lu, always],
    )
