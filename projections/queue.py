"""The work queue and paged ticket listings, answered from the read model.

The queue holds the open tickets as of an instant, in ``priority`` order (contract customers
first, then priority, then arrival) or ``deadline`` order (nearest open deadline first); the
rules and why are in docs/store.md. Only tickets with facts after ``as_of`` are re-evaluated
from their events, exactly as :class:`Queries` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from slaclock.domain.clocks import ClockView, TicketSnapshot
from slaclock.domain.policy import Policy
from slaclock.projections.queries import Queries
from slaclock.projections.render import instant

Order = Literal["priority", "deadline"]
ORDERS: tuple[str, ...] = ("priority", "deadline")
Risk = Literal["ok", "at_risk", "breached"]

AT_RISK_SHARE = 0.25
"""A clock not yet breached is *at risk* when at most this share of its target remains."""

_UTC = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class OpenClock:
    """A clock that has not stopped, as of the queue's instant."""

    metric: str
    view: ClockView
    priority: int | None
    risk: Risk


@dataclass(frozen=True, slots=True)
class QueueItem:
    snapshot: TicketSnapshot
    clocks: tuple[OpenClock, ...]

    @property
    def next_deadline(self) -> int | None:
        deadlines = [c.view.deadline for c in self.clocks if c.view.deadline is not None]
        return min(deadlines) if deadlines else None

    @property
    def most_urgent(self) -> OpenClock | None:
        """The open clock with the least time remaining."""
        timed = [c for c in self.clocks if c.view.remaining_seconds is not None]
        return min(timed, key=lambda c: (c.view.remaining_seconds, c.metric)) if timed else None


def risk_of(view: ClockView) -> Risk:
    if view.status == "breached":
        return "breached"
    if (
        view.remaining_seconds is not None
        and view.target_seconds
        and view.remaining_seconds <= view.target_seconds * AT_RISK_SHARE
    ):
        return "at_risk"
    return "ok"


def priority_key(item: QueueItem) -> tuple[Any, ...]:
    s = item.snapshot
    return (0 if s.contract is not None else 1, s.priority, s.created_at, s.ticket_id)


def deadline_key(item: QueueItem) -> tuple[Any, ...]:
    deadline = item.next_deadline
    return (0 if deadline is not None else 1, deadline or 0, *priority_key(item))


def work_queue(
    queries: Queries, as_of: int, order: Order = "priority", customer: str | None = None
) -> list[QueueItem]:
    """The open tickets as of ``as_of`` in working order (``customer``: only theirs)."""
    if order not in ORDERS:
        raise ValueError(f"order: {order!r} is not one of {list(ORDERS)}")
    fresh, fresh_params = queries.fresh_condition(as_of)
    # Candidates: tickets whose rows do not answer as of ``as_of`` (re-evaluated below), and
    # tickets with a clock not stopped, and unresolved tickets without any clock.
    where = (
        f"t.created_at <= ? AND (NOT ({fresh})"
        " OR EXISTS (SELECT 1 FROM {p}sla_clocks s WHERE s.ticket_id = t.ticket_id"
        " AND s.stopped_at IS NULL)"
        " OR (t.resolved_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM {p}sla_clocks s WHERE s.ticket_id = t.ticket_id)))"
    )
    params: list[Any] = [as_of, *fresh_params]
    if customer is not None:
        where, params = where + " AND t.customer_id = ?", [*params, customer]
    items = []
    for snapshot in queries.snapshots(where, params, as_of):
        item = _open_item(queries, snapshot, as_of)
        if item is not None:
            items.append(item)
    items.sort(key=priority_key if order == "priority" else deadline_key)
    return items


def _open_item(queries: Queries, snapshot: TicketSnapshot, as_of: int) -> QueueItem | None:
    applicable = [c for c in snapshot.clocks.values() if c.applicable]
    open_clocks = []
    for clock in applicable:
        view = queries.view(clock, as_of)
        if view.stopped_at is None:
            open_clocks.append(OpenClock(clock.metric, view, clock.priority, risk_of(view)))
    if applicable and not open_clocks:
        return None
    if not applicable and snapshot.resolved_at is not None:
        return None  # no guarantees and resolved: nothing left to work on
    return QueueItem(snapshot, tuple(open_clocks))


# ------------------------------------------------------------------ paged ticket listings
def tickets_page(
    queries: Queries,
    as_of: int,
    *,
    customer: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[TicketSnapshot], int]:
    """One page of the tickets created by ``as_of``, ordered by id (keyset: ids > ``after``),
    and how many there are in all."""
    where, params = "created_at <= ?", [as_of]
    if customer is not None:
        where, params = where + " AND customer_id = ?", [*params, customer]
    total = queries.store.query(f"SELECT COUNT(*) AS n FROM {{p}}sla_tickets WHERE {where}", params)
    page_where, page_params = where, list(params)
    if after is not None:
        page_where, page_params = page_where + " AND ticket_id > ?", [*page_params, after]
    ids = [
        row["ticket_id"]
        for row in queries.store.query(
            f"SELECT ticket_id FROM {{p}}sla_tickets WHERE {page_where} ORDER BY ticket_id LIMIT ?",
            [*page_params, limit],
        )
    ]
    if not ids:
        return [], int(total[0]["n"])
    marks = ", ".join("?" * len(ids))
    by_id = {s.ticket_id: s for s in queries.snapshots(f"t.ticket_id IN ({marks})", ids, as_of)}
    return [by_id[i] for i in ids if i in by_id], int(total[0]["n"])


def ticket_snapshot(
    queries: Queries, ticket_id: str, as_of: int, customer: str | None = None
) -> TicketSnapshot | None:
    """One ticket as of ``as_of`` from its read-model rows when they answer then (None:
    unknown, pending, not created by then, or not ``customer``'s when one is given: such a
    ticket is not evaluated); otherwise re-evaluated from its events."""
    where, values = "t.ticket_id = ? AND t.created_at <= ?", [ticket_id, as_of]
    if customer is not None:
        where, values = f"{where} AND t.customer_id = ?", [*values, customer]
    return next(iter(queries.snapshots(where, values, as_of)), None)


# ------------------------------------------------------------------------------ JSON
def queue_json(
    items: Sequence[QueueItem],
    as_of: datetime,
    order: str,
    policy: Policy,
    *,
    offset: int = 0,
    total: int | None = None,
) -> dict[str, Any]:
    """The queue as JSON: position, ticket, the nearest deadline and each open clock."""
    out = []
    for position, item in enumerate(items, start=offset + 1):
        s = item.snapshot
        plan_zone = s.contract.plan.calendar.zone if s.contract else _UTC
        urgent = item.most_urgent
        clocks: dict[str, Any] = {}
        for clock in item.clocks:
            view = clock.view
            calendar = policy.calendar_named(view.calendar or "")
            zone = calendar.zone if calendar else _UTC
            clocks[clock.metric] = {
                "status": view.status,
                "risk": clock.risk,
                "priority": clock.priority,
                "target_seconds": view.target_seconds,
                "calendar": view.calendar,
                "deadline": instant(view.deadline, zone),
                "breached_at": instant(view.breached_at, zone),
                "elapsed_seconds": view.elapsed_seconds,
                "remaining_seconds": view.remaining_seconds,
            }
        next_deadline, deadline_zone = item.next_deadline, _UTC
        for clock in item.clocks:
            if clock.view.deadline == next_deadline and next_deadline is not None:
                calendar = policy.calendar_named(clock.view.calendar or "")
                deadline_zone = calendar.zone if calendar else _UTC
                break
        out.append(
            {
                "position": position,
                "ticket_id": s.ticket_id,
                "customer_id": s.customer_id,
                "has_contract": s.contract is not None,
                "plan": s.plan.name if s.plan else None,
                "priority": s.priority,
                "created_at": instant(s.created_at, plan_zone),
                "next_deadline": instant(next_deadline, deadline_zone),
                "remaining_seconds": urgent.view.remaining_seconds if urgent else None,
                "risk": _worst(item),
                "clocks": clocks,
            }
        )
    return {
        "as_of": as_of.isoformat(),
        "order": order,
        "total": len(items) if total is None else total,
        "items": out,
    }


def _worst(item: QueueItem) -> Risk | None:
    if not item.clocks:
        return None
    ranks: dict[Risk, int] = {"ok": 0, "at_risk": 1, "breached": 2}
    return max((c.risk for c in item.clocks), key=lambda r: ranks[r])
