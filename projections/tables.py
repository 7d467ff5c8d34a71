"""The read-model tables and their SQL, written once for SQLite and PostgreSQL.

Statements use ``{p}`` for the table prefix (the PostgreSQL schema) and ``?`` for
parameters; :class:`Dialect` turns them into what each database expects. Tables keyed by
text that every batch writes are created WITHOUT ROWID on SQLite (``{without_rowid}``):
the primary key is then the table's only B-tree, so a row costs one index insert, not two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CYCLES_TABLE = """CREATE TABLE IF NOT EXISTS {p}sla_cycles (
        ticket_id TEXT NOT NULL,
        cycle_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        cycle INTEGER NOT NULL,
        grp TEXT,
        customer_id TEXT NOT NULL,
        contract TEXT,
        priority INTEGER,
        target_seconds BIGINT,
        calendar TEXT,
        started_at BIGINT,
        deadline BIGINT,
        stopped_at BIGINT,
        breach_at BIGINT,
        accrued BIGINT NOT NULL,
        running_since BIGINT,
        paused INTEGER NOT NULL,
        next_alert_at BIGINT,
        paused_seconds BIGINT,
        paused_since BIGINT,
        PRIMARY KEY (ticket_id, cycle_id)){without_rowid}"""
"""The cycles of cycle metrics (next_reply, ownership), one row per cycle: ``cycle_id`` is
``metric/n`` (n from 0 in start order), ``grp`` the ownership cycle's group; a
not_applicable cycle has no target. Otherwise the columns of ``sla_clocks``."""
PAUSED_COLUMNS = ("paused_seconds BIGINT", "paused_since BIGINT")
"""Columns added by store schema 9 to ``sla_clocks`` and ``sla_cycles`` (``ClockSnapshot``'s
``paused_seconds`` and ``paused_since``): null in rows written before until recomputed."""
CYCLES_ALERT_INDEX = (
    """CREATE INDEX IF NOT EXISTS sla_cycles_alert ON {p}sla_cycles (next_alert_at)"""
)
TICKETS_LAST_FACT_INDEX = (
    """CREATE INDEX IF NOT EXISTS sla_tickets_last_fact ON {p}sla_tickets (last_fact_at)"""
)
"""Finds the tickets whose rows do not answer as of an instant (``Queries.stale_tickets``)
without reading every ticket row: a month's report reads only that month's rows."""
CYCLES_OUTCOME_INDEX = (
    """CREATE INDEX IF NOT EXISTS sla_cycles_outcome ON {p}sla_cycles (metric, stopped_at)"""
)
CYCLES_BREACH_INDEX = (
    """CREATE INDEX IF NOT EXISTS sla_cycles_breach ON {p}sla_cycles (metric, breach_at)"""
)
"""A month's breached cycles (``projections.month_counts``), as ``sla_cycles_outcome``
finds its met ones."""

TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {p}sla_event_ids (
        event_id TEXT PRIMARY KEY,
        ticket_id TEXT NOT NULL){without_rowid}""",
    """CREATE TABLE IF NOT EXISTS {p}sla_tickets (
        ticket_id TEXT PRIMARY KEY,
        customer_id TEXT,
        contract TEXT,
        plan TEXT,
        priority INTEGER,
        created_at BIGINT,
        last_fact_at BIGINT,
        last_recorded_at BIGINT NOT NULL,
        pending INTEGER NOT NULL,
        resolved_at BIGINT,
        clock_inputs BYTEA)""",
    """CREATE INDEX IF NOT EXISTS sla_tickets_customer ON {p}sla_tickets (customer_id)""",
    TICKETS_LAST_FACT_INDEX,
    """CREATE TABLE IF NOT EXISTS {p}sla_clocks (
        ticket_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        contract TEXT,
        priority INTEGER,
        target_seconds BIGINT,
        calendar TEXT,
        started_at BIGINT,
        deadline BIGINT,
        stopped_at BIGINT,
        breach_at BIGINT,
        accrued BIGINT NOT NULL,
        running_since BIGINT,
        paused INTEGER NOT NULL,
        next_alert_at BIGINT,
        paused_seconds BIGINT,
        paused_since BIGINT,
        PRIMARY KEY (ticket_id, metric)){without_rowid}""",
    """CREATE INDEX IF NOT EXISTS sla_clocks_alert ON {p}sla_clocks (next_alert_at)""",
    """CREATE INDEX IF NOT EXISTS sla_clocks_breach ON {p}sla_clocks (breach_at)""",
    """CREATE INDEX IF NOT EXISTS sla_clocks_stop ON {p}sla_clocks (stopped_at)""",
    """CREATE INDEX IF NOT EXISTS sla_clocks_customer
        ON {p}sla_clocks (customer_id, breach_at, stopped_at)""",
    CYCLES_TABLE,
    CYCLES_ALERT_INDEX,
    CYCLES_OUTCOME_INDEX,
    CYCLES_BREACH_INDEX,
    """CREATE TABLE IF NOT EXISTS {p}sla_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {p}sla_policies (
        version TEXT PRIMARY KEY,
        content TEXT NOT NULL,
        first_used_at BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {p}sla_ledger (
        entry_id TEXT PRIMARY KEY,
        posted_at BIGINT NOT NULL,
        customer_id TEXT NOT NULL,
        contract TEXT NOT NULL,
        ticket_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        breached_at BIGINT NOT NULL,
        month TEXT NOT NULL,
        posted_month TEXT NOT NULL,
        kind TEXT NOT NULL,
        amount TEXT NOT NULL,
        refers_to TEXT,
        policy_version TEXT,
        attainment TEXT)""",
    """CREATE INDEX IF NOT EXISTS sla_ledger_ticket ON {p}sla_ledger (ticket_id)""",
    """CREATE INDEX IF NOT EXISTS sla_ledger_posted ON {p}sla_ledger (posted_month)""",
    """CREATE INDEX IF NOT EXISTS sla_ledger_refers ON {p}sla_ledger (refers_to)""",
    """CREATE TABLE IF NOT EXISTS {p}sla_work_logs (
        event_id TEXT PRIMARY KEY,
        ticket_id TEXT NOT NULL,
        customer_id TEXT,
        occurred_at TEXT NOT NULL,
        at BIGINT NOT NULL,
        minutes INTEGER NOT NULL,
        mode TEXT NOT NULL,
        actor TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS sla_work_logs_customer ON {p}sla_work_logs (customer_id, at)""",
    """CREATE TABLE IF NOT EXISTS {p}sla_counters (
        name TEXT NOT NULL,
        label TEXT NOT NULL,
        n BIGINT NOT NULL,
        PRIMARY KEY (name, label))""",
    """CREATE TABLE IF NOT EXISTS {p}sla_closed_months (
        month TEXT PRIMARY KEY,
        closed_at BIGINT NOT NULL,
        statement TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {p}sla_policy_log (
        used_from BIGINT NOT NULL,
        version TEXT NOT NULL)""",
)

# What the analytics views need from the configuration (``projections.analytics_terms``).
ANALYTICS_TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {p}sla_analytics_contracts (
        contract TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        plan TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        monthly_fee TEXT NOT NULL,
        currency TEXT NOT NULL,
        calendar TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        credit_per_breach TEXT,
        credit_cap TEXT,
        credited_metrics TEXT,
        policy_version TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {p}sla_analytics_targets (
        contract TEXT NOT NULL,
        metric TEXT NOT NULL,
        priority INTEGER NOT NULL,
        target_seconds BIGINT NOT NULL,
        calendar TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        PRIMARY KEY (contract, metric, priority))""",
    # Each month of a time zone, once under each UTC month it overlaps (``utc_month``): an
    # instant's month is found by equality on its UTC month, then its bounds.
    """CREATE TABLE IF NOT EXISTS {p}sla_analytics_months (
        time_zone TEXT NOT NULL,
        utc_month TEXT NOT NULL,
        month TEXT NOT NULL,
        period_month TEXT NOT NULL,
        start_at BIGINT NOT NULL,
        end_at BIGINT NOT NULL,
        PRIMARY KEY (time_zone, utc_month, month))""",
)

UPSERT_TICKET = """INSERT INTO {p}sla_tickets (ticket_id, customer_id, contract, plan,
    priority, created_at, last_fact_at, last_recorded_at, pending, resolved_at, clock_inputs)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (ticket_id) DO UPDATE SET customer_id = excluded.customer_id,
    contract = excluded.contract, plan = excluded.plan, priority = excluded.priority,
    created_at = excluded.created_at, last_fact_at = excluded.last_fact_at,
    last_recorded_at = excluded.last_recorded_at, pending = excluded.pending,
    resolved_at = excluded.resolved_at, clock_inputs = excluded.clock_inputs"""

CLOCK_COLUMNS = (
    "ticket_id, metric, customer_id, contract, priority, target_seconds, calendar, started_at,"
    " deadline, stopped_at, breach_at, accrued, running_since, paused, next_alert_at,"
    " paused_seconds, paused_since"
)

UPSERT_CLOCK = f"""INSERT INTO {{p}}sla_clocks ({CLOCK_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (ticket_id, metric) DO UPDATE SET customer_id = excluded.customer_id,
    contract = excluded.contract, priority = excluded.priority,
    target_seconds = excluded.target_seconds, calendar = excluded.calendar,
    started_at = excluded.started_at, deadline = excluded.deadline,
    stopped_at = excluded.stopped_at, breach_at = excluded.breach_at,
    accrued = excluded.accrued, running_since = excluded.running_since,
    paused = excluded.paused, next_alert_at = excluded.next_alert_at,
    paused_seconds = excluded.paused_seconds, paused_since = excluded.paused_since"""

CYCLE_COLUMNS = (
    "ticket_id, cycle_id, metric, cycle, grp, customer_id, contract, priority, target_seconds,"
    " calendar, started_at, deadline, stopped_at, breach_at, accrued, running_since, paused,"
    " next_alert_at, paused_seconds, paused_since"
)

UPSERT_CYCLE = f"""INSERT INTO {{p}}sla_cycles ({CYCLE_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (ticket_id, cycle_id) DO UPDATE SET metric = excluded.metric,
    cycle = excluded.cycle, grp = excluded.grp, customer_id = excluded.customer_id,
    contract = excluded.contract, priority = excluded.priority,
    target_seconds = excluded.target_seconds, calendar = excluded.calendar,
    started_at = excluded.started_at, deadline = excluded.deadline,
    stopped_at = excluded.stopped_at, breach_at = excluded.breach_at,
    accrued = excluded.accrued, running_since = excluded.running_since,
    paused = excluded.paused, next_alert_at = excluded.next_alert_at,
    paused_seconds = excluded.paused_seconds, paused_since = excluded.paused_since"""

DELETE_CYCLES = "DELETE FROM {p}sla_cycles WHERE ticket_id = ?"
"""A ticket's cycles go before its new ones are written: late facts can remove cycles."""

DELETE_CLOCK = "DELETE FROM {p}sla_clocks WHERE ticket_id = ? AND metric = ?"
"""A clock that stopped applying (reprioritised to a priority its plan has no target for)."""

LEDGER_COLUMNS = (
    "entry_id, posted_at, customer_id, contract, ticket_id, metric, breached_at, month,"
    " posted_month, kind, amount, refers_to, policy_version, attainment"
)

INSERT_LEDGER = (
    f"INSERT INTO {{p}}sla_ledger ({LEDGER_COLUMNS})"
    f" VALUES ({', '.join('?' * len(LEDGER_COLUMNS.split(', ')))})"
)

INSERT_EVENT_ID = "INSERT INTO {p}sla_event_ids (event_id, ticket_id) VALUES (?, ?)"

UPSERT_META = """INSERT INTO {p}sla_meta (key, value) VALUES (?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value"""


@dataclass(frozen=True)
class Dialect:
    """How one database spells the statements above."""

    name: str
    prefix: str = ""

    def sql(self, statement: str) -> str:
        text = statement.replace("{p}", self.prefix)
        if self.name == "postgres":
            return text.replace("?", "%s").replace("{without_rowid}", "")
        return text.replace("{without_rowid}", " WITHOUT ROWID")


UPSERT_WORK_LOG = """INSERT INTO {p}sla_work_logs
    (event_id, ticket_id, customer_id, occurred_at, at, minutes, mode, actor)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (event_id) DO UPDATE SET customer_id = excluded.customer_id"""

DELETE_WORK_LOG = "DELETE FROM {p}sla_work_logs WHERE event_id = ?"

UPSERT_COUNTER = """INSERT INTO {p}sla_counters (name, label, n) VALUES (?, ?, ?)
    ON CONFLICT (name, label) DO UPDATE SET n = sla_counters.n + excluded.n"""


def parts(statement: str) -> tuple[str, str, str]:
    """``INSERT INTO {p}t (a, b) VALUES (?, ?) ON CONFLICT ...`` as its table, its column
    list and whatever follows the values (the ``ON CONFLICT`` clause, or nothing)."""
    match = re.match(
        r"\s*INSERT INTO \{p\}(\w+)\s*\(([^)]*)\)\s*VALUES\s*\([?,\s]*\)(.*)", statement, re.S
    )
    if match is None:
        raise ValueError(f"not a plain INSERT ... VALUES statement: {statement[:60]!r}")
    columns = ", ".join(name.strip() for name in match.group(2).split(","))
    return match.group(1), columns, match.group(3).strip()


# The dead-letter outbox (``projections.dead_letters``), stored with its batch.
DEAD_LETTER_TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {p}sla_dead_letters (
        id TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        source TEXT NOT NULL,
        reason TEXT NOT NULL,
        key BYTEA,
        value BYTEA NOT NULL,
        headers TEXT NOT NULL,
        relayed_at BIGINT)""",
    """CREATE INDEX IF NOT EXISTS sla_dead_letters_created
        ON {p}sla_dead_letters (created_at, seq)""",
    """CREATE INDEX IF NOT EXISTS sla_dead_letters_unrelayed
        ON {p}sla_dead_letters (created_at, seq) WHERE relayed_at IS NULL""",
)

DEAD_LETTER_COLUMNS = "id, created_at, seq, source, reason, key, value, headers, relayed_at"

INSERT_DEAD_LETTER = f"""INSERT INTO {{p}}sla_dead_letters ({DEAD_LETTER_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"""
