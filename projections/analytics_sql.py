"""The analytics datasets as SQL: one definition per dataset, for both databases.

Each dataset is a SELECT over the read model (``{p}`` prefix, ``{now}`` for the instant its
statuses are as of) whose values are plain: instants as epoch seconds, dates as
``YYYY-MM-DD`` text, amounts as text. :func:`typed` wraps it with each database's types:
PostgreSQL's views (``timestamptz``, ``date``, ``numeric``), SQLite's typed tables; exports
convert the plain values themselves. The month rule comes from ``sla_analytics_months``,
written from ``projections.queries.month_bounds`` (the reports' own), so a clock falls in
the month the reports count it in. The cycles of cycle metrics (``sla_cycles``: next_reply,
ownership) are clock rows too, with their ``cycle`` number and ownership ``group_name``;
compliance counts next_reply cycles as ``report compliance`` does, never ownership ones
(``report ownership``).
"""

from __future__ import annotations

from slaclock.domain.policy import CYCLE_METRICS, OWNERSHIP
from slaclock.projections.analytics_columns import DATASETS
from slaclock.projections.tables import Dialect

# The outcome rule of ``domain.clocks.ClockSnapshot.view``: a stopped clock with a breach
# instant was breached, without one met; a running one is breached once its breach instant
# is past.
_STATUS = """CASE WHEN c.stopped_at IS NOT NULL AND c.breach_at IS NOT NULL THEN 'breached'
        WHEN c.stopped_at IS NOT NULL THEN 'met'
        WHEN c.breach_at IS NOT NULL AND c.breach_at < {now} THEN 'breached'
        WHEN c.paused = 1 THEN 'paused' ELSE 'running' END"""
_OUTCOME_AT = """CASE WHEN c.breach_at IS NOT NULL
            AND (c.stopped_at IS NOT NULL OR c.breach_at < {now}) THEN c.breach_at
        WHEN c.stopped_at IS NOT NULL THEN c.stopped_at END"""

_CLOCK_ROW = f"""SELECT c.ticket_id, c.metric, c.customer_id, c.contract, t.plan, c.priority,
        {_STATUS} AS status,
        {_OUTCOME_AT} AS outcome_at,
        c.started_at, c.deadline AS due_at, c.stopped_at, c.target_seconds,
        c.accrued AS business_elapsed_seconds, c.running_since, c.calendar,
        c.paused_seconds, c.paused_since"""
# One row per clock (sla_clocks) and per cycle with a target (sla_cycles; a not_applicable
# cycle has none and no row, as a not_applicable clock has no sla_clocks row).
CLOCKS = f"""SELECT s.ticket_id, s.metric, s.customer_id, s.contract, s.plan, s.priority,
    s.status, s.started_at, s.due_at, s.stopped_at,
    CASE WHEN s.status = 'breached' THEN s.outcome_at END AS breached_at,
    s.target_seconds, s.business_elapsed_seconds, s.running_since, s.calendar, k.time_zone,
    m.period_month,
    CASE WHEN cm.month IS NULL THEN 0 ELSE 1 END AS month_closed, s.cycle, s.group_name,
    s.paused_seconds, s.paused_since
FROM (SELECT r.*, COALESCE(r.outcome_at, {{now}}) AS month_at FROM (
    {_CLOCK_ROW}, CAST(NULL AS INTEGER) AS cycle, CAST(NULL AS TEXT) AS group_name
    FROM {{p}}sla_clocks c JOIN {{p}}sla_tickets t ON t.ticket_id = c.ticket_id
    WHERE {{window}}
    UNION ALL
    {_CLOCK_ROW}, c.cycle, c.grp AS group_name
    FROM {{p}}sla_cycles c JOIN {{p}}sla_tickets t ON t.ticket_id = c.ticket_id
    WHERE c.target_seconds IS NOT NULL AND {{cycle_window}}) r) s
LEFT JOIN {{p}}sla_analytics_contracts k ON k.contract = s.contract
LEFT JOIN {{p}}sla_analytics_months m ON m.time_zone = k.time_zone
    AND m.utc_month = {{utc_month}} AND s.month_at >= m.start_at AND s.month_at < m.end_at
LEFT JOIN {{p}}sla_closed_months cm ON cm.month = m.month"""

# Ownership cycles are not compliance (service-levels.md 2.4): ``report ownership`` counts them.
COMPLIANCE = f"""SELECT g.period_month, g.customer_id, g.metric, g.priority, g.met, g.breached,
    g.running,
    CASE WHEN g.met + g.breached > 0 THEN g.met * 1.0 / (g.met + g.breached) END AS attainment,
    g.month_closed
FROM (SELECT period_month, customer_id, metric, priority,
        SUM(CASE WHEN status = 'met' THEN 1 ELSE 0 END) AS met,
        SUM(CASE WHEN status = 'breached' THEN 1 ELSE 0 END) AS breached,
        SUM(CASE WHEN status IN ('running', 'paused') THEN 1 ELSE 0 END) AS running,
        MAX(month_closed) AS month_closed
    FROM ({{clocks}}) x WHERE period_month IS NOT NULL AND metric <> '{OWNERSHIP}'
    GROUP BY period_month, customer_id, metric, priority) g"""

CREDIT_LEDGER = """SELECT l.entry_id, l.kind, l.refers_to, l.posted_at, l.customer_id,
    l.contract, l.ticket_id, l.metric, l.breached_at, l.month || '-01' AS breach_month,
    l.posted_month || '-01' AS period_month, l.amount,
    (SELECT MIN(currency) FROM {p}sla_analytics_contracts) AS currency,
    CASE WHEN l.month <> l.posted_month THEN 1 ELSE 0 END AS is_adjustment, l.policy_version
FROM {p}sla_ledger l"""

CONTRACTS = """SELECT contract, customer_id, plan, valid_from, valid_to, monthly_fee, currency,
    calendar, time_zone, credit_per_breach, credit_cap, credited_metrics, policy_version
FROM {p}sla_analytics_contracts"""

TARGETS = """SELECT g.contract, k.customer_id, k.plan, g.metric, g.priority, g.target_seconds,
    g.calendar, g.time_zone, k.valid_from, k.valid_to
FROM {p}sla_analytics_targets g JOIN {p}sla_analytics_contracts k ON k.contract = g.contract"""

PLAIN = {
    "clocks": CLOCKS,
    "compliance": COMPLIANCE.replace("{clocks}", CLOCKS),
    "credit_ledger": CREDIT_LEDGER,
    "contracts": CONTRACTS,
    "targets": TARGETS,
}
"""Each dataset's definition with plain values (``{p}``, ``{now}``, ``{utc_month}`` and
``{window}`` to fill in: :func:`plain`)."""

UTC_MONTH = {
    "postgres": "to_char(to_timestamp(s.month_at) AT TIME ZONE 'UTC', 'YYYY-MM')",
    "sqlite": "strftime('%Y-%m', s.month_at, 'unixepoch')",
}
"""``YYYY-MM`` of the instant ``s.month_at`` in UTC: where to look up its month in the plan
calendar's zone (``sla_analytics_months``)."""


_WINDOW_BRANCHES = (
    "(c.breach_at >= {lo} AND c.breach_at < {hi})",
    "(+c.breach_at IS NULL AND c.stopped_at >= {lo} AND c.stopped_at < {hi})",
    "(c.stopped_at IS NULL AND (c.breach_at IS NULL OR c.breach_at >= {now}))",
)
WINDOW = "(" + "\n    OR ".join(_WINDOW_BRANCHES) + ")"
"""Clock rows whose outcome instant lies in ``[lo, hi)``, and those still running or paused:
a superset of the rows of the months in that window (narrowed by the indexes on the breach
and stop instants), which the outer ``period_month`` condition then picks exactly. The
``+`` keeps SQLite from reading every met row through the ``breach_at`` index for
``IS NULL``: the stop index's range serves that branch."""
CYCLE_WINDOW = (
    "("
    + "\n    OR ".join(
        f"(c.metric = '{metric}' AND {branch})"
        for metric in CYCLE_METRICS
        for branch in _WINDOW_BRANCHES
    )
    + ")"
)
""":data:`WINDOW` for ``sla_cycles`` (every cycle has one of the cycle metrics), whose
indexes begin with the metric: one index range per metric and branch."""


def plain(dataset: str, dialect: Dialect, now: str, window: tuple[int, int] | None = None) -> str:
    """``dataset``'s plain-valued SELECT for ``dialect``, as of ``now`` (an SQL expression
    of epoch seconds); ``window`` (epoch seconds ``[lo, hi)``): only clock rows that may fall
    in it (see :data:`WINDOW`)."""
    rows = cycle_rows = "1 = 1"
    if window is not None:
        lo, hi = str(int(window[0])), str(int(window[1]))
        rows = WINDOW.replace("{lo}", lo).replace("{hi}", hi)
        cycle_rows = CYCLE_WINDOW.replace("{lo}", lo).replace("{hi}", hi)
    text = dialect.sql(PLAIN[dataset]).replace("{cycle_window}", cycle_rows)
    text = text.replace("{window}", rows)
    return text.replace("{now}", now).replace("{utc_month}", UTC_MONTH[dialect.name])


def _convert(name: str, kind: str, database: str) -> str:
    if database == "postgres":
        return {
            "timestamp": f"to_timestamp({name})",
            "date": f"CAST({name} AS date)",
            "money": f"CAST({name} AS numeric(18,2))",
            "ratio": f"CAST({name} AS numeric)",
            "boolean": f"({name} = 1)",
        }.get(kind, name)
    if kind == "timestamp":
        return f"datetime({name}, 'unixepoch')"
    return {"money": f"CAST({name} AS REAL)", "ratio": f"CAST({name} AS REAL)"}.get(kind, name)


def typed(dataset: str, database: str, source: str) -> str:
    """A SELECT of ``dataset``'s columns in order, converted to ``database``'s types, from
    ``source`` (a plain-valued SELECT of the dataset, or a table of it)."""
    columns = ", ".join(
        f"{_convert('x.' + c.name, c.kind, database)} AS {c.name}"
        for c in DATASETS[dataset].columns
    )
    return f"SELECT {columns} FROM ({source}) x"
