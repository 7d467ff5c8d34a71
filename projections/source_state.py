"""What source translation remembers per ticket, kept in the store with the events it produced.

Snapshot sources are compared with the snapshot kept before them, and acknowledgement and
intervention are emitted only once: that state is one JSON row per source and ticket in
``sla_source_state``, read with :func:`read_state` and written by ``TicketStore.save`` in the
transaction of the batch whose events it produced, so that a restart or a failed batch
changes nothing (the keeper itself: ``consumers.source_intake.StoreKeeper``).
"""

from __future__ import annotations

import json
from typing import Any

from slaclock.projections.tables import Dialect

SOURCE_STATE_TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {p}sla_source_state (
        source_name TEXT NOT NULL,
        ticket_id TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (source_name, ticket_id)){without_rowid}""",
)

UPSERT_SOURCE_STATE = """INSERT INTO {p}sla_source_state (source_name, ticket_id, state)
    VALUES (?, ?, ?)
    ON CONFLICT (source_name, ticket_id) DO UPDATE SET state = excluded.state"""

SELECT_SOURCE_STATE = (
    "SELECT state FROM {p}sla_source_state WHERE source_name = ? AND ticket_id = ?"
)


def create_source_state(cursor: Any, dialect: Dialect) -> None:
    """Store schema step 1 -> 2: the table (new stores get it with the others)."""
    for statement in SOURCE_STATE_TABLES:
        cursor.execute(dialect.sql(statement))


def read_state(store: Any, source: str, ticket_id: str) -> dict[str, Any] | None:
    """The kept state of one ticket of one source (None: never seen)."""
    rows = store.query(SELECT_SOURCE_STATE, [source, ticket_id])
    return json.loads(rows[0]["state"]) if rows else None


def state_row(source: str, ticket_id: str, state: dict[str, Any]) -> tuple[str, str, str]:
    """One ``sla_source_state`` row, as ``TicketStore.save`` writes it."""
    return (source, ticket_id, json.dumps(state, separators=(",", ":"), ensure_ascii=False))
