"""The event store and its read model, written together in one transaction.

slaclock keeps ticket facts in an ``eventsourcing`` application (SQLite by default,
PostgreSQL for scale). The clock read model (tables in ``projections.tables``) is written by
the same recorder in the same transaction as the events that changed it, together with the
``event_id`` index used for deduplication and, for Kafka, the consumer offsets (tracking
records). So after a crash the store holds either all of a batch or none of it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import (
    InterfaceError,
    JSONTranscoder,
    OperationalError,
    PersistenceError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import PostgresProcessRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteProcessRecorder
from eventsourcing.utils import get_topic, retry
from psycopg.sql import SQL

import slaclock.projections.stored_topics  # noqa: F401 (old topics registered before any read)
from slaclock.domain.alerts import next_alert_at
from slaclock.domain.clocks import TicketSnapshot, evaluate
from slaclock.domain.facts import WORK_LOGGED
from slaclock.domain.policy import Policy
from slaclock.domain.ticket import Ticket, ticket_uuid
from slaclock.projections import schema_version
from slaclock.projections import tables as T
from slaclock.projections.ledger import LedgerEntry
from slaclock.projections.tables import Dialect
from slaclock.projections.transcodings import AlertAsList, DatetimeAsISO, FactAsDict

_EVALUATE = object()  # "evaluate the ticket yourself" (None is a valid snapshot: pending)


END_OFFSET = "end_offset:"
"""``sla_meta`` key prefix: a Kafka partition's end offset and when the consumer saw it
("END EPOCH"), followed by the partition's tracking name; written with each batch."""


def end_offset_key(tracking_name: str) -> str:
    return END_OFFSET + tracking_name


@dataclass(frozen=True)
class PartitionLag:
    """How far the store is behind one source partition, as of the consumer's last batch."""

    name: str  # the tracking name, e.g. kafka:TOPIC:PARTITION
    end: int  # the partition's end offset then
    stored: int  # the next offset the store will read
    seen_at: int  # when the consumer saw that end offset (epoch seconds)

    @property
    def lag(self) -> int:
        return max(0, self.end - self.stored)


class StoreError(Exception):
    """A store URL that cannot be used (a usage error); the message says which and why."""


class StoreUnavailable(Exception):
    """The database cannot be opened, or was lost during a command (connection, file lock
    beyond its timeout, disk I/O): one line naming the store (without credentials) and why.
    A later retry may succeed."""

    @classmethod
    def of(cls, url: str, exc: BaseException, doing: str = "unavailable") -> StoreUnavailable:
        if isinstance(exc, StoreUnavailable):
            return exc
        reason = " ".join(str(exc).split()) or type(exc).__name__  # one line
        password = urlparse(url).password
        if password:
            reason = reason.replace(password, "***")
        return cls(f"store {_redact(url)}: {doing}: {reason}")


STORE_FAILURES: tuple[type[BaseException], ...] = (
    StoreUnavailable,
    InterfaceError,
    OperationalError,
    psycopg.InterfaceError,
    psycopg.OperationalError,
    sqlite3.InterfaceError,
    sqlite3.OperationalError,
)
"""What a lost or unreachable database raises (the drivers' errors, and eventsourcing's
translations of them): a command that meets one reports :class:`StoreUnavailable`."""


@dataclass
class Batch:
    """What one transaction writes besides the events: read-model rows, ids and offsets."""

    tickets: list[tuple[Any, ...]] = field(default_factory=list)
    clocks: list[tuple[Any, ...]] = field(default_factory=list)
    event_ids: list[tuple[str, str]] = field(default_factory=list)
    tracking: list[Tracking] = field(default_factory=list)
    ledger: list[tuple[Any, ...]] = field(default_factory=list)
    meta: list[tuple[str, str]] = field(default_factory=list)
    work_logs: list[tuple[Any, ...]] = field(default_factory=list)
    voided_work_logs: list[tuple[str]] = field(default_factory=list)
    counters: list[tuple[str, str, int]] = field(default_factory=list)

    def write(self, cursor: Any, dialect: Dialect, insert_tracking: Any) -> None:
        # Tracking first, as eventsourcing's recorders do: a batch whose offsets another
        # consumer stored meanwhile fails before anything else is written.
        for tracking in self.tracking:
            insert_tracking(cursor, tracking)
        for statement, rows in (
            (T.INSERT_EVENT_ID, self.event_ids),
            (T.UPSERT_TICKET, self.tickets),
            (T.UPSERT_CLOCK, self.clocks),
            (T.INSERT_LEDGER, self.ledger),
            (T.UPSERT_WORK_LOG, self.work_logs),
        ):
            if rows:
                _insert_many(cursor, dialect, statement, rows)
        if self.voided_work_logs:
            cursor.executemany(dialect.sql(T.DELETE_WORK_LOG), self.voided_work_logs)
        if self.meta:
            _insert_many(cursor, dialect, T.UPSERT_META, self.meta)
        if self.counters:
            _insert_many(cursor, dialect, T.UPSERT_COUNTER, self.counters)


def _insert_many(cursor: Any, dialect: Dialect, statement: str, rows: Sequence[Any]) -> None:
    """Many rows of one statement: ``executemany`` on SQLite (in-process, prepared once); on
    PostgreSQL the rows are copied (COPY, formatted by psycopg's C code) into a temporary
    table that empties at commit, then inserted from it with the statement's own ``ON
    CONFLICT`` clause: two round trips per table and batch, and a seventh of the client CPU
    of binding every row. A batch never holds two rows with the same key, which ``ON
    CONFLICT DO UPDATE`` requires."""
    if dialect.name != "postgres":
        cursor.executemany(dialect.sql(statement), rows)
        return
    table, columns, conflict = T.parts(statement)
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


SQLITE_CACHE_KIB = 64 * 1024


class SQLiteStoreRecorder(SQLiteProcessRecorder):
    """SQLite event recorder that also writes the read model in the same transaction."""

    dialect = Dialect("sqlite")

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *map(self.dialect.sql, T.TABLES)]

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


class PostgresStoreRecorder(PostgresProcessRecorder):
    """PostgreSQL event recorder that also writes the read model in the same transaction."""

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.dialect = Dialect("postgres", f'"{datastore.schema}".' if datastore.schema else "")
        self.sql_create_statements.extend(SQL(self.dialect.sql(s)) for s in T.TABLES)  # type: ignore[arg-type]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        """eventsourcing 9.5's ``insert_events`` (one transaction, same lock) without psycopg's
        pipeline mode, which does not allow the COPY the read-model rows and events use.
        (Its other branch, for ``POSTGRES_ENABLE_DB_FUNCTIONS``, is not used by slaclock.)"""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            self._copy_stored_events(curs, stored_events)
            return None

    def _copy_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent]) -> None:
        """The library's table lock and notification, then the events by binary COPY
        instead of its ``unnest`` of a composite array, which psycopg builds in Python (a
        tenth of a consumer's time). The sequence still numbers the rows; slaclock does not
        use the notification ids the library would return (as on SQLite)."""
        self._lock_table(curs)
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
        if batch is not None:
            batch.write(curs, self.dialect, self._insert_tracking)
        return ids


class TicketApplication(Application):
    """The event-sourced application holding Ticket aggregates."""

    name = "slaclock"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DatetimeAsISO())  # replaces the library's, same format
        transcoder.register(FactAsDict())
        transcoder.register(AlertAsList())


def _open_application(env: dict[str, str], url: str) -> TicketApplication:
    """Open the application; its CREATE TABLE IF NOT EXISTS statements can deadlock with a
    PostgreSQL writer holding table locks, so a deadlock is retried a few times."""
    for attempt in range(6):
        try:
            return TicketApplication(env=env)
        except Exception as exc:  # the libraries raise many kinds for a bad URL or server
            if "deadlock" in str(exc).lower() and attempt < 5:
                time.sleep(0.2 * 2**attempt)
                continue
            if isinstance(exc, (PersistenceError, psycopg.Error, sqlite3.Error)):
                raise StoreUnavailable.of(url, exc, "cannot open") from None
            raise StoreError(f"store {_redact(url)}: cannot open: {exc}") from None
    raise AssertionError("unreachable")


def _seconds(url: str, query: dict[str, str], key: str, default: str) -> str:
    """A whole number of seconds from the URL's query (``?lock_timeout=5``)."""
    value = query.get(key, default)
    if not value.isdigit():
        raise StoreError(f"store {_redact(url)!r}: {key}: expected whole seconds, not {value!r}")
    return value


def store_env(url: str) -> dict[str, str]:
    """``eventsourcing`` settings for a store URL (``sqlite:///path`` or ``postgresql://``).

    Query options: ``lock_timeout`` (SQLite: seconds to wait for the file lock, default 30),
    ``connect_timeout`` (PostgreSQL: seconds to wait for a connection, default 30) and
    ``schema`` (PostgreSQL)."""
    parsed = urlparse(url)
    query = dict(part.split("=", 1) for part in parsed.query.split("&") if "=" in part)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            path = path.lstrip("/") or path
        if not path:
            raise StoreError(f"store {url!r}: expected sqlite:///PATH")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": _seconds(url, query, "lock_timeout", "30"),
            "APPLICATION_RECORDER_TOPIC": get_topic(SQLiteStoreRecorder),
        }
    if parsed.scheme in ("postgresql", "postgres"):
        if not parsed.hostname or not parsed.path.strip("/"):
            raise StoreError(
                f"store {_redact(url)!r}: expected postgresql://user:pass@host:port/db"
            )
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parsed.path.strip("/")),
            "POSTGRES_HOST": parsed.hostname,
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_LOCK_TIMEOUT": "30",
            "POSTGRES_CONNECT_TIMEOUT": _seconds(url, query, "connect_timeout", "30"),
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
            "APPLICATION_RECORDER_TOPIC": get_topic(PostgresStoreRecorder),
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"]
        return env
    raise StoreError(
        f"store {_redact(url)!r}: unknown scheme, expected sqlite:/// or postgresql://"
    )


class TicketStore:
    """Tickets in, read-model rows out: the one door to the database."""

    def __init__(self, url: str, policy: Policy, *, cache_size: int = 20000) -> None:
        env = store_env(url)
        env["AGGREGATE_CACHE_MAXSIZE"] = str(cache_size)
        env["DEEPCOPY_FROM_AGGREGATE_CACHE"] = "n"
        # Each ticket has one writer at a time (one file ingest, or the consumer owning its
        # Kafka partition), so cached tickets are current; a stale one fails the version
        # check on save, which clears the cache (see ``save``).
        env["AGGREGATE_CACHE_FASTFORWARD"] = "n"
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k in env}
        try:
            self.app = _open_application(env, url)
        finally:
            os.environ.update(saved)
        self.url = url
        self.policy = policy
        recorder = self.app.recorder
        self.dialect: Dialect = recorder.dialect  # type: ignore[attr-defined]
        self.datastore = recorder.datastore  # type: ignore[attr-defined]
        self._watermark: int | None = None
        try:
            schema_version.ensure(self.datastore, self.dialect)
        except schema_version.NewerSchemaError as exc:
            self.app.close()
            raise StoreError(f"store {_redact(url)}: {exc}") from None

    def close(self) -> None:
        self.app.close()

    # ----------------------------------------------------------------- writing
    def get_tickets(self, ticket_ids: Iterable[str]) -> dict[str, Ticket]:
        """The stored tickets among ``ticket_ids`` (unknown ids are left out).

        The read model's ticket table says which exist, in one query per 500 ids, so new
        tickets cost no event-store lookups.
        """
        existing = self._present("sla_tickets", "ticket_id", list(ticket_ids))
        get = self.app.repository.get
        return {tid: get(ticket_uuid(tid), projector_func=_replay) for tid in sorted(existing)}

    def known_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` the store has already accepted (duplicates)."""
        return self._present("sla_event_ids", "event_id", event_ids)

    def _present(self, table: str, column: str, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.read() as cursor:
            if self.dialect.name == "postgres":  # one query, the keys as one array
                statement = f"SELECT {column} FROM {{p}}{table} WHERE {column} = ANY(?::text[])"
                cursor.execute(self.dialect.sql(statement), [list(keys)])
                return {row[column] for row in cursor.fetchall()}
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ", ".join("?" * len(chunk))
                statement = f"SELECT {column} FROM {{p}}{table} WHERE {column} IN ({marks})"
                cursor.execute(self.dialect.sql(statement), chunk)
                found.update(row[column] for row in cursor.fetchall())
        return found

    def save(
        self,
        tickets: Sequence[Ticket],
        event_ids: Sequence[tuple[str, str]],
        tracking: Sequence[Tracking] = (),
        *,
        snapshots: Mapping[str, TicketSnapshot | None] | None = None,
        ledger: Sequence[LedgerEntry] = (),
        watermark: int | None = None,
        counters: Mapping[tuple[str, str], int] | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Store the tickets' new events with their read-model rows in one transaction.

        ``snapshots`` (by ticket id) saves re-evaluating tickets the caller just evaluated;
        ``watermark`` is the time the engine has reached (alerts due before it were raised);
        ``meta`` are ``sla_meta`` entries to set with them (e.g. a partition's end offset).
        """
        try:
            if watermark is not None:
                self._watermark = max(self.watermark() or watermark, watermark)
            batch = Batch(
                event_ids=list(event_ids),
                tracking=list(tracking),
                ledger=[entry.row() for entry in ledger],
                meta=[("watermark", str(self._watermark))] if watermark is not None else [],
                counters=[(name, label, n) for (name, label), n in (counters or {}).items() if n],
            )
            batch.meta += sorted((meta or {}).items())
            for ticket in tickets:
                if snapshots is not None and ticket.ticket_id in snapshots:
                    self._rows(ticket, batch, snapshot=snapshots[ticket.ticket_id])
                else:
                    self._rows(ticket, batch)
            # Rows in key order: each B-tree page is then visited once per batch, not per row.
            batch.event_ids.sort()
            batch.tickets.sort(key=itemgetter(0))
            batch.clocks.sort(key=itemgetter(0, 1))
            by_key = sorted(tickets, key=lambda t: t.id.hex)
            events = [event for ticket in by_key for event in ticket.collect_events()]
            self.app.events.put(events, batch=batch)
        except Exception:
            # Whatever failed (a read of the watermark, building rows, the write), the cached
            # tickets may hold events that were not stored: forget them all.
            self.forget_cached_tickets()
            self._watermark = None
            raise
        cache = self.app.repository.cache
        if cache is not None:
            for ticket in tickets:
                cache.put(ticket.id, ticket)

    def forget_cached_tickets(self) -> None:
        """Empty the cache of ticket aggregates (after a failed save, or when a consumer's
        partitions change): the next read of a ticket folds it from the store. Empties
        eventsourcing's LRU cache whole, its dict, its recency list and its "full" flag (its
        own ``clear()`` resets only the list; a dict emptied alone makes the next eviction
        fail with a KeyError)."""
        cache: Any = self.app.repository.cache
        if cache is None:
            return
        with cache.lock:
            cache.cache.clear()
            cache.clear()
            cache.full = False

    def rows_for(self, tickets: Iterable[Ticket], policy: Policy | None = None) -> Batch:
        """The read-model rows of ``tickets`` (under ``policy``, default the store's)."""
        batch = Batch()
        for ticket in tickets:
            self._rows(ticket, batch, policy or self.policy)
        return batch

    def ticket_ids(self) -> list[str]:
        """Every ticket id the store knows (pending ones included), sorted."""
        rows = self.query("SELECT ticket_id FROM {p}sla_tickets ORDER BY ticket_id")
        return [row["ticket_id"] for row in rows]

    def _rows(
        self,
        ticket: Ticket,
        batch: Batch,
        policy: Policy | None = None,
        snapshot: TicketSnapshot | object | None = _EVALUATE,
    ) -> None:
        if snapshot is _EVALUATE:
            snapshot = evaluate(ticket.ticket_id, ticket.facts, policy or self.policy)
        assert snapshot is None or isinstance(snapshot, TicketSnapshot)
        watermark = self.watermark() or 0
        batch.tickets.append(ticket_row(ticket, snapshot))
        _work_log_rows(ticket, snapshot, batch)
        if snapshot is None:
            return
        contract = snapshot.contract.key if snapshot.contract else None
        for clock in snapshot.clocks.values():
            if not clock.applicable:
                continue  # no row: a missing metric reads as not_applicable
            batch.clocks.append(
                (
                    ticket.ticket_id,
                    clock.metric,
                    snapshot.customer_id,
                    contract,
                    clock.priority,
                    clock.target_seconds,
                    clock.calendar,
                    clock.started_at,
                    clock.deadline,
                    clock.stopped_at,
                    clock.breach_at,
                    clock.accrued,
                    clock.running_since,
                    int(clock.paused),
                    next_alert_at(clock, watermark),
                )
            )

    # ----------------------------------------------------------------- reading
    @contextmanager
    def read(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self.read() as cursor:
            cursor.execute(self.dialect.sql(statement), list(params))
            return list(cursor.fetchall())

    def load_ticket(self, ticket_id: str) -> Ticket | None:
        return self.get_tickets([ticket_id]).get(ticket_id)

    # ------------------------------------------------------- policy versions
    def policy_version(self) -> str | None:
        """The policy version the read model was computed with (None: empty store)."""
        rows = self.query("SELECT value FROM {p}sla_meta WHERE key = 'policy_version'")
        return rows[0]["value"] if rows else None

    def adopt_policy(self, version: str, text: str, now: int) -> int:
        """Make the read model agree with the policy ``version`` (its TOML ``text``).

        Rows are derived from events *and* the configuration, so when the configuration
        changed since they were written, every ticket is re-evaluated from its events
        (the events themselves never change). Every configuration the store has run with
        is kept, with the moment it came into use, so that "what did we know then" can be
        answered under the policy of then. Returns the number of tickets rebuilt.
        """
        stored = self.policy_version()
        if stored == version:
            return 0
        rebuilt = 0
        if stored is not None:
            # New tables, then one switch: readers never see a half-recomputed model.
            from slaclock.projections.verify import rebuild

            rebuilt = rebuild(self, version=version).rebuilt
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.dialect.sql("SELECT 1 FROM {p}sla_policies WHERE version = ?"), [version]
            )
            if not cursor.fetchall():
                cursor.execute(
                    self.dialect.sql("INSERT INTO {p}sla_policies VALUES (?, ?, ?)"),
                    [version, text, now],
                )
            cursor.execute(
                self.dialect.sql("INSERT INTO {p}sla_policy_log VALUES (?, ?)"), [now, version]
            )
            cursor.execute(self.dialect.sql(T.UPSERT_META), ["policy_version", version])
        return rebuilt

    def policy_at(self, instant: int) -> tuple[str, str] | None:
        """(version, TOML text) of the policy the store ran with at ``instant``."""
        rows = self.query(
            "SELECT l.version, p.content FROM {p}sla_policy_log l JOIN {p}sla_policies p"
            " ON p.version = l.version WHERE l.used_from <= ? ORDER BY l.used_from DESC LIMIT 1",
            [instant],
        )
        return (rows[0]["version"], rows[0]["content"]) if rows else None

    def rebuild(self, batch_size: int = 2000) -> int:
        """Recompute every ticket's rows from the event store, a batch per transaction."""
        ids = self.ticket_ids()
        for start in range(0, len(ids), batch_size):
            batch = Batch()
            for ticket in self.get_tickets(ids[start : start + batch_size]).values():
                self._rows(ticket, batch)
            self._write(batch, clear=ids[start : start + batch_size])
        return len(ids)

    def _write(self, batch: Batch, clear: Sequence[str] = ()) -> None:
        """Write read-model rows without new events (rebuilds, metadata)."""
        recorder: Any = self.app.recorder
        with self.datastore.transaction(commit=True) as cursor:
            for ticket_id in clear:
                cursor.execute(
                    self.dialect.sql("DELETE FROM {p}sla_clocks WHERE ticket_id = ?"), [ticket_id]
                )
            batch.write(cursor, self.dialect, recorder._insert_tracking)

    # ------------------------------------------------------- alerts and ledger
    def watermark(self) -> int | None:
        """The time the engine has reached (epoch s): alerts due before it were raised."""
        if self._watermark is None:
            rows = self.query("SELECT value FROM {p}sla_meta WHERE key = 'watermark'")
            self._watermark = int(rows[0]["value"]) if rows else None
        return self._watermark

    def tickets_due(self, watermark: int) -> list[str]:
        """Tickets with an alert falling due before ``watermark`` (time-driven events),
        the earliest due first (ties: by id)."""
        # No DISTINCT: it makes SQLite walk the primary key instead of the alert index.
        rows = self.query(
            "SELECT ticket_id, next_alert_at FROM {p}sla_clocks WHERE next_alert_at < ?",
            [watermark],
        )
        earliest: dict[str, int] = {}
        for row in rows:
            ticket_id, at = row["ticket_id"], row["next_alert_at"]
            if at < earliest.get(ticket_id, at + 1):
                earliest[ticket_id] = at
        return sorted(earliest, key=lambda t: (earliest[t], t))

    def counters(self) -> dict[tuple[str, str], int]:
        """Running totals kept with the batches: events by outcome, rejections by field,
        alerts by kind (for operators' metrics)."""
        rows = self.query("SELECT name, label, n FROM {p}sla_counters")
        return {(row["name"], row["label"]): int(row["n"]) for row in rows}

    def closed_months(self) -> set[str]:
        return {row["month"] for row in self.query("SELECT month FROM {p}sla_closed_months")}

    def open_credits(self, ticket_ids: Sequence[str]) -> dict[str, dict[tuple[str, int], Any]]:
        """Per ticket, its credit entries not yet reversed, by (metric, breached_at)."""
        found: dict[str, dict[tuple[str, int], Any]] = {}
        for start in range(0, len(ticket_ids), 500):
            chunk = list(ticket_ids[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            rows = self.query(
                f"SELECT {T.LEDGER_COLUMNS} FROM {{p}}sla_ledger l WHERE ticket_id IN ({marks})"
                " AND kind = 'credit' AND NOT EXISTS (SELECT 1 FROM {p}sla_ledger r"
                " WHERE r.refers_to = l.entry_id)",
                chunk,
            )
            for row in rows:
                entry = LedgerEntry.from_row(row)
                found.setdefault(entry.ticket_id, {})[(entry.metric, entry.breached_at)] = entry
        return found

    def ledger_entries(
        self, posted_month: str | None = None, customer: str | None = None
    ) -> list[LedgerEntry]:
        where, params = ["1 = 1"], []
        if posted_month is not None:
            where.append("posted_month = ?")
            params.append(posted_month)
        if customer is not None:
            where.append("customer_id = ?")
            params.append(customer)
        rows = self.query(
            f"SELECT {T.LEDGER_COLUMNS} FROM {{p}}sla_ledger WHERE {' AND '.join(where)}"
            " ORDER BY posted_month, breached_at, entry_id",
            params,
        )
        return [LedgerEntry.from_row(row) for row in rows]

    def closed_statement(self, month: str) -> tuple[str, int] | None:
        """(frozen statement JSON, closed_at) of a closed month."""
        rows = self.query(
            "SELECT statement, closed_at FROM {p}sla_closed_months WHERE month = ?", [month]
        )
        return (rows[0]["statement"], rows[0]["closed_at"]) if rows else None

    def close_month(self, month: str, statement: str, closed_at: int) -> bool:
        """Freeze ``month``'s statement; False when it was already closed."""
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                self.dialect.sql("SELECT 1 FROM {p}sla_closed_months WHERE month = ?"), [month]
            )
            if cursor.fetchall():
                return False
            cursor.execute(
                self.dialect.sql("INSERT INTO {p}sla_closed_months VALUES (?, ?, ?)"),
                [month, closed_at, statement],
            )
        return True

    def partition_lags(self) -> list[PartitionLag]:
        """Every source partition a consumer has reported, with its lag (by name)."""
        rows = self.query(
            "SELECT key, value FROM {p}sla_meta WHERE key LIKE ? ORDER BY key", [END_OFFSET + "%"]
        )
        lags = []
        for row in rows:
            name = row["key"].removeprefix(END_OFFSET)
            end, seen_at = (int(part) for part in row["value"].split())
            lags.append(PartitionLag(name, end, self.max_tracking_id(name) or 0, seen_at))
        return lags

    def max_tracking_id(self, name: str) -> int | None:
        return self.app.recorder.max_tracking_id(name)  # type: ignore[attr-defined]


def _replay(ticket: Ticket | None, events: Iterable[Any]) -> Ticket | None:
    """Rebuild a ticket from its stored events (the library's projector, minus a costly
    runtime-protocol check per event on Python 3.11)."""
    for event in events:
        ticket = event.mutate(ticket)
    return ticket


def _work_log_rows(ticket: Ticket, snapshot: TicketSnapshot | None, batch: Batch) -> None:
    """Work logs for the hour accounts (their customer is known once the ticket is created)."""
    customer = snapshot.customer_id if snapshot else None
    for fact in ticket.facts:
        if fact.type == WORK_LOGGED:
            batch.work_logs.append(
                (
                    fact.event_id,
                    ticket.ticket_id,
                    customer,
                    fact.occurred_at.isoformat(),
                    fact.at,
                    int(fact.details["minutes"]),
                    fact.details["mode"],
                    fact.details["actor"],
                )
            )
    for event_id, voided in ticket.voided.items():
        if voided.fact.type == WORK_LOGGED:
            batch.voided_work_logs.append((event_id,))


def ticket_row(ticket: Ticket, snapshot: TicketSnapshot | None) -> tuple[Any, ...]:
    """The ``sla_tickets`` row of a ticket (pending: facts waiting for the creation)."""
    recorded = ticket.last_recorded_at
    if snapshot is None:
        return (
            ticket.ticket_id, None, None, None, None, None, None, recorded, len(ticket.facts), None
        )  # fmt: skip
    contract = snapshot.contract
    return (
        ticket.ticket_id,
        snapshot.customer_id,
        contract.key if contract else None,
        contract.plan.name if contract else None,
        snapshot.priority,
        snapshot.created_at,
        snapshot.last_fact_at,
        recorded,
        0,
        snapshot.resolved_at,
    )


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
