"""What source translation remembers per ticket, kept in the store with the events it produced.

Snapshot sources are compared with the snapshot kept before them, and acknowledgement and
intervention are emitted only once: that state is one JSON row per source and ticket in
``sla_source_state``, read with :func:`read_state` and written by ``TicketStore.save`` in the
transaction of the batch whose events it produced, so that a restart or a failed batch
changes nothing (the keeper itself: ``consumers.source_intake.StoreKeeper``).

Two receivers of one source (two ``serve`` replicas, ``serve`` beside ``consume --source``)
may translate changes of one ticket at once. Each kept row is therefore written only if the
stored one is still the one its translation read (compare and set, :func:`write_states`);
otherwise the whole batch is refused (:class:`SourceStateMoved`, nothing written) and
translated again against the state the other receiver kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import RecordConflictError

from slaclock.projections.tables import Dialect

StateRow = tuple[str, str, str, str | None]
"""(source, ticket id, the state to keep as JSON, the stored JSON it replaces or None)."""

SOURCE_STATE_TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {p}sla_source_state (
        source_name TEXT NOT NULL,
        ticket_id TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (source_name, ticket_id)){without_rowid}""",
)

INSERT_NEW = """INSERT INTO {p}sla_source_state (source_name, ticket_id, state)
    VALUES (?, ?, ?) ON CONFLICT (source_name, ticket_id) DO NOTHING"""
UPDATE_IF_SEEN = """UPDATE {p}sla_source_state SET state = ?
    WHERE source_name = ? AND ticket_id = ? AND state = ?"""


class SourceStateMoved(RecordConflictError):
    """Another receiver of the source kept a newer state of a ticket since this batch read
    it: nothing of the batch was written; translate it again (a conflict, as when another
    consumer stored the same offsets first)."""

    def __init__(self, source: str, count: int) -> None:
        super().__init__(
            f"source {source!r}: another receiver kept the state of {count} ticket(s) of this"
            " batch meanwhile; the batch was not stored (translate it again)"
        )
        self.source = source


SELECT_SOURCE_STATE = (
    "SELECT state FROM {p}sla_source_state WHERE source_name = ? AND ticket_id = ?"
)


def create_source_state(cursor: Any, dialect: Dialect) -> None:
    """Store schema step 1 -> 2: the table (new stores get it with the others)."""
    for statement in SOURCE_STATE_TABLES:
        cursor.execute(dialect.sql(statement))


def read_state(store: Any, source: str, ticket_id: str) -> str | None:
    """The kept state of one ticket of one source, as stored JSON (None: never seen)."""
    rows = store.query(SELECT_SOURCE_STATE, [source, ticket_id])
    return str(rows[0]["state"]) if rows else None


def state_text(state: dict[str, Any]) -> str:
    """A state as ``sla_source_state`` keeps it."""
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False)


def write_states(cursor: Any, dialect: Dialect, rows: Sequence[StateRow]) -> None:
    """Keep ``rows``, each only if the stored state is still the one it replaces (none for
    a ticket first seen); :class:`SourceStateMoved` otherwise (the caller's transaction then
    rolls back). On PostgreSQL a concurrent writer of the same row is waited for and its
    result compared; on SQLite the batch holds the write lock already."""
    if not rows:
        return
    if dialect.name == "postgres":
        written = _write_postgres(cursor, dialect, rows)
    else:
        new = [(source, ticket, state) for source, ticket, state, old in rows if old is None]
        seen = [(state, src, ticket, old) for src, ticket, state, old in rows if old is not None]
        written = 0
        for statement, params in ((INSERT_NEW, new), (UPDATE_IF_SEEN, seen)):
            if params:
                cursor.executemany(dialect.sql(statement), params)
                written += _raw(cursor).rowcount  # summed over the rows
    if written != len(rows):
        raise SourceStateMoved(rows[0][0], len(rows) - written)


def _raw(cursor: Any) -> Any:
    """The driver's cursor (eventsourcing's SQLite wrapper does not pass ``rowcount`` on)."""
    return getattr(cursor, "sqlite_cursor", cursor)


def _write_postgres(cursor: Any, dialect: Dialect, rows: Sequence[StateRow]) -> int:
    """The rows copied into a temporary table, then two statements: the new ones inserted
    unless present, the others updated where the stored state is the one they replace (a row
    another transaction changed meanwhile is compared again once it commits). Rows written."""
    temp = "slaclock_load_source_state_seen"
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {temp} (source_name TEXT, ticket_id TEXT,"
        " state TEXT, seen TEXT) ON COMMIT DELETE ROWS"
    )
    with cursor.copy(f"COPY {temp} (source_name, ticket_id, state, seen) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(
        dialect.sql(
            "INSERT INTO {p}sla_source_state (source_name, ticket_id, state)"
            f" SELECT source_name, ticket_id, state FROM {temp} WHERE seen IS NULL"
            " ORDER BY source_name, ticket_id ON CONFLICT (source_name, ticket_id) DO NOTHING"
        )
    )
    written = cursor.rowcount
    cursor.execute(
        dialect.sql(
            f"UPDATE {{p}}sla_source_state s SET state = t.state FROM {temp} t"
            " WHERE s.source_name = t.source_name AND s.ticket_id = t.ticket_id"
            " AND s.state = t.seen"
        )
    )
    return int(written + cursor.rowcount)
