"""The store's schema version: recorded when a store is created, checked when it is opened.

A store says which layout it was written in (``sla_meta`` key ``store_schema_version``), so
that this code refuses a store written by a newer slaclock instead of misreading it, and
upgrades an older one in place, one step at a time, recording the version it reached. Stores
written before versions were recorded have layout 1.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slaclock.projections.alert_outbox import create_alert_outbox
from slaclock.projections.source_state import create_source_state
from slaclock.projections.tables import (
    ANALYTICS_TABLES,
    CYCLES_ALERT_INDEX,
    CYCLES_BREACH_INDEX,
    CYCLES_OUTCOME_INDEX,
    CYCLES_TABLE,
    PAUSED_COLUMNS,
    TICKETS_LAST_FACT_INDEX,
    UPSERT_META,
    Dialect,
)

STORE_SCHEMA_VERSION = 10
"""The layout this code writes and reads. Raise it with a step in ``UPGRADES``."""

KEY = "store_schema_version"

Upgrade = Callable[[Any, Dialect], None]


def add_clock_inputs(cursor: Any, dialect: Dialect) -> None:
    """Step 2 -> 3: a ticket row's clock inputs (``projections.clock_inputs``); the rows
    written before have none, which only means their tickets are folded from events."""
    cursor.execute(dialect.sql("ALTER TABLE {p}sla_tickets ADD COLUMN clock_inputs BYTEA"))


def add_token_sources(cursor: Any, dialect: Dialect) -> None:
    """Step 3 -> 4: ``sla_api_tokens.source`` (tokens scoped to one source's webhooks), when
    the table exists (``projections.api_tokens`` creates it on first use, with the column).
    Its tokens are then unknown to an older slaclock, which refuses the store."""
    _add_column(cursor, dialect, "sla_api_tokens", "source TEXT")


def _add_column(cursor: Any, dialect: Dialect, table: str, column: str) -> None:
    """``ALTER TABLE table ADD COLUMN column`` unless the table lacks or already has it (a
    step may meet a store whose tables were made in the newer layout)."""
    if dialect.name == "postgres":
        statement = f"ALTER TABLE IF EXISTS {{p}}{table} ADD COLUMN IF NOT EXISTS {column}"
        cursor.execute(dialect.sql(statement))
        return
    cursor.execute(f"SELECT name FROM pragma_table_info('{table}')")
    columns = {row["name"] for row in cursor.fetchall()}
    if columns and column.split()[0] not in columns:
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column}")


def add_analytics_terms(cursor: Any, dialect: Dialect) -> None:
    """Step 4 -> 5: the configuration's terms the analytics views read
    (``projections.analytics_terms``), filled when the store is next opened."""
    for statement in ANALYTICS_TABLES:
        cursor.execute(dialect.sql(statement))


def add_ledger_attainment(cursor: Any, dialect: Dialect) -> None:
    """Step 6 -> 7: the attainment an objective credit was computed from
    (``sla_ledger.attainment``); entries posted before are per-breach credits, without one."""
    _add_column(cursor, dialect, "sla_ledger", "attainment TEXT")


def create_cycles(cursor: Any, dialect: Dialect) -> None:
    """Step 7 -> 8: the cycles of cycle metrics (``sla_cycles``), empty: tickets stored
    before have none (their events had no replies or groups for them, or the cycles appear
    when a ``replay`` or a configuration change recomputes them)."""
    for statement in (CYCLES_TABLE, CYCLES_ALERT_INDEX, CYCLES_OUTCOME_INDEX):
        cursor.execute(dialect.sql(statement))


def add_paused_seconds(cursor: Any, dialect: Dialect) -> None:
    """Step 8 -> 9: ``paused_seconds`` and ``paused_since`` of ``sla_clocks`` and
    ``sla_cycles`` (a clock's real paused time). Rows written before keep them null until a
    ``replay``, a configuration change's recompute or the ticket's next event rewrites them."""
    for table in ("sla_clocks", "sla_cycles"):
        for column in PAUSED_COLUMNS:
            _add_column(cursor, dialect, table, column)


def index_last_fact(cursor: Any, dialect: Dialect) -> None:
    """Step 9 -> 10: ``sla_tickets_last_fact``, so that a month's report finds the tickets
    to evaluate from events (facts after its instant) without reading every ticket row, and
    ``sla_cycles_breach``, with which it reads only the month's breached cycles."""
    cursor.execute(dialect.sql(TICKETS_LAST_FACT_INDEX))
    cursor.execute(dialect.sql(CYCLES_BREACH_INDEX))


UPGRADES: dict[int, Upgrade] = {
    1: create_source_state,
    2: add_clock_inputs,
    3: add_token_sources,
    4: add_analytics_terms,
    5: create_alert_outbox,
    6: add_ledger_attainment,
    7: create_cycles,
    8: add_paused_seconds,
    9: index_last_fact,
}
"""``UPGRADES[n](cursor, dialect)`` brings a version-``n`` store to version ``n + 1`` (in the
transaction that records ``n + 1``). 1 -> 2: the sources' kept state (``sla_source_state``);
2 -> 3: ``sla_tickets.clock_inputs``; 3 -> 4: ``sla_api_tokens.source``; 4 -> 5: the
analytics terms tables; 5 -> 6: the alert outbox (``sla_alert_deliveries``); 6 -> 7:
``sla_ledger.attainment``; 7 -> 8: ``sla_cycles``; 8 -> 9: ``paused_seconds`` and
``paused_since`` of ``sla_clocks`` and ``sla_cycles``; 9 -> 10: the indexes
``sla_tickets_last_fact`` and ``sla_cycles_breach``."""


class NewerSchemaError(Exception):
    """The store was written by a newer slaclock, in a layout this code does not know."""


def ensure(datastore: Any, dialect: Dialect) -> int:
    """Check the store's recorded version, record it on a new store (or an old one from
    before versions were recorded) and upgrade an older one; returns the version it had.
    Raises :class:`NewerSchemaError` for a store newer than this code."""
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(dialect.sql("SELECT key, value FROM {p}sla_meta"))
        meta = {row["key"]: row["value"] for row in cursor.fetchall()}
        # No version recorded: a new store (empty sla_meta), in this layout, or one written
        # before versions were recorded, in layout 1.
        found = int(meta.get(KEY) or (1 if meta else STORE_SCHEMA_VERSION))
        if found > STORE_SCHEMA_VERSION:
            raise NewerSchemaError(
                f"written by a newer slaclock (store schema version {found}; this slaclock "
                f"reads versions up to {STORE_SCHEMA_VERSION}): upgrade slaclock to open it"
            )
        for version in range(found, STORE_SCHEMA_VERSION):
            UPGRADES[version](cursor, dialect)
        if meta.get(KEY) != str(STORE_SCHEMA_VERSION):
            cursor.execute(dialect.sql(UPSERT_META), [KEY, str(STORE_SCHEMA_VERSION)])
    return found


def peek(env: dict[str, str]) -> tuple[int, str] | None:
    """(version, note) of an existing store, read without creating or changing anything
    (``env``: the store's ``eventsourcing`` settings); None when there is no store."""
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        path = Path(env["SQLITE_DBNAME"])
        if not path.is_file():
            return None
        with sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True) as conn:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sla_meta'").fetchall():
                return None
            rows = conn.execute("SELECT value FROM sla_meta WHERE key = ?", [KEY]).fetchall()
        return _found(rows)
    import psycopg  # only for a PostgreSQL store (0.3 s of start-up)

    table = f'"{env["POSTGRES_SCHEMA"]}".sla_meta' if "POSTGRES_SCHEMA" in env else "sla_meta"
    with psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        connect_timeout=5,
    ) as conn:
        if conn.execute("SELECT to_regclass(%s)", [table]).fetchone() == (None,):
            return None
        rows = conn.execute(f"SELECT value FROM {table} WHERE key = %s", [KEY]).fetchall()
    return _found(rows)


def _found(rows: list[Any]) -> tuple[int, str]:
    if not rows:
        return 1, "not recorded yet: written before versions were, or never opened since"
    return int(rows[0][0]), f"this slaclock reads up to {STORE_SCHEMA_VERSION}"
