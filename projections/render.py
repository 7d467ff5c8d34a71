"""The JSON shapes of the contract (section 5): what ``--json`` prints and the API serves.

Instants are RFC 3339 with offset, shown in the timezone of the calendar they belong to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.clocks import TicketSnapshot
from domain.policy import Policy
from projections.queries import Queries
from projections.reports import ComplianceRow, CustomerCredits

_UTC = ZoneInfo("UTC")


def instant(epoch: int | None, zone: ZoneInfo = _UTC) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).astimezone(zone).isoformat()


def ticket_json(
    snapshot: TicketSnapshot, as_of: datetime, queries: Queries, policy: Policy
) -> dict[str, Any]:
    as_of_epoch = int(as_of.timestamp())
    clocks: dict[str, Any] = {}
    for metric, clock in snapshot.clocks.items():
        view = queries.view(clock, as_of_epoch)
        if view.status == "not_applicable":
            clocks[metric] = {"status": "not_applicable"}
            continue
        calendar = policy.calendar_named(view.calendar or "")
        zone = calendar.zone if calendar else _UTC
        clocks[metric] = {
            "status": view.status,
            "target_seconds": view.target_seconds,
            "calendar": view.calendar,
            "priority": clock.priority,
            "started_at": instant(view.started_at, zone),
            "deadline": instant(view.deadline, zone),
            "stopped_at": instant(view.stopped_at, zone),
            "breached_at": instant(view.breached_at, zone),
            "elapsed_seconds": view.elapsed_seconds,
            "remaining_seconds": view.remaining_seconds,
        }
    return {
        "ticket_id": snapshot.ticket_id,
        "customer_id": snapshot.customer_id,
        "plan": snapshot.plan.name if snapshot.plan else None,
        "priority": snapshot.priority,
        "as_of": as_of.isoformat(),
        "clocks": clocks,
    }


def compliance_json(month: str, as_of: datetime, rows: list[ComplianceRow]) -> dict[str, Any]:
    return {"month": month, "as_of": as_of.isoformat(), "rows": [r.as_dict() for r in rows]}


def credits_json(
    month: str, as_of: datetime, currency: str, customers: list[CustomerCredits]
) -> dict[str, Any]:
    out = []
    for c in customers:
        out.append(
            {
                "customer_id": c.customer_id,
                "entries": [
                    {
                        "ticket_id": e.ticket_id,
                        "metric": e.metric,
                        "breached_at": instant(e.breached_at, e.contract.plan.calendar.zone),
                        "amount": str(e.amount),
                    }
                    for e in c.entries
                ],
                "subtotal": str(c.subtotal),
                "cap": None if c.cap is None else str(c.cap),
                "total": str(c.total),
            }
        )
    return {"month": month, "as_of": as_of.isoformat(), "currency": currency, "customers": out}
