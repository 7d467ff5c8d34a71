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
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

from slaclock.domain.policy import NEXT_REPLY, Contract
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


def _kept(queries: Queries, month: str) -> Callable[[str, int | None], Contract | None]:
    """``kept(contract key, edge instant)``: the contract when the policy knows it and the
    instant (None: well inside the month in every zone) falls in ``month`` in the zone of its
    plan's calendar; None otherwise."""
    bounds: dict[str, tuple[int, int]] = {}

    def kept(key: str, edge_at: int | None) -> Contract | None:
        contract = queries.policy.contract_by_key(key)
        if contract is None or edge_at is None:
            return contract
        zone = contract.plan.calendar.zone
        if zone.key not in bounds:
            bounds[zone.key] = month_bounds(month, zone)
        start, end = bounds[zone.key]
        return contract if start <= edge_at < end else None

    return kept


FEW_STALE = 500
"""Up to this many tickets whose rows do not answer are left out of the rows by id; more
(an old ``as_of``, rows of another policy version) and each row is checked against its
ticket row instead."""


def _answering_rows(queries: Queries, as_of: int) -> tuple[str, str, list[Any]]:
    """(join, condition, parameters) keeping the rows of ``c`` that answer as of ``as_of``
    (``Queries.fresh_condition``). Usually every ticket's rows do (``as_of`` now): then
    the month's rows are read without a ticket row each."""
    if queries.rows_current:
        stale = queries.stale_tickets(as_of, created=False)
        if not stale:
            return "", "1 = 1", []
        if len(stale) <= FEW_STALE:
            return "", f"c.ticket_id NOT IN ({', '.join('?' * len(stale))})", stale
    fresh, params = queries.fresh_condition(as_of)
    return " JOIN {p}sla_tickets t ON t.ticket_id = c.ticket_id", fresh, params


_OUTCOME_AT = {
    "met": ("c.stopped_at", "+c.breach_at IS NULL AND c.stopped_at >= ? AND c.stopped_at < ?"),
    "breached": ("c.breach_at", "c.breach_at >= ? AND c.breach_at < ? AND c.breach_at < ?"),
}
"""Per status, the instant of the outcome and the rows that have it in a window as of an
instant (its bounds and ``as_of``): one index range each (``sla_clocks_stop``,
``sla_clocks_breach``, ``sla_cycles_outcome``, ``sla_cycles_breach``), never an ``OR``
that would read every met row (``+`` keeps SQLite off the ``breach_at`` index for ``IS NULL``)."""


def _month_rows(
    queries: Queries,
    month: str,
    as_of: int,
    customer: str | None,
    statuses: tuple[str, ...],
    select: str,
    outer: str,
) -> list[Any]:
    """``outer`` (a query of the table ``rows``) over ``select`` (columns of ``c``, each
    clock row and stored next-reply cycle with an outcome of ``statuses`` in the UTC month
    widened by every zone's offset, as of ``as_of``), ``status`` and ``edge_at``: the
    outcome's instant when it lies within that margin of the month's ends (the caller
    checks those in the zone of the row's contract, :func:`_kept`), NULL when it is inside
    the month in every zone. No list of contracts in the SQL: a provider may have
    thousands."""
    params: list[Any] = []
    start, end = month_bounds(month, _UTC)
    window = [start - MONTH_MARGIN, end + MONTH_MARGIN]
    inside = [start + MONTH_MARGIN, end - MONTH_MARGIN]
    join, fresh, fresh_params = _answering_rows(queries, as_of)
    tables = [("{p}sla_clocks", "", [])]
    if NEXT_REPLY in queries.policy.cycle_metrics:
        tables.append(("{p}sla_cycles", "c.metric = ? AND ", [NEXT_REPLY]))
    parts = []
    for table, metric, metric_params in tables:
        for status in statuses:
            at, found = _OUTCOME_AT[status]
            edge = f"CASE WHEN {at} >= ? AND {at} < ? THEN NULL ELSE {at} END AS edge_at"
            where = f"{metric}{found} AND c.target_seconds IS NOT NULL AND {fresh}"
            params += [*inside, *metric_params, *window]
            params += [*([as_of] if status == "breached" else []), *fresh_params]
            if customer is not None:
                where += " AND c.customer_id = ?"
                params.append(customer)
            parts.append(
                f"SELECT {select}, '{status}' AS status, {edge} FROM {table} c{join} WHERE {where}"
            )
    statement = " UNION ALL ".join(parts)
    query = outer.format(rows=f"({statement}) AS rows")
    return queries.store.query(query, params)


def month_counts(
    queries: Queries, month: str, as_of: int, customer: str | None = None
) -> Counter[CountKey]:
    """Met and breached outcomes of ``month`` (as of ``as_of``; of ``customer`` only, when
    given) per customer, contract, metric, deciding priority and status."""
    key = "customer_id, contract, metric, priority, status, edge_at"
    rows = _month_rows(
        queries,
        month,
        as_of,
        customer,
        ("met", "breached"),
        "c.customer_id, c.contract, c.metric, c.priority",
        f"SELECT {key}, COUNT(*) AS n FROM {{rows}} GROUP BY {key}",
    )
    kept = _kept(queries, month)
    counts: Counter[CountKey] = Counter()
    for r in rows:
        if kept(r["contract"], r["edge_at"]) is not None:
            counts[(r["customer_id"], r["contract"], r["metric"], r["priority"], r["status"])] += r[
                "n"
            ]
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
        ("breached",),
        "c.ticket_id, c.customer_id, c.contract, c.metric, c.priority, c.breach_at",
        "SELECT * FROM {rows}",
    )
    kept = _kept(queries, month)
    found = []
    for row in rows:
        contract = kept(row["contract"], row["edge_at"])
        if contract is not None:
            found.append(
                Outcome(
                    row["ticket_id"], row["customer_id"], contract, row["metric"],
                    row["priority"], "breached", row["breach_at"],
                )
            )  # fmt: skip
    stale = in_month(queries.stale_outcomes(as_of, customer), month)
    return found + [o for o in stale if o.status == "breached"]
