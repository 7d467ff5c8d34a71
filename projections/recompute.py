"""Selective recompute: the read-model rows of just the tickets a policy change can move.

A :class:`~slaclock.domain.policy_diff.Scope` names customers, plans, calendars and changed
days; the tickets it selects are found from the read model itself (``sla_tickets`` and
``sla_clocks`` record each ticket's customer, plan and clock calendars and spans), then
folded again from their events and their rows replaced. A few tickets are recomputed in one
transaction that holds the writers' lock (:func:`recompute`). Many tickets
(:func:`recompute_beside`) are computed by worker processes (``projections.row_workers``)
while readers and writers go on; the rows that differ from the live ones, and the keys of
live rows gone, are kept in shadow tables (``sla_tickets_next`` ..., ``sla_gone_next``) and
applied to the live tables in one short transaction, after the tickets that consumers
touched meanwhile are compared again. Either way readers see the old rows or the new ones,
never a mixture.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from slaclock.domain.policy import OWNERSHIP
from slaclock.domain.policy_diff import Scope
from slaclock.domain.ticket import Ticket
from slaclock.projections.derived_tables import REBUILT
from slaclock.projections.event_pages import EventPages
from slaclock.projections.event_store import store_failures
from slaclock.projections.rebuild import (
    catch_up,
    lock_writers,
    new_table_statements,
    rewrite_rows,
)
from slaclock.projections.recompute_lease import LeaseLost, release_in, still_held
from slaclock.projections.row_diff import (
    GONE,
    apply_diff,
    diff,
    forget,
    gone_table,
    live_rows,
    write_diff,
)
from slaclock.projections.row_workers import SHARD, PolicyFactory, compute_changes
from slaclock.projections.store import TicketStore


def select_tickets(cursor: Any, store: TicketStore, scope: Scope) -> set[str]:
    """The ids of the stored tickets ``scope`` selects."""
    sql = store.dialect.sql
    if scope.empty:
        return set()
    if scope.everything:
        cursor.execute(sql("SELECT ticket_id FROM {p}sla_tickets"))
        return {row["ticket_id"] for row in cursor.fetchall()}
    found: set[str] = set()
    for column, values in (("customer_id", scope.customers), ("plan", scope.plans)):
        if values:
            marks = ", ".join("?" * len(values))
            cursor.execute(
                sql(f"SELECT ticket_id FROM {{p}}sla_tickets WHERE {column} IN ({marks})"),
                sorted(values),
            )
            found.update(row["ticket_id"] for row in cursor.fetchall())
    if scope.calendars:  # every clock and cycle on these calendars
        marks = ", ".join("?" * len(scope.calendars))
        for table in ("sla_clocks", "sla_cycles"):
            cursor.execute(
                sql(f"SELECT DISTINCT ticket_id FROM {{p}}{table} WHERE calendar IN ({marks})"),
                sorted(scope.calendars),
            )
            found.update(row["ticket_id"] for row in cursor.fetchall())
    for calendar in sorted(scope.days.keys() - scope.calendars):
        for table in ("sla_clocks", "sla_cycles"):
            found.update(_over_days(cursor, store, calendar, scope.days[calendar], table))
    if scope.owned:  # the tickets of these plans with ownership cycles
        marks = ", ".join("?" * len(scope.owned))
        cursor.execute(
            sql(
                "SELECT DISTINCT c.ticket_id FROM {p}sla_cycles c JOIN {p}sla_tickets t"
                f" ON t.ticket_id = c.ticket_id WHERE c.metric = ? AND t.plan IN ({marks})"
            ),
            [OWNERSHIP, *sorted(scope.owned)],
        )
        found.update(row["ticket_id"] for row in cursor.fetchall())
    return found


def _over_days(
    cursor: Any,
    store: TicketStore,
    calendar: str,
    days: Sequence[tuple[int, int]],
    table: str = "sla_clocks",
) -> list[str]:
    """Tickets with a clock (a cycle: ``table`` sla_cycles) on ``calendar`` whose span
    meets one of the ``days`` ranges
    [low, high): it started before ``high`` (or its ticket's creation is unknown) and its
    latest instant (deadline, stop, or the ticket's last fact) is at ``low`` or later (or it
    has none: unbounded)."""
    if not days:
        return []
    unbounded = "(c.deadline IS NULL AND c.stopped_at IS NULL AND t.last_fact_at IS NULL)"
    until = "c.deadline >= ? OR c.stopped_at >= ? OR t.last_fact_at >= ?"
    meets = f"((t.created_at IS NULL OR t.created_at < ?) AND ({unbounded} OR {until}))"
    any_day = " OR ".join([meets] * len(days))
    cursor.execute(
        store.dialect.sql(
            f"SELECT DISTINCT c.ticket_id FROM {{p}}{table} c JOIN {{p}}sla_tickets t"
            f" ON t.ticket_id = c.ticket_id WHERE c.calendar = ? AND ({any_day})"
        ),
        [calendar, *(value for low, high in days for value in (high, low, low, low))],
    )
    return [row["ticket_id"] for row in cursor.fetchall()]


def recompute(cursor: Any, store: TicketStore, ticket_ids: set[str]) -> None:
    """Replace the rows of ``ticket_ids`` with rows computed under ``store.policy``."""
    events = EventPages(store)
    keys = [events.key_of(ticket_id) for ticket_id in sorted(ticket_ids)]
    rewrite_rows(cursor, store, events, keys, "")


# ----------------------------------------------------- many tickets: shadow rows, one switch
SHADOW = "_next"  # suffix of the tables holding a large recompute's rows until the switch
SHARDS_PER_COMMIT = 8


@dataclass
class Shadow:
    """A large recompute in progress: who runs it, and how."""

    owner: str
    version: str
    lease_seconds: float
    policy_factory: PolicyFactory | None = None
    workers: int = 0
    progress: Callable[[int, int], Any] | None = None
    shard: int = SHARD


def recompute_beside(
    store: TicketStore,
    ticket_ids: set[str],
    mark: int,
    shadow: Shadow,
    on_switch: Callable[[Any, int], None],
) -> int:
    """Recompute ``ticket_ids`` into shadow tables while readers and writers go on, then
    apply their changes to the live rows in one transaction that also runs
    ``on_switch(cursor, caught up)`` (caught up: the tickets recomputed again because events
    were stored meanwhile).

    ``mark`` is the event-store position the selection of ``ticket_ids`` saw: tickets with
    events stored after it (by a consumer meanwhile) are recomputed again before and during
    the switch, which holds the writers' lock. Returns the tickets recomputed (caught-up
    ones included). Raises :class:`LeaseLost` if the lease was lost on the way."""
    events = EventPages(store)
    moved: dict[str, set[str]] = {}  # columns the shadow rows change (row_diff.RowDiff)
    try:
        _create_shadow(store, shadow)
        done = _fill(store, sorted(ticket_ids), shadow, moved)
        caught_up = 0
        for _ in range(3):  # catch up without the writers' lock first: the switch stays short
            with store.write() as cursor:
                _check(cursor, store, shadow)
                count, mark = _catch_up(cursor, store, events, mark, moved)
            caught_up += count
            if not count:
                break
        with store.write() as cursor:
            lock_writers(cursor, store, events)
            _check(cursor, store, shadow)
            count, _ = _catch_up(cursor, store, events, mark, moved)
            apply_diff(cursor, store, SHADOW, moved)
            on_switch(cursor, caught_up + count)
            _drop_tables(cursor, store)  # before the lease is given up: still ours
            release_in(cursor, store.dialect, shadow.owner)
        return done + caught_up + count
    except LeaseLost:
        raise  # the shadow tables are the new owner's now: leave them alone
    except BaseException:
        _drop_if_owner(store, shadow)
        raise


def _check(cursor: Any, store: TicketStore, shadow: Shadow, renew: bool = False) -> None:
    """Raise :class:`LeaseLost` unless this recompute still holds the lease (renewed if
    ``renew``); first in each transaction that writes shadow rows or switches."""
    seconds = shadow.lease_seconds if renew else None
    if not still_held(cursor, store, shadow.owner, shadow.version, seconds):
        raise LeaseLost("the recompute lease expired and was taken by another process")


def _fill(
    store: TicketStore, ticket_ids: list[str], shadow: Shadow, moved: dict[str, set[str]]
) -> int:
    """Compute and write the changes of ``ticket_ids``, a few shards per transaction (each
    commit costs a sync; a short transaction keeps consumers' waits short); add the
    columns they move to ``moved``."""
    done, renewed = 0, time.monotonic()
    changes = compute_changes(
        store, shadow.policy_factory, ticket_ids, shadow.workers, shadow.shard
    )
    for group in batched(changes, SHARDS_PER_COMMIT):
        due = time.monotonic() - renewed > shadow.lease_seconds / 3
        with store.write() as cursor:
            _check(cursor, store, shadow, renew=due)
            for _, shard in group:
                write_diff(cursor, store, shard, SHADOW, moved)
        renewed = time.monotonic() if due else renewed
        done += sum(size for size, _ in group)
        if shadow.progress is not None:
            shadow.progress(done, len(ticket_ids))
    return done


def _catch_up(
    cursor: Any, store: TicketStore, events: EventPages, mark: int, moved: dict[str, set[str]]
) -> tuple[int, int]:
    """Compare again, with the live rows now, the tickets with events stored after
    event-store position ``mark`` (adding the columns they move to ``moved``); (tickets,
    the position now)."""

    def compare_again(cursor: Any, tickets: Sequence[Ticket]) -> None:
        ids = [ticket.ticket_id for ticket in tickets]
        forget(cursor, store, ids, SHADOW)
        changes = diff(store.rows_for(tickets), live_rows(cursor, store, ids, tickets))
        write_diff(cursor, store, changes, SHADOW, moved)

    return catch_up(cursor, events, mark, compare_again)


def _create_shadow(store: TicketStore, shadow: Shadow) -> None:
    """Empty shadow tables: the live tables' DDL (primary keys, no other index), and the
    table of live rows gone; whatever a crashed owner left is dropped first."""
    shadow_tables, _ = new_table_statements(store, SHADOW)
    with store.write() as cursor:
        _check(cursor, store, shadow)
        _drop_tables(cursor, store)
        for statement in shadow_tables:
            cursor.execute(store.dialect.sql(statement))
        cursor.execute(store.dialect.sql(gone_table(SHADOW)))


def _drop_tables(cursor: Any, store: TicketStore) -> None:
    for table in (*REBUILT, GONE):
        cursor.execute(store.dialect.sql(f"DROP TABLE IF EXISTS {{p}}{table}{SHADOW}"))


def _drop_if_owner(store: TicketStore, shadow: Shadow) -> None:
    """After a failure: drop the shadow tables only if this recompute still holds the lease
    (checked in the dropping transaction, which lease takers wait for). A recompute that lost
    it (it stalled beyond the lease) leaves them to the new owner, whose run they are now.
    A failure of the store itself leaves them too: the next owner drops them first."""
    try:
        with store.write() as cursor:
            if still_held(cursor, store, shadow.owner, shadow.version):
                _drop_tables(cursor, store)
    except store_failures():
        pass  # the original failure is the one to report


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while group := list(islice(iterator, size)):
        yield group
