"""Store schema step 8 -> 9 (``schema_version.add_paused_seconds``) on SQLite: it adds
``paused_seconds`` and ``paused_since`` to a schema-8 ``sla_clocks`` and ``sla_cycles``,
existing rows read null, and running it again (or on tables made in the new layout) is a
no-op."""

from __future__ import annotations

import sqlite3

from slaclock.projections import schema_version
from slaclock.projections.tables import CYCLES_TABLE, TABLES, Dialect

SQLITE = Dialect("sqlite")
PAUSED = {"paused_seconds", "paused_since"}


def _old_layout(statement: str) -> str:
    """A table statement as schema 8 wrote it (without the paused columns)."""
    return statement.replace("paused_seconds BIGINT,", "").replace("paused_since BIGINT,", "")


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row["name"] for row in db.execute(f"SELECT name FROM pragma_table_info('{table}')")]


def test_step_nine_adds_the_paused_columns_once() -> None:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    clocks = next(s for s in TABLES if "sla_clocks (" in s)
    for statement in (clocks, CYCLES_TABLE):
        db.execute(SQLITE.sql(_old_layout(statement)))
    db.execute(
        "INSERT INTO sla_clocks (ticket_id, metric, customer_id, accrued, paused)"
        " VALUES ('T-1', 'response', 'acme', 0, 0)"
    )
    assert not PAUSED & set(_columns(db, "sla_clocks"))
    assert schema_version.UPGRADES[8] is schema_version.add_paused_seconds
    for _ in range(2):
        schema_version.add_paused_seconds(db.cursor(), SQLITE)
        for table in ("sla_clocks", "sla_cycles"):
            assert _columns(db, table)[-2:] == ["paused_seconds", "paused_since"]
    row = db.execute("SELECT paused_seconds, paused_since FROM sla_clocks").fetchone()
    assert tuple(row) == (None, None)
