"""A month's outcomes counted in SQL: what the compliance and credits reports read.

The reports' month is the month in the zone of each contract's plan calendar, and a stored
clock (or cycle) row's outcome as of ``as_of`` is: met at ``stopped_at`` when it stopped
without a breach, breached at ``breach_at`` when that instant is before ``as_of``
(``ClockSnapshot.view``). For rows that answer as of ``as_of`` (``Queries.fresh_condition``)
both rules are plain SQL, so the database counts the month's rows per customer, contract,
metric, priority and status (it reads only that month's rows, through the ``breach_at`` and
``stopped_at`` indexes) instead of returning each row for Python to view. Tickets whose rows
do not answer (facts after ``as_of``, or rows of another policy version) are evaluated from
their events as before and added. ``tests`` hold these counts against
``reports.month_outcomes`` for every month.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from slaclock.domain.policy import NEXT_REPLY
from slaclock.projections.queries import MONTH_MARGIN, Outcome, Queries, month_bounds

CountKey = tuple[str, str, str, int | None, str]
"""(customer id, contract key, metric, deciding priority, status)."""

_UTC = ZoneInfo("UTC")


def in_month(outcomes: Iterable[Outcome], month: str) -> list[Outcome]:
    """Outcomes whose instant falls in ``month`` in the timezone of their plan's calendar."""
    bounds: dict[str, tuple[int, int]] = {}
    kept = []
    for outcome in outcomes:
        zone = outcome.contract.plan.calendar.zone
        if zone.key not in bounds:
            bounds[zone.key] = month_bounds(month, zone)
        start, end = bounds[zone.key]
        if start <= outcome.at < end:
            kept.append(outcome)
    return kept


def _contract_bounds(queries: Queries, month: str) -> tuple[str, list[Any]]:
    """``WITH b(contract, lo, hi)``: each contract's month in its plan calendar's zone."""
    by_zone: dict[str, tuple[int, int]] = {}
    values: list[Any] = []
    for contract in queries.policy.contracts:
        zone = contract.plan.calendar.zone
        if zone.key not in by_zone:
            by_zone[zone.key] = month_bounds(month, zone)
        values += [contract.key, *by_zone[zone.key]]
    row = "(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))"
    rows = ", ".join([row] * (len(values) // 3))
    return f"WITH b(contract, lo, hi) AS (VALUES {rows})", values


def _month_rows(
    queries: Queries, month: str, as_of: int, customer: str | None, select: str, outer: str
) -> list[Any]:
    """``outer`` (a query of the table ``rows``) over ``select`` (columns of ``c``, each
    clock row and stored next-reply cycle with an outcome in ``month`` as of ``as_of``)."""
    if not queries.policy.contracts:
        return []
    with_bounds, params = _contract_bounds(queries, month)
    start, end = month_bounds(month, _UTC)
    lo, hi = start - MONTH_MARGIN, end + MONTH_MARGIN
    fresh, fresh_params = queries.fresh_condition(as_of)
    where = (
        f"{fresh} AND c.target_seconds IS NOT NULL AND ("
        "(c.breach_at IS NULL AND c.stopped_at >= ? AND c.stopped_at < ?"
        " AND c.stopped_at >= b.lo AND c.stopped_at < b.hi)"
        " OR (c.breach_at >= ? AND c.breach_at < ? AND c.breach_at < ?"
        " AND c.breach_at >= b.lo AND c.breach_at < b.hi))"
    )
    where_params: list[Any] = [*fresh_params, lo, hi, lo, hi, as_of]
    if customer is not None:
        where, where_params = where + " AND c.customer_id = ?", [*where_params, customer]
    parts = [
        f"SELECT {select} FROM {{p}}sla_clocks c JOIN b ON b.contract = c.contract"
        f" JOIN {{p}}sla_tickets t ON t.ticket_id = c.ticket_id WHERE {where}"
    ]
    params += where_params
    if NEXT_REPLY in queries.policy.cycle_metrics:
        parts.append(
            f"SELECT {select} FROM {{p}}sla_cycles c JOIN b ON b.contract = c.contract"
            f" JOIN {{p}}sla_tickets t ON t.ticket_id = c.ticket_id"
            f" WHERE c.metric = ? AND {where}"
        )
        params += [NEXT_REPLY, *where_params]
    statement = " UNION ALL ".join(parts)
    query = outer.format(rows=f"({statement}) AS rows")
    return queries.store.query(f"{with_bounds} {query}", params)


def month_counts(
    queries: Queries, month: str, as_of: int, customer: str | None = None
) -> Counter[CountKey]:
    """Met and breached outcomes of ``month`` (as of ``as_of``; of ``customer`` only, when
    given) per customer, contract, metric, deciding priority and status."""
    status = "CASE WHEN c.breach_at IS NULL THEN 'met' ELSE 'breached' END"
    key = "customer_id, contract, metric, priority, status"
    rows = _month_rows(
        queries,
        month,
        as_of,
        customer,
        f"c.customer_id, c.contract, c.metric, c.priority, {status} AS status",
        f"SELECT {key}, COUNT(*) AS n FROM {{rows}} GROUP BY {key}",
    )
    counts: Counter[CountKey] = Counter()
    for r in rows:
        counts[(r["customer_id"], r["contract"], r["metric"], r["priority"], r["status"])] += r["n"]
    return counts + count(in_month(queries.stale_outcomes(as_of, customer), month))


def count(outcomes: Iterable[Outcome]) -> Counter[CountKey]:
    """Outcomes per customer, contract, metric, deciding priority and status."""
    return Counter(
        (o.customer_id, o.contract.key, o.metric, o.priority, o.status) for o in outcomes
    )


def month_breaches(
    queries: Queries, month: str, as_of: int, customer: str | None = None
) -> list[Outcome]:
    """The breached outcomes of ``month`` (as of ``as_of``; of ``customer`` only)."""
    rows = _month_rows(
        queries,
        month,
        as_of,
        customer,
        "c.ticket_id, c.customer_id, c.contract, c.metric, c.priority, c.breach_at",
        "SELECT * FROM {rows} WHERE breach_at IS NOT NULL",
    )
    found = []
    for row in rows:
        contract = queries.policy.contract_by_key(row["contract"])
        if contract is not None:
            found.append(
                Outcome(
                    row["ticket_id"], row["customer_id"], contract, row["metric"],
                    row["priority"], "breached", row["breach_at"],
                )
            )  # fmt: skip
    stale = in_month(queries.stale_outcomes(as_of, customer), month)
    return found + [o for o in stale if o.status == "breached"]
