"""Verify: the live read model compared, row by row, with one recomputed from events.

Each page of tickets is recomputed in memory (``TicketStore.rows_for``) and compared column by
column with the live rows read in the same snapshot, so a concurrent ingest cannot show up as
a difference; live rows of a ticket that has no events are reported as extra. A ticket row
without clock inputs (written before they were kept) is not a difference: they are a
shortcut, and their absence only means folding from events. Nor is a clock or cycle row
without its paused time (written before store schema 9 kept it): a recompute fills it.
Nothing is changed:
``projections.rebuild`` is the repair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from slaclock.projections.clock_inputs import COLUMN as KEPT_INPUTS
from slaclock.projections.derived_tables import (
    KEYS,
    REBUILT,
    columns,
    key,
    keyed,
    plain,
    rows_where,
)
from slaclock.projections.event_pages import EventPages, snapshot
from slaclock.projections.store import TicketStore
from slaclock.projections.tables import PAUSED_COLUMNS

_ADDED_LATER = frozenset({KEPT_INPUTS, *(column.split()[0] for column in PAUSED_COLUMNS)})
"""Columns added to a table after rows were written in it: a live null is "not kept yet"."""


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
            "live": _shown(self.live),
            "rebuilt": _shown(self.rebuilt),
        }


def _shown(value: Any) -> Any:
    """A value as JSON can carry it (bytes, e.g. clock inputs, as hexadecimal)."""
    if isinstance(value, dict):
        return {name: _shown(item) for name, item in value.items()}
    return value.hex() if isinstance(value, bytes) else value


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
    for row_key in sorted(live.keys() | rebuilt.keys(), key=_sort_key):
        named = dict(zip(KEYS[table], row_key, strict=True))
        mine, theirs = live.get(row_key), rebuilt.get(row_key)
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
                if a != b and name not in KEYS[table] and not (name in _ADDED_LATER and a is None):
                    yield Difference(table, named, "changed", name, a, b, ticket_id=ticket)


def _sort_key(row_key: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if part is None else str(part) for part in row_key)


def verify(
    store: TicketStore,
    *,
    batch_size: int = 500,
    limit: int = 100,
    progress: Callable[[int], Any] | None = None,
) -> VerifyResult:
    """Recompute every ticket's rows from its events and compare them with the live rows.

    Each page of tickets is read in one snapshot (events and live rows together), so a
    concurrent ingest cannot show up as a difference. Changes nothing. ``progress`` is
    called with the tickets of each page."""
    events = EventPages(store)
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
            rebuilt = keyed(batch, table)
            result.rows[table] += len(rebuilt)
            for difference in compare(table, live[table], rebuilt):
                result.add(difference, limit)
        if progress is not None:
            progress(len(tickets))
    _orphans(store, events, result, batch_size, limit)
    return result


def _orphans(
    store: TicketStore, events: EventPages, result: VerifyResult, batch_size: int, limit: int
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


def _live_rows(
    store: TicketStore, cursor: Any, table: str, ticket_ids: Sequence[str]
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = rows_where(cursor, store.dialect, table, "ticket_id", ticket_ids)
    return {key(table, row): tuple(plain(value) for value in row) for row in rows}
