"""The read-model tables derived from events alone, as a rebuild and a verify see them.

``sla_tickets``, ``sla_clocks``, ``sla_work_logs`` and ``sla_cycles`` (:data:`REBUILT`) hold
nothing but what ``TicketStore.rows_for`` computes from each ticket's events and the policy,
so they can be recomputed and compared. Their columns are read from their upserts in
``projections.tables``, so that module stays the one place that lists them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slaclock.projections import tables
from slaclock.projections.batch import Batch
from slaclock.projections.tables import Dialect

# table, its upsert in projections.tables, the Batch field holding its rows, its primary key
_PROJECTIONS = (
    ("sla_tickets", tables.UPSERT_TICKET, "tickets", ("ticket_id",)),
    ("sla_clocks", tables.UPSERT_CLOCK, "clocks", ("ticket_id", "metric")),
    ("sla_work_logs", tables.UPSERT_WORK_LOG, "work_logs", ("event_id",)),
    ("sla_cycles", tables.UPSERT_CYCLE, "cycles", ("ticket_id", "cycle_id")),
)
REBUILT: tuple[str, ...] = tuple(p[0] for p in _PROJECTIONS)
KEYS: dict[str, tuple[str, ...]] = {p[0]: p[3] for p in _PROJECTIONS}
_UPSERTS = {p[0]: p[1] for p in _PROJECTIONS}
_FIELDS = {p[0]: p[2] for p in _PROJECTIONS}


def columns(table: str) -> tuple[str, ...]:
    """The columns of ``table`` in the order the store writes them (its upsert statement)."""
    match = re.search(r"INSERT INTO \{p\}" + table + r"\s*\(([^)]*)\)", _UPSERTS[table])
    if match is None:  # pragma: no cover - a change in projections.tables
        raise RuntimeError(f"cannot find the columns of {table} in projections.tables")
    return tuple(name.strip() for name in match.group(1).split(","))


def rows_where(
    cursor: Any, dialect: Dialect, table: str, column: str, values: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """The rows of ``table`` (in :func:`columns` order) whose ``column`` is one of ``values``."""
    if not values:
        return []
    names = columns(table)
    marks = ", ".join("?" * len(values))
    cursor.execute(
        dialect.sql(f"SELECT {', '.join(names)} FROM {{p}}{table} WHERE {column} IN ({marks})"),
        list(values),
    )
    # SQLite's rows are sequences, PostgreSQL's dicts (both in the order selected)
    return [
        tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in cursor.fetchall()
    ]


def batch_rows(batch: Batch, table: str) -> list[tuple[Any, ...]]:
    """The rows of ``table`` in ``batch``."""
    rows: list[tuple[Any, ...]] = getattr(batch, _FIELDS[table])
    return rows


def key(table: str, row: Sequence[Any]) -> tuple[Any, ...]:
    """The primary key of a row of ``table``."""
    names = columns(table)
    return tuple(row[names.index(name)] for name in KEYS[table])


def plain(value: Any) -> Any:
    """A value as both databases return it (booleans as integers)."""
    return int(value) if isinstance(value, bool) else value


def keyed(batch: Batch, table: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The rows of ``table`` in ``batch``, by primary key."""
    return {key(table, row): tuple(plain(v) for v in row) for row in batch_rows(batch, table)}
