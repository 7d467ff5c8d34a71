"""Replay and verify: the read model recomputed from the event store.

The rows of ``sla_tickets``, ``sla_clocks`` and ``sla_work_logs`` (:data:`REBUILT`) are
derived from each ticket's events (and the policy) by ``TicketStore.rows_for``, so they can
always be recomputed. This module does it two ways, a page of tickets at a time so that
memory stays bounded whatever the size of the store:

- :func:`verify` recomputes every ticket's rows in memory and compares them, column by
  column, with the live rows; it changes nothing.
- :func:`rebuild` recomputes them into new tables (``sla_tickets_new`` and so on, same DDL
  as :data:`projections.tables.TABLES`), then switches them in one transaction (drop the old
  tables, rename the new ones), so readers never see a half-built model. Its progress (the
  last aggregate done) is kept in ``sla_meta``, so an interrupted rebuild resumes where it
  stopped. Events stored while it runs (their position in the event store is above the mark
  taken when it started) are caught up before and during the switch, which holds the
  writers' lock.

Tickets are enumerated from the event store (each ``Ticket.Registered`` event), not from the
read model, so a ticket whose rows were lost is found too; live rows of a ticket that has no
events are reported as extra (and are gone after a rebuild).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from slaclock.domain.ticket import Ticket, ticket_uuid
from slaclock.projections import tables as T
from slaclock.projections.store import Batch, TicketStore
from slaclock.projections.stored_topics import topics_of

# The projections rebuilt from events: table, its upsert in projections.tables, the Batch
# field holding its rows (``TicketStore.rows_for``), its primary key. Every table has a
# ``ticket_id`` column.
_PROJECTIONS = (
    ("sla_tickets", "UPSERT_TICKET", "tickets", ("ticket_id",)),
    ("sla_clocks", "UPSERT_CLOCK", "clocks", ("ticket_id", "metric")),
    ("sla_work_logs", "UPSERT_WORK_LOG", "work_logs", ("event_id",)),
)
_BATCH_FIELDS = {f.name for f in fields(Batch)}
_AVAILABLE = [p for p in _PROJECTIONS if hasattr(T, p[1]) and p[2] in _BATCH_FIELDS]
REBUILT: tuple[str, ...] = tuple(p[0] for p in _AVAILABLE)
KEYS: dict[str, tuple[str, ...]] = {p[0]: p[3] for p in _AVAILABLE}
_UPSERTS = {p[0]: p[1] for p in _AVAILABLE}
_FIELDS = {p[0]: p[2] for p in _AVAILABLE}
NEW = "_new"  # suffix of the tables a rebuild fills before the switch
# sla_meta keys of a rebuild in progress
POSITION, MARK, POLICY = "replay_position", "replay_mark", "replay_policy"
_REGISTERED = topics_of(Ticket.Registered)  # and its old topics, from before a move
_IS_REGISTERED = f"topic IN ({', '.join('?' * len(_REGISTERED))})"


def columns(table: str) -> tuple[str, ...]:
    """The columns of ``table`` in the order the store writes them (its upsert statement)."""
    statement = getattr(T, _UPSERTS[table])
    match = re.search(r"INSERT INTO \{p\}" + table + r"\s*\(([^)]*)\)", statement)
    if match is None:  # pragma: no cover - a change in projections.tables
        raise RuntimeError(f"cannot find the columns of {table} in projections.tables")
    return tuple(name.strip() for name in match.group(1).split(","))


# --------------------------------------------------------------------- event store pages
class EventStore:
    """Read access to the stored ticket events, a page of aggregates at a time."""

    def __init__(self, store: TicketStore) -> None:
        self.store = store
        self.sqlite = store.dialect.name == "sqlite"
        self.table = store.dialect.prefix + store.app.recorder.events_table_name  # type: ignore[attr-defined]
        # the position of an event in the store: commit order (SQLite rowid; PostgreSQL
        # notification ids, which the recorder hands out under a table lock)
        self.sequence = "rowid" if self.sqlite else "notification_id"

    def sql(self, statement: str) -> str:
        return self.store.dialect.sql(statement.replace("{events}", self.table))

    def key(self, text: str) -> Any:
        """An aggregate id as the database compares it (position kept as text in sla_meta)."""
        return text if self.sqlite else UUID(text)

    def key_of(self, ticket_id: str) -> Any:
        uuid = ticket_uuid(ticket_id)
        return uuid.hex if self.sqlite else uuid

    def count(self, cursor: Any, after: str | None = None) -> int:
        where, params = self._after(after)
        cursor.execute(
            self.sql(
                "SELECT COUNT(*) AS n FROM {events} WHERE originator_version = 1"
                f" AND {_IS_REGISTERED}{where}"
            ),
            [*_REGISTERED, *params],
        )
        return int(cursor.fetchall()[0]["n"])

    def last_position(self, cursor: Any) -> int:
        cursor.execute(self.sql(f"SELECT MAX({self.sequence}) AS n FROM {{events}}"))
        value = cursor.fetchall()[0]["n"]
        return int(value) if value is not None else 0

    def page(self, cursor: Any, after: str | None, limit: int) -> tuple[list[Ticket], str | None]:
        """Up to ``limit`` tickets whose aggregate id follows ``after``, and the last id."""
        where, params = self._after(after)
        cursor.execute(
            self.sql(
                "SELECT originator_id FROM {events} WHERE originator_version = 1"
                f" AND {_IS_REGISTERED}{where} ORDER BY originator_id LIMIT ?"
            ),
            [*_REGISTERED, *params, limit],
        )
        keys = [row["originator_id"] for row in cursor.fetchall()]
        return self.load(cursor, keys), (str(keys[-1]) if keys else None)

    def changed_since(self, cursor: Any, position: int) -> list[Any]:
        """Ticket aggregate ids with events stored after ``position``."""
        cursor.execute(
            self.sql(
                f"SELECT DISTINCT originator_id FROM {{events}} WHERE {self.sequence} > ?"
                " AND originator_id IN (SELECT originator_id FROM {events}"
                f" WHERE originator_version = 1 AND {_IS_REGISTERED}) ORDER BY originator_id"
            ),
            [position, *_REGISTERED],
        )
        return [row["originator_id"] for row in cursor.fetchall()]

    def registered(self, cursor: Any, keys: Sequence[Any]) -> set[str]:
        """Which of the aggregate ids ``keys`` are tickets in the event store."""
        if not keys:
            return set()
        marks = ", ".join("?" * len(keys))
        cursor.execute(
            self.sql(
                "SELECT originator_id FROM {events} WHERE originator_version = 1"
                f" AND {_IS_REGISTERED} AND originator_id IN ({marks})"
            ),
            [*_REGISTERED, *keys],
        )
        return {str(row["originator_id"]) for row in cursor.fetchall()}

    def load(self, cursor: Any, keys: Sequence[Any]) -> list[Ticket]:
        """The tickets with aggregate ids ``keys``, folded from their events (one query)."""
        if not keys:
            return []
        marks = ", ".join("?" * len(keys))
        cursor.execute(
            self.sql(
                "SELECT originator_id, originator_version, topic, state FROM {events}"
                f" WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version"
            ),
            list(keys),
        )
        mapper = self.store.app.mapper
        tickets: list[Ticket] = []
        current: Any = None
        ticket: Any = None
        for row in cursor.fetchall():
            if row["originator_id"] != current:
                if isinstance(ticket, Ticket):
                    tickets.append(ticket)
                current, ticket = row["originator_id"], None
            event = mapper.to_domain_event(
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
            )
            ticket = event.mutate(ticket)
        if isinstance(ticket, Ticket):
            tickets.append(ticket)
        return tickets

    def _after(self, after: str | None) -> tuple[str, list[Any]]:
        return ("", []) if not after else (" AND originator_id > ?", [self.key(after)])


@contextmanager
def snapshot(store: TicketStore) -> Iterator[Any]:
    """A read transaction that sees one state of the store for all its statements."""
    with store.read() as cursor:
        if store.dialect.name == "postgres":
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield cursor


def _live_rows(
    store: TicketStore, cursor: Any, table: str, ticket_ids: Sequence[str]
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    if not ticket_ids:
        return {}
    names = columns(table)
    marks = ", ".join("?" * len(ticket_ids))
    cursor.execute(
        store.dialect.sql(
            f"SELECT {', '.join(names)} FROM {{p}}{table} WHERE ticket_id IN ({marks})"
        ),
        list(ticket_ids),
    )
    rows = (tuple(_plain(row[name]) for name in names) for row in cursor.fetchall())
    return {_key(table, row): row for row in rows}


def _key(table: str, row: Sequence[Any]) -> tuple[Any, ...]:
    names = columns(table)
    return tuple(row[names.index(name)] for name in KEYS[table])


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def _rebuilt(batch: Batch, table: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = getattr(batch, _FIELDS[table])
    return {_key(table, row): tuple(_plain(v) for v in row) for row in rows}


# ----------------------------------------------------------------------------- verify
@dataclass(frozen=True)
class Difference:
    """One way the live read model differs from the one recomputed from events.

    ``kind``: ``changed`` (a column differs), ``missing`` (a row the events imply is not
    live) or ``extra`` (a live row that the events do not imply)."""

    table: str
    key: dict[str, Any]  # the row's primary key
    kind: str
    column: str | None = None
    live: Any = None
    rebuilt: Any = None
    ticket_id: str | None = None

    @property
    def metric(self) -> str | None:
        return self.key.get("metric")

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "ticket_id": self.ticket_id,
            "metric": self.metric,
            "key": self.key,
            "kind": self.kind,
            "column": self.column,
            "live": self.live,
            "rebuilt": self.rebuilt,
        }


@dataclass
class VerifyResult:
    tickets: int = 0  # tickets recomputed from the event store
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REBUILT, 0))
    mismatches: int = 0  # every difference found (``differences`` keeps the first ones)
    differences: list[Difference] = field(default_factory=list)
    policy_version: str | None = None

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def add(self, difference: Difference, limit: int) -> None:
        self.mismatches += 1
        if len(self.differences) < limit:
            self.differences.append(difference)


def compare(
    table: str,
    live: dict[tuple[Any, ...], tuple[Any, ...]],
    rebuilt: dict[tuple[Any, ...], tuple[Any, ...]],
) -> Iterator[Difference]:
    """The differences between live and rebuilt rows of ``table`` (keyed by primary key)."""
    names = columns(table)
    at = names.index("ticket_id")
    for key in sorted(live.keys() | rebuilt.keys(), key=_sort_key):
        named = dict(zip(KEYS[table], key, strict=True))
        mine, theirs = live.get(key), rebuilt.get(key)
        row = mine if mine is not None else theirs
        assert row is not None
        ticket = row[at]
        if mine is None:
            whole = dict(zip(names, row, strict=True))
            yield Difference(table, named, "missing", rebuilt=whole, ticket_id=ticket)
        elif theirs is None:
            whole = dict(zip(names, row, strict=True))
            yield Difference(table, named, "extra", live=whole, ticket_id=ticket)
        else:
            for name, a, b in zip(names, mine, theirs, strict=True):
                if a != b and name not in KEYS[table]:
                    yield Difference(table, named, "changed", name, a, b, ticket_id=ticket)


def _sort_key(key: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if part is None else str(part) for part in key)


def verify(store: TicketStore, *, batch_size: int = 500, limit: int = 100) -> VerifyResult:
    """Recompute every ticket's rows from its events and compare them with the live rows.

    Each page of tickets is read in one snapshot (events and live rows together), so a
    concurrent ingest cannot show up as a difference. Changes nothing."""
    events = EventStore(store)
    result = VerifyResult(policy_version=store.policy_version())
    after: str | None = None
    while True:
        with snapshot(store) as cursor:
            tickets, last = events.page(cursor, after, batch_size)
            ids = [ticket.ticket_id for ticket in tickets]
            live = {table: _live_rows(store, cursor, table, ids) for table in REBUILT}
        if not tickets:
            break
        after = last
        batch = store.rows_for(tickets)
        result.tickets += len(tickets)
        for table in REBUILT:
            rebuilt = _rebuilt(batch, table)
            result.rows[table] += len(rebuilt)
            for difference in compare(table, live[table], rebuilt):
                result.add(difference, limit)
    _orphans(store, events, result, batch_size, limit)
    return result


def _orphans(
    store: TicketStore, events: EventStore, result: VerifyResult, batch_size: int, limit: int
) -> None:
    """Live rows of tickets that have no events at all."""
    after = ""
    while True:
        with snapshot(store) as cursor:
            union = " UNION ".join(f"SELECT ticket_id FROM {{p}}{table}" for table in REBUILT)
            cursor.execute(
                store.dialect.sql(
                    f"SELECT ticket_id FROM ({union}) AS known WHERE ticket_id > ?"
                    " ORDER BY ticket_id LIMIT ?"
                ),
                [after, batch_size],
            )
            ids = [row["ticket_id"] for row in cursor.fetchall()]
            if not ids:
                return
            after = ids[-1]
            keys = {tid: events.key_of(tid) for tid in ids}
            found = events.registered(cursor, list(keys.values()))
            orphans = [tid for tid, key in keys.items() if str(key) not in found]
            live = {table: _live_rows(store, cursor, table, orphans) for table in REBUILT}
        for table in REBUILT:
            for difference in compare(table, live[table], {}):
                result.add(difference, limit)


# ---------------------------------------------------------------------------- rebuild
@dataclass
class RebuildResult:
    tickets: int  # tickets in the read model after the rebuild (or so far, if incomplete)
    rebuilt: int  # tickets recomputed by this run (pages and catch-up)
    resumed_from: str | None  # the aggregate id an interrupted rebuild had reached
    caught_up: int  # tickets recomputed again because events arrived during the rebuild
    complete: bool  # False: stopped before the switch (``max_pages``); run again to resume
    policy_version: str | None


class ReplayError(Exception):
    """A rebuild that cannot finish (the configuration changed while it ran)."""


def new_table_statements(store: TicketStore) -> tuple[list[str], list[str]]:
    """DDL of the ``_new`` tables and of their indexes, from ``projections.tables``.

    Index statements keep the live index names on SQLite (created at the switch, after the
    old tables and their indexes are dropped) and get a ``_new`` suffix on PostgreSQL
    (created before the switch, renamed during it)."""
    tables, indexes = [], []
    pattern = re.compile(r"\{p\}(" + "|".join(REBUILT) + r")\b")
    for statement in T.TABLES:
        if not pattern.search(statement):
            continue
        if statement.lstrip().upper().startswith("CREATE INDEX"):
            if store.dialect.name == "postgres":
                statement = re.sub(r"(INDEX IF NOT EXISTS )(\w+)", r"\1\2" + NEW, statement)
            indexes.append(pattern.sub(r"{p}\1" + NEW, statement))
        else:
            tables.append(pattern.sub(r"{p}\1" + NEW, statement))
    return tables, indexes


def _index_names(store: TicketStore) -> list[str]:
    names = []
    for statement in T.TABLES:
        match = re.search(r"INDEX IF NOT EXISTS (\w+) ON \{p\}(\w+)", statement)
        if match and match.group(2) in REBUILT:
            names.append(match.group(1))
    return names


def _meta(cursor: Any, store: TicketStore) -> dict[str, str]:
    cursor.execute(
        store.dialect.sql("SELECT key, value FROM {p}sla_meta WHERE key IN (?, ?, ?)"),
        [POSITION, MARK, POLICY],
    )
    return {row["key"]: row["value"] for row in cursor.fetchall()}


def _set_meta(cursor: Any, store: TicketStore, items: dict[str, str]) -> None:
    cursor.executemany(store.dialect.sql(T.UPSERT_META), list(items.items()))


def _write_new(cursor: Any, store: TicketStore, tickets: Sequence[Ticket]) -> None:
    """Write (replace) the rows of ``tickets`` in the ``_new`` tables."""
    if not tickets:
        return
    batch = store.rows_for(tickets)
    ids = [ticket.ticket_id for ticket in tickets]
    marks = ", ".join("?" * len(ids))
    for table in REBUILT:
        cursor.execute(
            store.dialect.sql(f"DELETE FROM {{p}}{table}{NEW} WHERE ticket_id IN ({marks})"), ids
        )
    for table in REBUILT:
        rows = getattr(batch, _FIELDS[table])
        if rows:
            names = columns(table)
            cursor.executemany(
                store.dialect.sql(
                    f"INSERT INTO {{p}}{table}{NEW} ({', '.join(names)})"
                    f" VALUES ({', '.join('?' * len(names))})"
                ),
                rows,
            )


def _start(store: TicketStore, events: EventStore, version: str) -> None:
    """Create empty ``_new`` tables and the progress marker, in one transaction."""
    tables, indexes = new_table_statements(store)
    with store.datastore.transaction(commit=True) as cursor:
        for table in REBUILT:
            cursor.execute(store.dialect.sql(f"DROP TABLE IF EXISTS {{p}}{table}{NEW}"))
        for statement in tables:
            cursor.execute(store.dialect.sql(statement))
        if store.dialect.name == "postgres":
            for statement in indexes:
                cursor.execute(store.dialect.sql(statement))
        mark = events.last_position(cursor)
        _set_meta(cursor, store, {POSITION: "", MARK: str(mark), POLICY: version})


def _catch_up(cursor: Any, store: TicketStore, events: EventStore, mark: int) -> tuple[int, int]:
    """Recompute the tickets with events stored after ``mark``; (tickets, new mark)."""
    last = events.last_position(cursor)
    if last <= mark:
        return 0, mark
    keys = events.changed_since(cursor, mark)
    for start in range(0, len(keys), 500):
        _write_new(cursor, store, events.load(cursor, keys[start : start + 500]))
    _set_meta(cursor, store, {MARK: str(last)})
    return len(keys), last


def rebuild(
    store: TicketStore,
    *,
    batch_size: int = 500,
    max_pages: int | None = None,
    progress: Callable[[int], Any] | None = None,
    version: str | None = None,
) -> RebuildResult:
    """Rebuild the :data:`REBUILT` tables from the event store, then switch.

    Rows are computed under ``store.policy``; ``version`` is its policy version (default: the
    one ``sla_meta`` records, i.e. the read model's). Resumes an interrupted rebuild made
    under the same version; one made under another version is discarded and started again.
    The switch is refused (:class:`ReplayError`) if ``sla_meta``'s policy version changed
    while the rebuild ran. ``max_pages`` stops after that many pages (as an interruption
    would); ``progress`` is called with the tickets of each page."""
    events = EventStore(store)
    live_version = store.policy_version()
    version = version or live_version or ""
    with store.read() as cursor:
        state = _meta(cursor, store)
    resumed_from: str | None = None
    if state.get(POLICY) == version and MARK in state:
        resumed_from = state.get(POSITION) or None
    else:
        _start(store, events, version)
    after = resumed_from
    rebuilt = pages = 0
    while max_pages is None or pages < max_pages:
        with snapshot(store) as cursor:
            tickets, last = events.page(cursor, after, batch_size)
        if not tickets:
            break
        with store.datastore.transaction(commit=True) as cursor:
            _write_new(cursor, store, tickets)
            _set_meta(cursor, store, {POSITION: last or ""})
        after, pages, rebuilt = last, pages + 1, rebuilt + len(tickets)
        if progress is not None:
            progress(len(tickets))
    else:
        with store.read() as cursor:
            done = _count(cursor, store, f"sla_tickets{NEW}")
        return RebuildResult(done, rebuilt, resumed_from, 0, False, version)

    caught_up = 0
    for _ in range(3):  # events stored meanwhile, without holding the writers' lock
        with store.datastore.transaction(commit=True) as cursor:
            if store.dialect.name == "sqlite":
                _sqlite_write_lock(cursor, store)  # before reading: WAL cannot upgrade later
            mark = int(_meta(cursor, store)[MARK])
            count, _ = _catch_up(cursor, store, events, mark)
        caught_up += count
        if not count:
            break
    with store.datastore.transaction(commit=True) as cursor:
        _lock_writers(cursor, store, events)
        state = _meta(cursor, store)
        if _current_policy(cursor, store) != live_version or state.get(POLICY) != version:
            raise ReplayError(
                "the configuration changed while the rebuild ran; run `slaclock replay` again"
            )
        count, _ = _catch_up(cursor, store, events, int(state[MARK]))
        caught_up += count
        tickets = _count(cursor, store, f"sla_tickets{NEW}")
        _switch(cursor, store)
        cursor.execute(
            store.dialect.sql("DELETE FROM {p}sla_meta WHERE key IN (?, ?, ?)"),
            [POSITION, MARK, POLICY],
        )
    return RebuildResult(tickets, rebuilt + caught_up, resumed_from, caught_up, True, version)


def _count(cursor: Any, store: TicketStore, table: str) -> int:
    cursor.execute(store.dialect.sql(f"SELECT COUNT(*) AS n FROM {{p}}{table}"))
    return int(cursor.fetchall()[0]["n"])


def _current_policy(cursor: Any, store: TicketStore) -> str | None:
    cursor.execute(store.dialect.sql("SELECT value FROM {p}sla_meta WHERE key = 'policy_version'"))
    rows = cursor.fetchall()
    return rows[0]["value"] if rows else None


def _lock_writers(cursor: Any, store: TicketStore, events: EventStore) -> None:
    """Hold the lock writers take, so no event is stored until the switch commits."""
    if store.dialect.name == "postgres":
        cursor.execute("SET LOCAL lock_timeout = '30s'")
        cursor.execute(events.sql("LOCK TABLE {events} IN EXCLUSIVE MODE"))
    else:
        _sqlite_write_lock(cursor, store)


def _sqlite_write_lock(cursor: Any, store: TicketStore) -> None:
    """Take SQLite's write lock now: the transaction began deferred, and in WAL mode one that
    has read cannot become a writer after another connection committed."""
    cursor.execute(store.dialect.sql("UPDATE {p}sla_meta SET value = value WHERE key = ?"), [MARK])


def _switch(cursor: Any, store: TicketStore) -> None:
    """Drop the live tables and rename the ``_new`` ones in their place (same transaction)."""
    sql = store.dialect.sql
    for table in REBUILT:
        cursor.execute(sql(f"DROP TABLE {{p}}{table}"))
        cursor.execute(sql(f"ALTER TABLE {{p}}{table}{NEW} RENAME TO {table}"))
    if store.dialect.name == "postgres":
        for table in REBUILT:
            cursor.execute(
                sql(f"ALTER INDEX IF EXISTS {{p}}{table}{NEW}_pkey RENAME TO {table}_pkey")
            )
        for name in _index_names(store):
            cursor.execute(sql(f"ALTER INDEX IF EXISTS {{p}}{name}{NEW} RENAME TO {name}"))
    else:
        pattern = re.compile(r"\{p\}(" + "|".join(REBUILT) + r")\b")
        for statement in T.TABLES:
            if pattern.search(statement) and "CREATE INDEX" in statement.upper():
                cursor.execute(sql(statement))
