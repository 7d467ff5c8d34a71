"""The event store: an ``eventsourcing`` application over SQLite or PostgreSQL.

A store URL (``sqlite:///PATH`` or ``postgresql://...``) becomes the library's settings
here, and the recorders are the library's own, extended so that one transaction writes a
batch's events together with its read-model rows (:class:`projections.batch.Batch`).
:class:`EventStore` is the opened store: the application, its SQL dialect and a way to read
and write in a transaction. Failures to open or reach the database are turned into
:class:`StoreUnavailable` (may pass) or :class:`StoreError` (a URL that cannot work).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import (
    InterfaceError,
    JSONTranscoder,
    OperationalError,
    PersistenceError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteProcessRecorder

import slaclock.projections.stored_topics  # noqa: F401 (old topics registered before any read)
from slaclock.projections import analytics, schema_version, tables
from slaclock.projections.alert_outbox import OUTBOX_TABLES
from slaclock.projections.batch import Batch
from slaclock.projections.source_state import SOURCE_STATE_TABLES
from slaclock.projections.store_url import StoreError, hide_password, redact, store_env
from slaclock.projections.tables import Dialect
from slaclock.projections.transcodings import (
    AlertAsList,
    DatetimeAsISO,
    FactAsDict,
    TicketTranscoder,
)


class StoreUnavailable(Exception):
    """The database cannot be opened, or was lost during a command (connection, file lock
    beyond its timeout, disk I/O): one line naming the store (without credentials) and why.
    A later retry may succeed."""

    @classmethod
    def of(cls, url: str, exc: BaseException, doing: str = "unavailable") -> StoreUnavailable:
        if isinstance(exc, StoreUnavailable):
            return exc
        reason = hide_password(url, " ".join(str(exc).split()) or type(exc).__name__)
        return cls(f"store {redact(url)}: {doing}: {reason}")


def store_failures() -> tuple[type[BaseException], ...]:
    """What a lost or unreachable database raises (the drivers' errors, and eventsourcing's
    translations of them): a command that meets one reports :class:`StoreUnavailable`. A
    function (``except store_failures():``), so that psycopg is imported only for a
    PostgreSQL store (0.3 s of every start-up otherwise): without it, none of its errors
    can be raised."""
    found: tuple[type[BaseException], ...] = (
        StoreUnavailable,
        InterfaceError,
        OperationalError,
        sqlite3.InterfaceError,
        sqlite3.OperationalError,
    )
    if "psycopg" in sys.modules:
        import psycopg

        found += (psycopg.InterfaceError, psycopg.OperationalError)
    return found


def driver_errors() -> tuple[type[BaseException], ...]:
    """Every error of the store's libraries (eventsourcing's, sqlite3's, psycopg's when
    it is in use)."""
    found: tuple[type[BaseException], ...] = (PersistenceError, sqlite3.Error)
    if "psycopg" in sys.modules:
        import psycopg

        found += (psycopg.Error,)
    return found


SQLITE_CACHE_KIB = 64 * 1024

CREATE = (
    tables.TABLES
    + tables.DEAD_LETTER_TABLES
    + SOURCE_STATE_TABLES
    + tables.ANALYTICS_TABLES
    + OUTBOX_TABLES
)
"""The read model's tables, the dead-letter outbox, the sources' kept state, the
configuration's terms the analytics views read and the alert outbox, created with the event
store's."""


class SQLiteStoreRecorder(SQLiteProcessRecorder):
    """SQLite event recorder that also writes the read model in the same transaction."""

    dialect = Dialect("sqlite")

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *map(self.dialect.sql, CREATE)]

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        # A page cache that holds the hot parts of the indexes of a large store (SQLite's
        # default is 2 MB); settable inside a transaction, so set on every write.
        c.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        # One executemany for the whole batch: slaclock does not use the notification ids
        # that the application recorder would fetch row by row.
        SQLiteAggregateRecorder._insert_events(self, c, stored_events)
        batch: Batch | None = kwargs.get("batch")
        if batch is not None:
            batch.write(c, self.dialect, self._insert_tracking)
        return None


class TicketApplication(Application):
    """The event-sourced application holding Ticket aggregates."""

    name = "slaclock"

    def construct_transcoder(self) -> Transcoder:
        transcoder = TicketTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DatetimeAsISO())  # replaces the library's, same format
        transcoder.register(FactAsDict())
        transcoder.register(AlertAsList())


def _open_application(env: dict[str, str], url: str) -> TicketApplication:
    """Open the application; its CREATE TABLE IF NOT EXISTS statements can deadlock with a
    PostgreSQL writer holding table locks, or meet another process creating the same table
    or index at once ("tuple concurrently updated"), so those are retried a few times."""
    for attempt in range(6):
        try:
            return TicketApplication(env=env)
        except Exception as exc:  # the libraries raise many kinds for a bad URL or server
            text = str(exc).lower()
            if ("deadlock" in text or "concurrently updated" in text) and attempt < 5:
                time.sleep(0.2 * 2**attempt)
                continue
            if isinstance(exc, driver_errors()):
                raise StoreUnavailable.of(url, exc, "cannot open") from None
            reason = hide_password(url, str(exc))
            raise StoreError(f"store {redact(url)}: cannot open: {reason}") from None
    raise AssertionError("unreachable")


class EventStore:
    """The opened store: the application, its recorder's datastore and SQL dialect."""

    def __init__(self, url: str, *, cache_size: int) -> None:
        env = store_env(url)
        env["AGGREGATE_CACHE_MAXSIZE"] = str(cache_size)
        env["DEEPCOPY_FROM_AGGREGATE_CACHE"] = "n"
        # Each ticket has one writer at a time (one file ingest, or the consumer owning its
        # Kafka partition), so cached tickets are current; a stale one fails the version
        # check on save, which clears the cache (see ``TicketStore.save``).
        env["AGGREGATE_CACHE_FASTFORWARD"] = "n"
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k in env}
        try:
            self.app = _open_application(env, url)
        finally:
            os.environ.update(saved)
        self.url = url
        recorder = self.app.recorder
        self.dialect: Dialect = recorder.dialect  # type: ignore[attr-defined]
        self.datastore = recorder.datastore  # type: ignore[attr-defined]
        try:
            schema_version.ensure(self.datastore, self.dialect)
        except schema_version.NewerSchemaError as exc:
            self.app.close()
            raise StoreError(f"store {redact(url)}: {exc}") from None
        analytics.install(self.datastore, self.dialect)

    def close(self) -> None:
        self.app.close()

    @contextmanager
    def read(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.read() as cursor:
            cursor.execute(self.dialect.sql(statement), list(params))
            return list(cursor.fetchall())

    def max_tracking_id(self, name: str) -> int | None:
        """The last source position stored for ``name`` (e.g. ``kafka:TOPIC:PARTITION``)."""
        return self.app.recorder.max_tracking_id(name)  # type: ignore[attr-defined]
