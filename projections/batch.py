"""What one store transaction writes besides the events: read-model rows, ids and offsets.

The recorders (``projections.event_store``) write a :class:`Batch` in the transaction that
stores its events, so after a crash the store holds either all of a batch or none of it.
A batch names the policy version its rows were computed under; if the read model is of
another version by then (another process applied a configuration change), nothing is
written (:class:`PolicyMoved`): rows of two versions never mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import Tracking

from slaclock.projections import tables
from slaclock.projections.alert_outbox import INSERT_DELIVERY
from slaclock.projections.ledger import first_open
from slaclock.projections.meta import POLICY_VERSION, read_meta
from slaclock.projections.source_state import StateRow, write_states
from slaclock.projections.tables import Dialect

LEDGER_MONTH = 7
"""Index of ``month`` in a ledger row (``LedgerEntry.row``); ``posted_month`` follows it."""


class PolicyMoved(Exception):
    """The read model is of policy version ``stored``, not ``expected`` (the version of the
    policy a batch was computed under): the batch was not written."""

    def __init__(self, stored: str | None, expected: str) -> None:
        super().__init__(
            f"the store's read model is of policy version {stored}, not {expected}: the"
            " configuration was changed by another process"
        )
        self.stored, self.expected = stored, expected


@dataclass
class Batch:
    """The rows of one transaction, by table, with the source positions (tracking) it ends at."""

    tickets: list[tuple[Any, ...]] = field(default_factory=list)
    clocks: list[tuple[Any, ...]] = field(default_factory=list)
    clocks_gone: list[tuple[str, str]] = field(default_factory=list)
    """(ticket, metric) of clocks that may have a row but no longer apply (deleted first)."""
    cycles: list[tuple[Any, ...]] = field(default_factory=list)
    cycles_of: list[tuple[str]] = field(default_factory=list)
    """Tickets whose cycles are written anew (their old cycle rows are deleted first)."""
    event_ids: list[tuple[str, str]] = field(default_factory=list)
    tracking: list[Tracking] = field(default_factory=list)
    ledger: list[tuple[Any, ...]] = field(default_factory=list)
    meta: list[tuple[str, str]] = field(default_factory=list)
    work_logs: list[tuple[Any, ...]] = field(default_factory=list)
    voided_work_logs: list[tuple[str]] = field(default_factory=list)
    counters: list[tuple[str, str, int]] = field(default_factory=list)
    dead_letters: list[tuple[Any, ...]] = field(default_factory=list)
    source_state: list[StateRow] = field(default_factory=list)
    deliveries: list[tuple[Any, ...]] = field(default_factory=list)
    policy_version: str | None = None  # of the rows (None: not checked)

    def write(self, cursor: Any, dialect: Dialect, insert_tracking: Any) -> None:
        """Everything, in a transaction that holds the writers' lock already (SQLite: the
        events were inserted first)."""
        self.write_rows(cursor, dialect, insert_tracking)
        self.write_checked(cursor, dialect)

    def write_rows(self, cursor: Any, dialect: Dialect, insert_tracking: Any) -> None:
        """The rows that need not wait for the writers' lock."""
        # Tracking first, as eventsourcing's recorders do: a batch whose offsets another
        # consumer stored meanwhile fails before anything else is written.
        for tracking in self.tracking:
            insert_tracking(cursor, tracking)
        if self.cycles_of:
            cursor.executemany(dialect.sql(tables.DELETE_CYCLES), self.cycles_of)
        if self.clocks_gone:
            cursor.executemany(dialect.sql(tables.DELETE_CLOCK), self.clocks_gone)
        for statement, rows in (
            (tables.INSERT_EVENT_ID, self.event_ids),
            (tables.UPSERT_TICKET, self.tickets),
            (tables.UPSERT_CLOCK, self.clocks),
            (tables.UPSERT_CYCLE, self.cycles),
            (tables.UPSERT_WORK_LOG, self.work_logs),
        ):
            if rows:
                _insert_many(cursor, dialect, statement, rows)
        if self.voided_work_logs:
            cursor.executemany(dialect.sql(tables.DELETE_WORK_LOG), self.voided_work_logs)
        if self.meta:
            _insert_many(cursor, dialect, tables.UPSERT_META, self.meta)
        if self.counters:
            _insert_many(cursor, dialect, tables.UPSERT_COUNTER, self.counters)
        if self.source_state:  # SourceStateMoved if another receiver kept a newer one
            write_states(cursor, dialect, self.source_state)
        if self.dead_letters:  # a few per batch: no COPY
            cursor.executemany(dialect.sql(tables.INSERT_DEAD_LETTER), self.dead_letters)
        if self.deliveries:  # the alert outbox (``projections.alert_outbox``)
            cursor.executemany(dialect.sql(INSERT_DELIVERY), self.deliveries)

    def write_checked(self, cursor: Any, dialect: Dialect) -> None:
        """Under the writers' lock (so that a policy switch or a month's close that
        committed just before is seen): refuse the batch if the read model moved to another
        policy version; post the ledger entries into the months open now."""
        if self.policy_version is not None:
            stored = read_meta(cursor, dialect, [POLICY_VERSION]).get(POLICY_VERSION)
            if stored != self.policy_version:
                raise PolicyMoved(stored, self.policy_version)
        if self.ledger:
            _insert_many(cursor, dialect, tables.INSERT_LEDGER, self._ledger_now(cursor, dialect))

    def _ledger_now(self, cursor: Any, dialect: Dialect) -> list[tuple[Any, ...]]:
        """The ledger rows, each posted into the first month open now (the batch was
        prepared earlier: a month may have been closed since)."""
        cursor.execute(dialect.sql("SELECT month FROM {p}sla_closed_months"))
        closed = {row["month"] for row in cursor.fetchall()}
        rows = []
        for row in self.ledger:
            posted = first_open(row[LEDGER_MONTH], closed)
            if posted != row[LEDGER_MONTH + 1]:
                row = (*row[: LEDGER_MONTH + 1], posted, *row[LEDGER_MONTH + 2 :])
            rows.append(row)
        return rows


def _insert_many(cursor: Any, dialect: Dialect, statement: str, rows: Sequence[Any]) -> None:
    """Many rows of one statement: ``executemany`` on SQLite (in-process, prepared once); on
    PostgreSQL the rows are copied (COPY, formatted by psycopg's C code) into a temporary
    table that empties at commit, then inserted from it with the statement's own ``ON
    CONFLICT`` clause: two round trips per table and batch instead of one per row. A batch
    never holds two rows with the same key, which ``ON CONFLICT DO UPDATE`` requires."""
    if dialect.name != "postgres":
        cursor.executemany(dialect.sql(statement), rows)
        return
    table, columns, conflict = tables.parts(statement)
    temp = f"slaclock_load_{table}"
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {dialect.prefix}{table})"
        " ON COMMIT DELETE ROWS"
    )
    with cursor.copy(f"COPY {temp} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    insert = f"INSERT INTO {{p}}{table} ({columns}) SELECT {columns} FROM {temp} {conflict}"
    cursor.execute(dialect.sql(insert))
