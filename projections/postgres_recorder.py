"""The PostgreSQL event recorder: eventsourcing's, writing the read model in the same
transaction as the events (:class:`projections.batch.Batch`). A module of its own so that
psycopg and eventsourcing's PostgreSQL module are imported only for a PostgreSQL store
(``projections.store_url`` names it by its topic)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL

from slaclock.projections.batch import Batch
from slaclock.projections.event_store import CREATE
from slaclock.projections.tables import Dialect


class PostgresStoreRecorder(PostgresProcessRecorder):
    """PostgreSQL event recorder that also writes the read model in the same transaction."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.dialect = Dialect("postgres", f'"{datastore.schema}".' if datastore.schema else "")
        self.sql_create_statements.extend(SQL(self.dialect.sql(s)) for s in CREATE)  # type: ignore[arg-type]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        """eventsourcing 9.5's ``insert_events`` (one transaction, same lock) without psycopg's
        pipeline mode, which does not allow the COPY the read-model rows and events use.
        (Its other branch, for ``POSTGRES_ENABLE_DB_FUNCTIONS``, is not used by slaclock.)"""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            batch: Batch | None = kwargs.get("batch")
            if stored_events or (batch is not None and batch.ledger):
                self._lock_table(curs)  # the writers' lock: what follows sees every switch
            if batch is not None:
                batch.write_checked(curs, self.dialect)
            if not stored_events:
                return None
            self._copy_stored_events(curs, stored_events)
            return None

    def _copy_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent]) -> None:
        """The library's notification, then the events by binary COPY (under the table lock
        ``insert_events`` took) instead of its ``unnest`` of a composite array, which
        psycopg builds in Python (a tenth of a consumer's time). The sequence still numbers
        the rows; slaclock does not use the notification ids the library would return (as
        on SQLite)."""
        self._notify_channel(curs)
        table = f'"{self.datastore.schema}"."{self.events_table_name}"'
        columns = "originator_id, originator_version, topic, state"
        with curs.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for event in stored_events:
                copy.write_row(
                    (event.originator_id, event.originator_version, event.topic, event.state)
                )

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        ids = super()._insert_events(curs, stored_events, **kwargs)
        batch: Batch | None = kwargs.get("batch")
        if batch is not None:  # the checked part follows once the writers' lock is held
            batch.write_rows(curs, self.dialect, self._insert_tracking)
        return ids
