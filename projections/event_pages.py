"""The stored ticket events, read a page of aggregates at a time.

A rebuild and a verify enumerate tickets from the event store itself (each
``Ticket.Registered`` event), not from the read model, so a ticket whose rows were lost is
found too; pages keep memory bounded whatever the size of the store. Tickets are folded from
the rows of one query per page instead of one repository read per ticket.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from slaclock.domain.ticket import Ticket, ticket_uuid, ticket_uuid_hex
from slaclock.projections.event_store import EventStore
from slaclock.projections.meta import REPLAY_MARK, touch_meta
from slaclock.projections.stored_tickets import fold_tickets
from slaclock.projections.stored_topics import topics_of

_REGISTERED = topics_of(Ticket.Registered)  # and its old topics, from before a move
_IS_REGISTERED = f"topic IN ({', '.join('?' * len(_REGISTERED))})"


class EventPages:
    """Read access to the stored ticket events, a page of aggregates at a time."""

    def __init__(self, store: EventStore) -> None:
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
        return ticket_uuid_hex(ticket_id) if self.sqlite else ticket_uuid(ticket_id)

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

    def load(self, cursor: Any, keys: Sequence[Any], *, library: bool = False) -> list[Ticket]:
        """The tickets with aggregate ids ``keys``, folded from their events (one query),
        in the order of their ids. ``library``: every ticket folded by ``eventsourcing``
        (``projections.stored_tickets`` folds the shapes it knows itself, faster)."""
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
        return fold_tickets(self.store.app.mapper, cursor.fetchall(), library=library)

    def _after(self, after: str | None) -> tuple[str, list[Any]]:
        return ("", []) if not after else (" AND originator_id > ?", [self.key(after)])


@contextmanager
def snapshot(store: EventStore) -> Iterator[Any]:
    """A read transaction that sees one state of the store for all its statements."""
    with store.read() as cursor:
        if store.dialect.name == "postgres":
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield cursor


def lock_writers(cursor: Any, store: EventStore, events: EventPages) -> None:
    """Hold the lock writers take, so no event is stored until this transaction commits."""
    if store.dialect.name == "postgres":
        cursor.execute("SET LOCAL lock_timeout = '30s'")
        cursor.execute(events.sql("LOCK TABLE {events} IN EXCLUSIVE MODE"))
    else:
        sqlite_write_lock(cursor, store)


def sqlite_write_lock(cursor: Any, store: EventStore) -> None:
    """Take SQLite's write lock now: the transaction began deferred, and in WAL mode one that
    has read cannot become a writer after another connection committed."""
    touch_meta(cursor, store.dialect, REPLAY_MARK)
