"""What a large recompute changes in the read model: rows new or different, and rows gone.

A recompute of many tickets (``projections.recompute``) keeps beside the live tables only
the rows that differ from the live ones, and the keys of live rows the new rows lack, so
its switch writes what changed: new hours for a calendar move clock rows, not ticket rows
or work logs. New rows are compared with live rows read in the same transaction as the
events they were computed from; a ticket that gets events later is compared again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from slaclock.domain.facts import WORK_LOGGED
from slaclock.domain.ticket import Ticket
from slaclock.projections.batch import Batch
from slaclock.projections.derived_tables import KEYS, REBUILT, batch_rows, columns, rows_where
from slaclock.projections.rebuild import insert_rows
from slaclock.projections.store import TicketStore

GONE = "sla_gone"  # + the shadow suffix: (table, ticket, key) of live rows to delete

Key = tuple[Any, ...]
Gone = tuple[str, str, Any, Any]  # table, ticket id, first key column, second (or None)


@dataclass
class RowDiff:
    """The rows of some tickets that differ from the live ones, the live rows gone, and by
    table the columns in which a changed row differs from the live row it replaces (what
    the switch sets: an index on other columns is left alone)."""

    rows: Batch = field(default_factory=Batch)
    gone: list[Gone] = field(default_factory=list)
    moved: dict[str, set[str]] = field(default_factory=dict)

    def add(self, other: RowDiff) -> None:
        for table in REBUILT:
            batch_rows(self.rows, table).extend(batch_rows(other.rows, table))
        self.gone += other.gone
        add_moved(self.moved, other.moved)


def add_moved(into: dict[str, set[str]], more: dict[str, set[str]]) -> None:
    """Add the moved columns ``more`` to ``into``."""
    for table, names in more.items():
        into.setdefault(table, set()).update(names)


def gone_table(suffix: str) -> str:
    return f"""CREATE TABLE {{p}}{GONE}{suffix} (
        tbl TEXT NOT NULL, ticket_id TEXT NOT NULL, key1 TEXT NOT NULL, key2 TEXT)"""


def live_rows(
    cursor: Any, store: TicketStore, ticket_ids: Sequence[str], tickets: Sequence[Ticket]
) -> dict[str, list[Key]]:
    """The live rows of ``ticket_ids`` in each :data:`REBUILT` table, in column order; work
    logs are found by the event ids of ``tickets``' work-log facts (their primary key: a
    work log row only ever comes from one)."""
    logs = [f.event_id for t in tickets for f in t.facts if f.type == WORK_LOGGED]
    logs += [i for t in tickets for i, v in t.voided.items() if v.fact.type == WORK_LOGGED]
    return {
        table: rows_where(cursor, store.dialect, table, "event_id", logs)
        if table == "sla_work_logs"
        else rows_where(cursor, store.dialect, table, "ticket_id", ticket_ids)
        for table in REBUILT
    }


def diff(batch: Batch, live: dict[str, list[Key]]) -> RowDiff:
    """The rows of ``batch`` that are not in ``live`` as they are, and the keys of the rows
    of ``live`` that ``batch`` lacks (both for the same tickets)."""
    changes = RowDiff()
    for table in REBUILT:
        names = columns(table)
        key_of = itemgetter(*(names.index(name) for name in KEYS[table]))
        ticket_at = names.index("ticket_id")
        old = {key_of(row): row for row in live.get(table, [])}
        changed = batch_rows(changes.rows, table)
        replaced: list[tuple[Key, Key]] = []  # (live row, new row) where they differ
        for row in batch_rows(batch, table):
            before = old.pop(key_of(row), None)
            if before != row:  # True == 1: booleans compare as stored
                changed.append(row)
                if before is not None:
                    replaced.append((before, row))
        if replaced:
            changes.moved[table] = _moved(names, replaced)
        for key, row in old.items():
            first, second = key if len(KEYS[table]) > 1 else (key, None)
            changes.gone.append((table, row[ticket_at], first, second))
    return changes


def _moved(names: Sequence[str], replaced: list[tuple[Key, Key]]) -> set[str]:
    """The columns in which some live row differs from the row replacing it (compared a
    column of all rows at a time: a few per shard, not one per row)."""
    befores, afters = zip(*replaced, strict=True)
    moved = set()
    for at, name in enumerate(names):
        column = itemgetter(at)
        if list(map(column, befores)) != list(map(column, afters)):
            moved.add(name)
    return moved


def write_diff(
    cursor: Any, store: TicketStore, changes: RowDiff, suffix: str, moved: dict[str, set[str]]
) -> None:
    """Add ``changes`` to the shadow tables (table + ``suffix``) and the gone keys, and the
    columns they move to ``moved`` (what the switch will set)."""
    add_moved(moved, changes.moved)
    insert_rows(cursor, store, changes.rows, suffix)
    if changes.gone:
        cursor.executemany(
            store.dialect.sql(f"INSERT INTO {{p}}{GONE}{suffix} VALUES (?, ?, ?, ?)"),
            changes.gone,
        )


def forget(cursor: Any, store: TicketStore, ticket_ids: Sequence[str], suffix: str) -> None:
    """Drop what the shadow tables hold for ``ticket_ids`` (they are compared again)."""
    if not ticket_ids:
        return
    marks = ", ".join("?" * len(ticket_ids))
    for table in (*REBUILT, GONE):
        cursor.execute(
            store.dialect.sql(f"DELETE FROM {{p}}{table}{suffix} WHERE ticket_id IN ({marks})"),
            list(ticket_ids),
        )


def apply_diff(cursor: Any, store: TicketStore, suffix: str, moved: dict[str, set[str]]) -> None:
    """Make the live tables what the shadow says: delete the gone rows, then insert the
    shadow rows, or set the ``moved`` columns of the live rows they replace (same
    transaction as the caller's)."""
    sql = store.dialect.sql
    for table in REBUILT:
        keys = KEYS[table]
        wanted = ", ".join(f"key{n}" for n in range(1, len(keys) + 1))
        target = keys[0] if len(keys) == 1 else f"({', '.join(keys)})"
        cursor.execute(
            sql(
                f"DELETE FROM {{p}}{table} WHERE {target} IN"
                f" (SELECT {wanted} FROM {{p}}{GONE}{suffix} WHERE tbl = ?)"
            ),
            [table],
        )
        names = columns(table)
        sets = [name for name in names if name in moved.get(table, ())]
        update = ", ".join(f"{name} = excluded.{name}" for name in sets)
        cursor.execute(
            sql(
                f"INSERT INTO {{p}}{table} ({', '.join(names)})"
                f" SELECT {', '.join(names)} FROM {{p}}{table}{suffix} WHERE true"
                f" ON CONFLICT ({', '.join(keys)}) DO "
                + (f"UPDATE SET {update}" if update else "NOTHING")
            )
        )
