"""What the analytics views need from the configuration, kept as tables in the store.

SQL cannot read the configuration, so the contracts, their targets and the month boundaries
of every plan's time zone (each month of the years slaclock accepts) are written here
whenever the configuration in force changes (``sla_meta`` key ``analytics_terms`` says for
which policy version they were written). The month boundaries are
``projections.queries.month_bounds``, the reports' own month rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from slaclock.domain.instants import FIRST_YEAR, LAST_YEAR
from slaclock.domain.policy import Contract, Policy
from slaclock.projections.event_pages import sqlite_write_lock
from slaclock.projections.meta import ANALYTICS_TERMS, read_meta, write_meta
from slaclock.projections.queries import month_bounds
from slaclock.projections.tables import Dialect


def write_terms(cursor: Any, dialect: Dialect, policy: Policy, version: str) -> bool:
    """Replace the terms by ``policy``'s (version ``version``) unless they are of it
    already; True when written."""
    if read_meta(cursor, dialect, [ANALYTICS_TERMS]).get(ANALYTICS_TERMS) == version:
        return False
    contracts = [_contract_row(c, policy, version) for c in policy.contracts]
    for table in ("sla_analytics_contracts", "sla_analytics_targets", "sla_analytics_months"):
        cursor.execute(dialect.sql(f"DELETE FROM {{p}}{table}"))
    if contracts:
        marks = ", ".join("?" * len(contracts[0]))
        cursor.executemany(
            dialect.sql(f"INSERT INTO {{p}}sla_analytics_contracts VALUES ({marks})"), contracts
        )
    targets = [row for c in policy.contracts for row in _target_rows(c)]
    if targets:
        cursor.executemany(
            dialect.sql("INSERT INTO {p}sla_analytics_targets VALUES (?, ?, ?, ?, ?, ?)"), targets
        )
    zones = {c.plan.calendar.zone.key for c in policy.contracts} | {"UTC"}
    months = [row for zone in sorted(zones) for row in _months(zone)]
    cursor.executemany(
        dialect.sql("INSERT INTO {p}sla_analytics_months VALUES (?, ?, ?, ?, ?, ?)"), months
    )
    write_meta(cursor, dialect, [(ANALYTICS_TERMS, version)])
    return True


def _valid_to(contract: Contract, policy: Policy) -> str | None:
    later = sorted(
        c.valid_from
        for c in policy.contracts
        if c.customer == contract.customer and c.valid_from > contract.valid_from
    )
    return later[0].isoformat() if later else None


def _contract_row(contract: Contract, policy: Policy, version: str) -> tuple[Any, ...]:
    plan, rule = contract.plan, contract.plan.credits
    return (
        contract.key,
        contract.customer,
        plan.name,
        contract.valid_from.isoformat(),
        _valid_to(contract, policy),
        str(contract.monthly_fee),
        policy.currency,
        plan.calendar.name,
        plan.calendar.zone.key,
        str(rule.per_breach) if rule else None,
        str(rule.cap) if rule and rule.cap is not None else None,
        ", ".join(sorted(rule.metrics)) if rule else None,
        version,
    )


def _target_rows(contract: Contract) -> Iterator[tuple[Any, ...]]:
    for metric, row in sorted(contract.plan.targets.items()):
        for priority, target in sorted(row.items()):
            calendar = target.calendar
            yield (contract.key, metric, priority, target.seconds, calendar.name, calendar.zone.key)


def _months(zone_name: str) -> Iterator[tuple[str, str, str, str, int, int]]:
    """Each month of ``zone_name`` under each UTC month it overlaps."""
    zone = ZoneInfo(zone_name)
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        for number in range(1, 13):
            month = f"{year}-{number:02d}"
            start, end = month_bounds(month, zone)
            for utc_month in sorted({_utc_month(start), _utc_month(end - 1)}):
                yield zone_name, utc_month, month, month + "-01", start, end


def _utc_month(instant: int) -> str:
    return datetime.fromtimestamp(instant, UTC).strftime("%Y-%m")


def refresh_terms(store: Any, policy: Policy, version: str) -> bool:
    """Write ``policy``'s terms into the store unless it has them (one transaction, which
    takes its lock first: two processes refreshing at once take turns, the second finds the
    terms written; without it the second's inserts collided with the first's rows)."""
    with store.read() as cursor:
        if read_meta(cursor, store.dialect, [ANALYTICS_TERMS]).get(ANALYTICS_TERMS) == version:
            return False
    with store.write() as cursor:
        if store.dialect.name == "postgres":
            key = store.dialect.prefix + "terms"
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])
        else:
            sqlite_write_lock(cursor, store)
        return write_terms(cursor, store.dialect, policy, version)
