"""Rebuild: the read model recomputed from the event store into new tables, then switched in.

The :data:`REBUILT` tables are recomputed a page of tickets at a time into ``_new`` tables
(same DDL as ``projections.tables``), then one transaction drops the old tables and renames
the new ones, so readers never see a half-built model. Progress is kept in ``sla_meta``, so an
interrupted rebuild resumes where it stopped; events stored while it runs are caught up before
and during the switch, which holds the writers' lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slaclock.domain.ticket import Ticket
from slaclock.projections import analytics, tables
from slaclock.projections.batch import Batch
from slaclock.projections.derived_tables import REBUILT, batch_rows, columns
from slaclock.projections.event_pages import EventPages, lock_writers, snapshot, sqlite_write_lock
from slaclock.projections.meta import (
    POLICY_VERSION,
    REPLAY_KEYS,
    REPLAY_MARK,
    REPLAY_POLICY,
    REPLAY_POSITION,
    delete_meta,
    read_meta,
    write_meta,
)
from slaclock.projections.recompute_lease import holds
from slaclock.projections.store import TicketStore

NEW = "_new"  # suffix of the tables a rebuild fills before the switch
PAGE = 500  # tickets folded and written at a time


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


def rebuild(
    store: TicketStore,
    *,
    batch_size: int = 500,
    max_pages: int | None = None,
    progress: Callable[[int], Any] | None = None,
    version: str | None = None,
    owner: str | None = None,
) -> RebuildResult:
    """Rebuild the :data:`REBUILT` tables from the event store, then switch.

    Rows are computed under ``store.policy``; ``version`` is its policy version (default: the
    one ``sla_meta`` records, i.e. the read model's). Resumes an interrupted rebuild made
    under the same version; one made under another version is discarded and started again.
    The switch is refused (:class:`ReplayError`) if ``sla_meta``'s policy version changed
    while the rebuild ran. ``max_pages`` stops after that many pages (as an interruption
    would); ``progress`` is called with the tickets of each page. ``owner``: the recompute
    lease this rebuild holds (``projections.recompute_lease``), checked in the switching
    transaction: a rebuild whose lease was taken over never switches."""
    events = EventPages(store)
    live_version = store.policy_version()
    version = version or live_version or ""
    with store.read() as cursor:
        state = _meta(cursor, store)
    resumed_from: str | None = None
    if state.get(REPLAY_POLICY) == version and REPLAY_MARK in state:
        resumed_from = state.get(REPLAY_POSITION) or None
    else:
        _start(store, events, version)
    rebuilt, finished = _pages(store, events, resumed_from, batch_size, max_pages, progress)
    if not finished:
        with store.read() as cursor:
            done = _count(cursor, store, f"sla_tickets{NEW}")
        return RebuildResult(done, rebuilt, resumed_from, 0, False, version)
    tickets, caught_up = _finish(store, events, live_version, version, owner)
    return RebuildResult(tickets, rebuilt + caught_up, resumed_from, caught_up, True, version)


def _pages(
    store: TicketStore,
    events: EventPages,
    after: str | None,
    batch_size: int,
    max_pages: int | None,
    progress: Callable[[int], Any] | None,
) -> tuple[int, bool]:
    """Recompute the pages following ``after``; (tickets, whether the last page was done)."""
    rebuilt = pages = 0
    while max_pages is None or pages < max_pages:
        with snapshot(store) as cursor:
            tickets, last = events.page(cursor, after, batch_size)
        if not tickets:
            return rebuilt, True
        with store.write() as cursor:
            _write_new(cursor, store, tickets)
            write_meta(cursor, store.dialect, [(REPLAY_POSITION, last or "")])
        after, pages, rebuilt = last, pages + 1, rebuilt + len(tickets)
        if progress is not None:
            progress(len(tickets))
    return rebuilt, False


def _finish(
    store: TicketStore,
    events: EventPages,
    live_version: str | None,
    version: str,
    owner: str | None,
) -> tuple[int, int]:
    """Catch up and switch; (tickets in the new tables, tickets caught up)."""
    caught_up = 0
    for _ in range(3):  # events stored meanwhile, without holding the writers' lock
        with store.write() as cursor:
            if store.dialect.name == "sqlite":
                sqlite_write_lock(cursor, store)  # before reading: WAL cannot upgrade later
            mark = int(_meta(cursor, store)[REPLAY_MARK])
            count, _ = _catch_up(cursor, store, events, mark)
        caught_up += count
        if not count:
            break
    with store.write() as cursor:
        lock_writers(cursor, store, events)
        state = _meta(cursor, store)
        current = read_meta(cursor, store.dialect, [POLICY_VERSION]).get(POLICY_VERSION)
        if current != live_version or state.get(REPLAY_POLICY) != version:
            raise ReplayError(
                "the configuration changed while the rebuild ran; run `slaclock replay` again"
            )
        if owner is not None and not holds(cursor, store.dialect, owner):
            raise ReplayError(
                "the recompute lease of this rebuild expired and was taken by another process;"
                " run `slaclock replay` again"
            )
        count, _ = _catch_up(cursor, store, events, int(state[REPLAY_MARK]))
        caught_up += count
        tickets = _count(cursor, store, f"sla_tickets{NEW}")
        _switch(cursor, store)
        delete_meta(cursor, store.dialect, REPLAY_KEYS)
    return tickets, caught_up


def new_table_statements(store: TicketStore, suffix: str = NEW) -> tuple[list[str], list[str]]:
    """DDL of the :data:`REBUILT` tables + ``suffix`` and of their indexes, from
    ``projections.tables``.

    Index statements keep the live index names on SQLite (created at the switch, after the
    old tables and their indexes are dropped) and get the suffix on PostgreSQL (created
    before the switch, renamed during it)."""
    new_tables, indexes = [], []
    pattern = re.compile(r"\{p\}(" + "|".join(REBUILT) + r")\b")
    for statement in tables.TABLES:
        if not pattern.search(statement):
            continue
        if statement.lstrip().upper().startswith("CREATE INDEX"):
            if store.dialect.name == "postgres":
                statement = re.sub(r"(INDEX IF NOT EXISTS )(\w+)", r"\1\2" + suffix, statement)
            indexes.append(pattern.sub(r"{p}\1" + suffix, statement))
        else:
            new_tables.append(pattern.sub(r"{p}\1" + suffix, statement))
    return new_tables, indexes


def _index_names() -> list[str]:
    names = []
    for statement in tables.TABLES:
        match = re.search(r"INDEX IF NOT EXISTS (\w+) ON \{p\}(\w+)", statement)
        if match and match.group(2) in REBUILT:
            names.append(match.group(1))
    return names


def _meta(cursor: Any, store: TicketStore) -> dict[str, str]:
    return read_meta(cursor, store.dialect, REPLAY_KEYS)


def _write_new(cursor: Any, store: TicketStore, tickets: Sequence[Ticket]) -> None:
    """Write (replace) the rows of ``tickets`` in the ``_new`` tables."""
    write_rows(cursor, store, tickets, NEW)


def write_rows(cursor: Any, store: TicketStore, tickets: Sequence[Ticket], suffix: str) -> None:
    """Write (replace) the rows of ``tickets`` in the :data:`REBUILT` tables + ``suffix``."""
    if not tickets:
        return
    batch = store.rows_for(tickets)
    ids = [ticket.ticket_id for ticket in tickets]
    marks = ", ".join("?" * len(ids))
    for table in REBUILT:
        cursor.execute(
            store.dialect.sql(f"DELETE FROM {{p}}{table}{suffix} WHERE ticket_id IN ({marks})"), ids
        )
    insert_rows(cursor, store, batch, suffix)


def insert_rows(cursor: Any, store: TicketStore, batch: Batch, suffix: str) -> None:
    """Insert the rows of ``batch`` into the :data:`REBUILT` tables + ``suffix``."""
    for table in REBUILT:
        rows = batch_rows(batch, table)
        if rows:
            names = columns(table)
            cursor.executemany(
                store.dialect.sql(
                    f"INSERT INTO {{p}}{table}{suffix} ({', '.join(names)})"
                    f" VALUES ({', '.join('?' * len(names))})"
                ),
                rows,
            )


def _start(store: TicketStore, events: EventPages, version: str) -> None:
    """Create empty ``_new`` tables and the progress marker, in one transaction."""
    new_tables, indexes = new_table_statements(store)
    with store.write() as cursor:
        for table in REBUILT:
            cursor.execute(store.dialect.sql(f"DROP TABLE IF EXISTS {{p}}{table}{NEW}"))
        for statement in new_tables:
            cursor.execute(store.dialect.sql(statement))
        if store.dialect.name == "postgres":
            for statement in indexes:
                cursor.execute(store.dialect.sql(statement))
        mark = events.last_position(cursor)
        items = [(REPLAY_POSITION, ""), (REPLAY_MARK, str(mark)), (REPLAY_POLICY, version)]
        write_meta(cursor, store.dialect, items)


def _catch_up(cursor: Any, store: TicketStore, events: EventPages, mark: int) -> tuple[int, int]:
    """Recompute the tickets with events stored after ``mark``; (tickets, new mark)."""
    count, last = catch_up(cursor, events, mark, lambda c, page: write_rows(c, store, page, NEW))
    if last != mark:
        write_meta(cursor, store.dialect, [(REPLAY_MARK, str(last))])
    return count, last


PageWriter = Callable[[Any, Sequence[Ticket]], None]
"""Writes what a page of folded tickets changes: (cursor, tickets)."""


def catch_up(cursor: Any, events: EventPages, mark: int, write: PageWriter) -> tuple[int, int]:
    """Fold, a page at a time, the tickets with events stored after event-store position
    ``mark`` and hand each page to ``write``; (tickets, the position now)."""
    last = events.last_position(cursor)
    if last <= mark:
        return 0, mark
    keys = events.changed_since(cursor, mark)
    fold_pages(cursor, events, keys, write)
    return len(keys), last


def rewrite_rows(
    cursor: Any, store: TicketStore, events: EventPages, keys: Sequence[Any], suffix: str
) -> None:
    """Fold the tickets of ``keys`` a page at a time and write their rows (tables + ``suffix``)."""
    fold_pages(cursor, events, keys, lambda c, page: write_rows(c, store, page, suffix))


def fold_pages(cursor: Any, events: EventPages, keys: Sequence[Any], write: PageWriter) -> None:
    """``write(cursor, tickets)`` for the tickets of ``keys``, folded a page at a time."""
    for start in range(0, len(keys), PAGE):
        write(cursor, events.load(cursor, keys[start : start + PAGE]))


def _count(cursor: Any, store: TicketStore, table: str) -> int:
    cursor.execute(store.dialect.sql(f"SELECT COUNT(*) AS n FROM {{p}}{table}"))
    return int(cursor.fetchall()[0]["n"])


def _switch(cursor: Any, store: TicketStore) -> None:
    """Drop the live tables and rename the ``_new`` ones in their place (same transaction)."""
    sql = store.dialect.sql
    postgres = store.dialect.name == "postgres"
    schema = analytics.analytics_schema(store.datastore.schema) if postgres else ""
    if postgres:  # the analytics views read the tables dropped here
        analytics.drop_views(cursor, store.dialect, schema)
    for table in REBUILT:
        cursor.execute(sql(f"DROP TABLE {{p}}{table}"))
        cursor.execute(sql(f"ALTER TABLE {{p}}{table}{NEW} RENAME TO {table}"))
    if store.dialect.name == "postgres":
        analytics.create_views(cursor, store.dialect, schema)
        for table in REBUILT:
            cursor.execute(
                sql(f"ALTER INDEX IF EXISTS {{p}}{table}{NEW}_pkey RENAME TO {table}_pkey")
            )
        for name in _index_names():
            cursor.execute(sql(f"ALTER INDEX IF EXISTS {{p}}{name}{NEW} RENAME TO {name}"))
    else:
        pattern = re.compile(r"\{p\}(" + "|".join(REBUILT) + r")\b")
        for statement in tables.TABLES:
            if pattern.search(statement) and "CREATE INDEX" in statement.upper():
                cursor.execute(sql(statement))
