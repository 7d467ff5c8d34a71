"""Read ``slaclock.toml`` into a domain ``Policy``.

Two steps: pydantic checks the shape (``slaclock.config_schema``: unknown keys, wrong
types), then the builder here checks meaning (unknown calendars, bad intervals and durations,
unknown countries). Either way the user gets one :class:`ConfigError` naming the file, the key
and what is wrong.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import holidays
from pydantic import ValidationError

from slaclock.config_schema import (
    CalendarConfig,
    CreditsConfig,
    FileConfig,
    HolidaysConfig,
    HoursConfig,
    PlanConfig,
    WithinConfig,
)
from slaclock.consumers.source_config import SourceConfig, SourceConfigError, parse_sources
from slaclock.domain.calendar import BusinessCalendar
from slaclock.domain.durations import parse_duration
from slaclock.domain.holiday_rules import HolidayRule
from slaclock.domain.hour_account import BillingRule
from slaclock.domain.instants import END as RANGE_END
from slaclock.domain.policy import (
    ANY,
    METRICS,
    NEXT_REPLY,
    OWNERSHIP,
    Contract,
    CreditRule,
    HourAccountPlan,
    Plan,
    Policy,
    Target,
)
from slaclock.domain.policy_version import policy_version
from slaclock.domain.weekly_hours import parse_hours, parse_service_level, service_level_hours


class ConfigError(Exception):
    """A configuration that cannot be used; the message names file, key and problem."""


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy with its version (hash of the parsed configuration and of the ``holidays``
    package version it was read under) and the text it was read from."""

    policy: Policy
    version: str
    text: str
    holidays_version: str = ""
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    """The ``[sources.NAME]`` tables; they move no clock, so the version leaves them out."""


def installed_holidays_version() -> str:
    """The version of the installed ``holidays`` package (it decides public holidays)."""
    return str(holidays.__version__)


def load_policy(path: str | Path) -> tuple[Policy, str]:
    """The policy in ``path`` and its content hash (the policy version)."""
    loaded = read_policy(path)
    return loaded.policy, loaded.version


def read_policy(path: str | Path) -> LoadedPolicy:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}: not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
            f" (line {line})"
        ) from None
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str, holidays_version: str | None = None) -> LoadedPolicy:
    """Parse configuration text; ``source`` names it in error messages. The version hashes
    ``holidays_version`` in (default: the installed package's)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        parsed = FileConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        what = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{source}: {key}: {what}") from None
    try:
        policy = build_policy(parsed)
    except _KeyError as exc:
        raise ConfigError(f"{source}: {exc.key}: {exc.problem}") from None
    try:
        sources = parse_sources(data.get("sources", {}), policy.priorities)
    except SourceConfigError as exc:
        raise ConfigError(f"{source}: {exc.key}: {exc.problem}") from None
    if holidays_version is None:
        holidays_version = installed_holidays_version()
    clocks = {key: value for key, value in data.items() if key != "sources"}
    version = policy_version(clocks, holidays_version)
    return LoadedPolicy(policy, version, text, holidays_version, sources)


def load_sources(path: str | Path) -> dict[str, SourceConfig]:
    """The sources declared in the configuration file ``path`` (:class:`ConfigError`
    naming ``sources.NAME.key`` when one is wrong)."""
    return read_policy(path).sources


def policy_from_text(text: str, source: str) -> Policy:
    """The policy of a configuration text (``source`` names it in messages): a stored policy
    version's text, or the configuration handed to the decoding process (picklable)."""
    return parse_policy(text, source).policy


class _KeyError(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


def _percent(value: str | float | int, key: str) -> Decimal:
    text = str(value).strip()
    try:
        number = Decimal(text[:-1].strip() if text.endswith("%") else text)
    except InvalidOperation:
        raise _KeyError(key, f'bad percentage {value!r}, expected e.g. "10%"') from None
    if number < 0:
        raise _KeyError(key, f"bad percentage {value!r}: must not be negative")
    return number / 100


def _holiday_rule(cfg: HolidaysConfig | None, key: str) -> HolidayRule | None:
    if cfg is None:
        return None
    rule = HolidayRule(cfg.country, cfg.subdivision, tuple(cfg.categories))
    try:
        rule.validate()
    except ValueError as exc:
        raise _KeyError(key, str(exc)) from None
    return rule


def _calendar(name: str, cfg: CalendarConfig) -> BusinessCalendar:
    key = f"calendars.{name}"
    try:
        hours = parse_hours(cfg.hours)
    except ValueError as exc:
        raise _KeyError(f"{key}.hours", str(exc)) from None
    holidays = _holiday_rule(cfg.holidays, f"{key}.holidays")
    try:
        return BusinessCalendar(name, cfg.timezone, hours, holidays, cfg.closed)
    except ValueError as exc:
        raise _KeyError(f"{key}.timezone", str(exc)) from None


def _shorthand(name: str, cfg: PlanConfig, priorities: list[int]) -> tuple[BusinessCalendar, dict]:
    """The calendar and response targets of an ``HxDxR`` plan (its calendar is named after it)."""
    key = f"plans.{name}"
    assert cfg.service_level is not None
    try:
        per_day, days, response_hours = parse_service_level(cfg.service_level)
    except ValueError as exc:
        raise _KeyError(f"{key}.service_level", str(exc)) from None
    if not cfg.day_starts or not cfg.timezone:
        missing = "day_starts" if not cfg.day_starts else "timezone"
        raise _KeyError(f"{key}.{missing}", "required with service_level")
    try:
        hours = service_level_hours(per_day, days, cfg.day_starts)
    except ValueError as exc:
        raise _KeyError(f"{key}.day_starts", str(exc)) from None
    holidays = _holiday_rule(cfg.holidays, f"{key}.holidays")
    try:
        calendar = BusinessCalendar(name, cfg.timezone, hours, holidays, ())
    except ValueError as exc:
        raise _KeyError(f"{key}.timezone", str(exc)) from None
    target = Target(response_hours * 3600, calendar)
    return calendar, {"response": {p: target for p in priorities}}


def _plan(
    name: str, cfg: PlanConfig, calendars: dict[str, BusinessCalendar], priorities: list[int]
) -> Plan:
    key = f"plans.{name}"
    if cfg.service_level is not None:
        if cfg.calendar or cfg.targets:
            raise _KeyError(key, "use either service_level or calendar with targets, not both")
        calendar, targets = _shorthand(name, cfg, priorities)
    else:
        calendar, targets = _calendar_targets(key, cfg, calendars, priorities)
    return Plan(
        name=name,
        calendar=calendar,
        targets=targets,
        pausable=frozenset(cfg.pausable),
        on_reprioritise=cfg.on_reprioritise,
        credits=_credit_rule(cfg.credits, f"{key}.credits") if cfg.credits else None,
        warnings=_warnings(cfg.warnings, f"{key}.warnings"),
        hours=_hours(cfg.hours, f"{key}.hours") if cfg.hours else None,
        ownership=_ownership(f"{key}.ownership", cfg.ownership, calendar, calendars, priorities),
    )


def _ownership(
    key: str,
    table: dict[str, dict[str, str | WithinConfig]],
    calendar: BusinessCalendar,
    calendars: dict[str, BusinessCalendar],
    priorities: list[int],
) -> dict[str, dict[int | str, Target]]:
    """A plan's ownership targets: group (or "*") -> priority (or "*") -> target."""
    rows: dict[str, dict[int | str, Target]] = {}
    for group, row in table.items():
        if not 1 <= len(group) <= 128:
            raise _KeyError(f"{key}.{group}", "a group name has 1 to 128 characters")
        if not row:
            raise _KeyError(f"{key}.{group}", "no targets")
        specific = {p: spec for p, spec in row.items() if p != ANY}
        targets: dict[int | str, Target] = dict(
            _target_row(f"{key}.{group}", specific, calendar, calendars, priorities)
        )
        if ANY in row:
            targets[ANY] = _target(f"{key}.{group}.{ANY}", row[ANY], calendar, calendars)
        rows[group] = targets
    return rows


def _calendar_targets(
    key: str, cfg: PlanConfig, calendars: dict[str, BusinessCalendar], priorities: list[int]
) -> tuple[BusinessCalendar, dict]:
    """The calendar and targets of a plan that names its calendar and lists its targets."""
    for extra in ("day_starts", "timezone", "holidays"):
        if getattr(cfg, extra) is not None:
            raise _KeyError(f"{key}.{extra}", "only allowed with service_level")
    if cfg.calendar is None:
        raise _KeyError(f"{key}.calendar", "missing (a plan needs a calendar or service_level)")
    if cfg.calendar not in calendars:
        raise _KeyError(f"{key}.calendar", f"unknown calendar {cfg.calendar!r}")
    calendar = calendars[cfg.calendar]
    if not any(cfg.targets.values()) and not cfg.ownership:
        raise _KeyError(f"{key}.targets", "plan without targets")
    targets = {
        metric: _target_row(f"{key}.targets.{metric}", row, calendar, calendars, priorities)
        for metric, row in cfg.targets.items()
    }
    return calendar, targets


def _target_row(
    key: str,
    row: dict[str, str | WithinConfig],
    calendar: BusinessCalendar,
    calendars: dict[str, BusinessCalendar],
    priorities: list[int],
) -> dict[int, Target]:
    """One metric's targets by priority; a target may count on a calendar of its own."""
    targets = {}
    for prio_text, spec in row.items():
        tkey = f"{key}.{prio_text}"
        try:
            priority = int(prio_text)
        except ValueError:
            raise _KeyError(tkey, "priority must be an integer") from None
        if priority not in priorities:
            raise _KeyError(tkey, f"priority {priority} is not one of {priorities}")
        targets[priority] = _target(tkey, spec, calendar, calendars)
    return targets


def _target(
    key: str,
    spec: str | WithinConfig,
    calendar: BusinessCalendar,
    calendars: dict[str, BusinessCalendar],
) -> Target:
    """One target: a duration on ``calendar``, or ``{ within, calendar }``."""
    target_calendar = calendar
    text = spec
    if isinstance(spec, WithinConfig):
        if spec.calendar not in calendars:
            raise _KeyError(f"{key}.calendar", f"unknown calendar {spec.calendar!r}")
        target_calendar, text = calendars[spec.calendar], spec.within
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise _KeyError(key, str(exc)) from None
    return Target(seconds, target_calendar)


def _credit_rule(cfg: CreditsConfig, key: str) -> CreditRule:
    if OWNERSHIP in cfg.metrics:
        raise _KeyError(
            f"{key}.metrics",
            "ownership is internal (an OLA between groups): it earns no credit",
        )
    return CreditRule(
        metrics=frozenset(cfg.metrics),
        per_breach=_percent(cfg.per_breach, f"{key}.per_breach"),
        cap=None if cfg.cap is None else _percent(cfg.cap, f"{key}.cap"),
    )


def _warnings(texts: list[str | int], key: str) -> tuple[int, ...]:
    """Warning thresholds as whole percentages of a target, sorted, each once."""
    warnings = []
    for i, text in enumerate(texts):
        percent = _percent(text, f"{key}.{i}") * 100
        if not 0 < percent < 100 or percent != int(percent):
            raise _KeyError(f"{key}.{i}", f"{text!r}: expected a whole percentage 1-99")
        warnings.append(int(percent))
    return tuple(sorted(set(warnings)))


def _minutes(text: str, key: str, *, zero: bool = False, signed: bool = False) -> int:
    """Whole minutes of a duration; ``zero``/``signed`` allow "0m" and "-2h"."""
    raw = text.strip()
    sign = -1 if signed and raw.startswith("-") else 1
    raw = raw.removeprefix("-") if signed else raw
    if zero and raw and raw.strip("PTpt0hmsHMS") == "":
        return 0  # "0m", "0h", "PT0M", "0"
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise _KeyError(key, str(exc)) from None
    if seconds % 60:
        raise _KeyError(key, f"{text!r} is not a whole number of minutes")
    return sign * seconds // 60


def _hours(cfg: HoursConfig, key: str) -> HourAccountPlan:
    try:
        rule = BillingRule(
            increment_minutes=_minutes(cfg.increment, f"{key}.increment"),
            on_site_minimum_minutes=_minutes(
                cfg.on_site_minimum, f"{key}.on_site_minimum", zero=True
            ),
            waive_on_response_breach=cfg.waive_on_response_breach,
        )
    except ValueError as exc:
        raise _KeyError(key, str(exc)) from None
    return HourAccountPlan(
        rule=rule,
        monthly_credit_minutes=_minutes(cfg.monthly_credit, f"{key}.monthly_credit", zero=True),
        overdraft_limit_minutes=_minutes(cfg.overdraft_limit, f"{key}.overdraft_limit", zero=True),
        rollover=cfg.rollover,
    )


def _check_reach(plans: dict[str, Plan], configs: dict[str, PlanConfig]) -> None:
    """Every target must end within the years calendars serve, even when its clock starts
    at the last supported instant: a deadline no calendar can compute would fail the
    events of a whole batch. Checked once per calendar, with its longest target, on a
    fresh copy (the real calendar compiles only the years the events need)."""
    longest: dict[int, tuple[BusinessCalendar, int, str]] = {}
    for name, plan in plans.items():
        rows = [(f"targets.{m}", row) for m, row in plan.targets.items()]
        rows += [(f"ownership.{group}", row) for group, row in plan.ownership.items()]
        for where, row in rows:
            for priority, target in row.items():
                key = f"plans.{name}.{where}.{priority}"
                if configs[name].service_level is not None:
                    key = f"plans.{name}.service_level"
                known = longest.get(id(target.calendar))
                if known is None or target.seconds > known[1]:
                    longest[id(target.calendar)] = (target.calendar, target.seconds, key)
    for calendar, seconds, key in longest.values():
        probe = BusinessCalendar(
            calendar.name, calendar.timezone, calendar.hours, calendar.holidays, calendar.closed
        )
        try:
            probe.add(RANGE_END, seconds)
        except ValueError as exc:
            hours = f"{seconds / 3600:.10g} h"
            raise _KeyError(key, f"{hours} of open time is too long ({exc})") from None


def build_policy(cfg: FileConfig) -> Policy:
    """Turn a shape-checked configuration into the domain's Policy."""
    if not cfg.priorities:
        raise _KeyError("priorities", "must list at least one priority")
    if cfg.default_priority not in cfg.priorities:
        raise _KeyError(
            "default_priority", f"{cfg.default_priority} is not one of {cfg.priorities}"
        )
    calendars = {name: _calendar(name, c) for name, c in cfg.calendars.items()}
    plans = {name: _plan(name, p, calendars, cfg.priorities) for name, p in cfg.plans.items()}
    _check_reach(plans, cfg.plans)
    contracts = []
    for i, c in enumerate(cfg.contracts):
        if c.plan not in plans:
            raise _KeyError(f"contracts.{i}.plan", f"unknown plan {c.plan!r}")
        if c.monthly_fee < 0:
            raise _KeyError(f"contracts.{i}.monthly_fee", "must not be negative")
        opening = _minutes(
            c.opening_hour_balance, f"contracts.{i}.opening_hour_balance", zero=True, signed=True
        )
        contracts.append(Contract(c.customer, plans[c.plan], c.valid_from, c.monthly_fee, opening))
    assert {*METRICS, NEXT_REPLY} >= {m for p in plans.values() for m in p.targets}
    return Policy(
        currency=cfg.currency,
        default_priority=cfg.default_priority,
        priorities=tuple(cfg.priorities),
        calendars=calendars,
        plans=plans,
        contracts=tuple(contracts),
    )
