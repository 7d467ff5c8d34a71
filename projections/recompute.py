"""Selective recompute: the read-model rows of just the tickets a policy change can move.

A :class:`~slaclock.domain.policy_diff.Scope` names customers, plans, calendars and changed
days; the tickets it selects are found from the read model itself (``sla_tickets`` and
``sla_clocks`` record each ticket's customer, plan and clock calendars and spans), then
folded again from their events and their rows replaced, all in one transaction that holds
the writers' lock: readers see the old rows or the new ones, never a mixture.
"""

from __future__ import annotations

from typing import Any

from slaclock.domain.policy_diff import Scope
from slaclock.projections.event_pages import EventPages
from slaclock.projections.rebuild import write_rows
from slaclock.projections.store import TicketStore

PAGE = 500  # tickets folded and written at a time


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
    calendars = sorted(scope.calendars | scope.days.keys())
    if calendars:
        marks = ", ".join("?" * len(calendars))
        cursor.execute(
            sql(
                "SELECT c.ticket_id, c.calendar, t.created_at, c.deadline, c.stopped_at,"
                " t.last_fact_at FROM {p}sla_clocks c JOIN {p}sla_tickets t"
                f" ON t.ticket_id = c.ticket_id WHERE c.calendar IN ({marks})"
            ),
            calendars,
        )
        for row in cursor.fetchall():
            ends = [
                row[k] for k in ("deadline", "stopped_at", "last_fact_at") if row[k] is not None
            ]
            until = max(ends) if ends else None
            if scope.touches_clock(row["calendar"], row["created_at"], until):
                found.add(row["ticket_id"])
    return found


def recompute(cursor: Any, store: TicketStore, ticket_ids: set[str]) -> None:
    """Replace the rows of ``ticket_ids`` with rows computed under ``store.policy``."""
    events = EventPages(store)
    keys = [events.key_of(ticket_id) for ticket_id in sorted(ticket_ids)]
    for start in range(0, len(keys), PAGE):
        write_rows(cursor, store, events.load(cursor, keys[start : start + PAGE]), "")
