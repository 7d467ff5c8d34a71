"""The JSON shapes of the contract (section 5): what ``--json`` prints and the API serves.

Instants are RFC 3339 with offset, shown in the timezone of the calendar they belong to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from slaclock.domain.clocks import ClockView, TicketSnapshot
from slaclock.domain.explain import ClockExplanation
from slaclock.domain.facts import Fact
from slaclock.domain.objectives import Assessment, percent_text
from slaclock.domain.policy import OWNERSHIP, Policy
from slaclock.projections.ledger import LedgerEntry
from slaclock.projections.objectives import ContractObjective
from slaclock.projections.queries import Queries
from slaclock.projections.reports import ComplianceRow, CustomerCredits, OwnershipRow

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
        clocks[metric] = clock_json(queries.view(clock, as_of_epoch), clock.priority, policy)
    for metric in policy.cycle_metrics:
        clocks[metric] = cycles_json(snapshot, metric, as_of_epoch, queries, policy)
    return {
        "ticket_id": snapshot.ticket_id,
        "customer_id": snapshot.customer_id,
        "plan": snapshot.plan.name if snapshot.plan else None,
        "priority": snapshot.priority,
        "as_of": as_of.isoformat(),
        "clocks": clocks,
        "policy_version": queries.version,
        "policy_pending": queries.pending,
    }


def clock_json(view: ClockView, priority: int | None, policy: Policy) -> dict[str, Any]:
    """One clock (or cycle) as of an instant, in its calendar's timezone."""
    if view.status == "not_applicable":
        return {"status": "not_applicable"}
    zone = _zone(policy, view.calendar)
    return {
        "status": view.status,
        "target_seconds": view.target_seconds,
        "calendar": view.calendar,
        "priority": priority,
        "started_at": instant(view.started_at, zone),
        "deadline": instant(view.deadline, zone),
        "stopped_at": instant(view.stopped_at, zone),
        "breached_at": instant(view.breached_at, zone),
        "elapsed_seconds": view.elapsed_seconds,
        "remaining_seconds": view.remaining_seconds,
    }


def cycles_json(
    snapshot: TicketSnapshot, metric: str, as_of: int, queries: Queries, policy: Policy
) -> dict[str, Any]:
    """A cycle metric: ``{"status", "cycles"}`` (the last cycle's status, ``idle`` before
    the first), or ``{"status": "not_applicable"}`` when the ticket's plan has no target."""
    found = (snapshot.cycles or {}).get(metric)
    if found is None:
        return {"status": "not_applicable"}
    cycles = []
    for cycle in found:
        data = clock_json(queries.view(cycle, as_of), cycle.priority, policy)
        if metric == OWNERSHIP:
            data["group"] = getattr(cycle, "group", None)
        cycles.append(data)
    return {"status": cycles[-1]["status"] if cycles else "idle", "cycles": cycles}


def compliance_json(month: str, as_of: datetime, rows: list[ComplianceRow]) -> dict[str, Any]:
    return {"month": month, "as_of": as_of.isoformat(), "rows": [r.as_dict() for r in rows]}


def ownership_json(month: str, as_of: datetime, rows: list[OwnershipRow]) -> dict[str, Any]:
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
                "adjustments": [
                    {
                        "ticket_id": a.ticket_id,
                        "metric": a.metric,
                        "breached_at": instant(a.breached_at),
                        "month": a.month,
                        "kind": a.kind,
                        "amount": str(a.amount),
                        "refers_to": a.refers_to,
                        "entry_id": a.entry_id,
                    }
                    | _attainment(a)
                    for a in c.adjustments
                ],
                "subtotal": str(c.subtotal),
                "cap": None if c.cap is None else str(c.cap),
                "total": str(c.total),
            }
        )
        if c.objectives is not None:
            out[-1]["objectives"] = [objective_json(row.assessment) for row in c.objectives]
    return {"month": month, "as_of": as_of.isoformat(), "currency": currency, "customers": out}


def objectives_json(by_customer: Mapping[str, list[ContractObjective]]) -> list[dict[str, Any]]:
    """Each customer's objectives of a month (the attainment route), by customer."""
    return [
        {
            "customer_id": customer,
            "objectives": [objective_json(row.assessment) for row in by_customer[customer]],
        }
        for customer in sorted(by_customer)
    ]


def objective_json(assessment: Assessment) -> dict[str, Any]:
    """One objective's month as the credits report prints it."""
    objective = assessment.objective
    return {
        "metric": objective.metric,
        "priorities": None if objective.priorities is None else list(objective.priorities),
        "target": percent_text(objective.target),
        "met": assessment.met,
        "breached": assessment.breached,
        "attainment": assessment.attainment,
        "assessed": assessment.assessed,
        "achieved": assessment.achieved,
        "credit": None if assessment.credit is None else percent_text(assessment.credit),
        "amount": str(assessment.amount),
    }


def explain_json(
    snapshot: TicketSnapshot,
    clocks: dict[str, ClockExplanation],
    as_of: datetime,
    queries: Queries,
) -> dict[str, Any]:
    """The ticket as ``ticket`` prints it, plus per clock its timeline and notes."""
    data = ticket_json(snapshot, as_of, queries, queries.policy)
    contract = snapshot.contract
    data["contract"] = (
        {
            "customer": contract.customer,
            "plan": contract.plan.name,
            "from": contract.valid_from.isoformat(),
            "monthly_fee": str(contract.monthly_fee),
            "on_reprioritise": contract.plan.on_reprioritise,
        }
        if contract
        else None
    )
    if queries.known_at is not None:
        data["known_at"] = instant(queries.known_at)
    for explanation in clocks.values():
        zone = _zone(queries.policy, explanation.clock.calendar)
        place = data["clocks"][explanation.metric]
        if explanation.cycle is not None:  # a cycle: its entry in the metric's cycles
            place = place["cycles"][explanation.cycle]
        place["timeline"] = [
            {
                "from": instant(span.start, zone),
                "to": instant(span.end, zone),
                "kind": span.kind,
                "seconds": span.end - span.start,
                "counted_seconds": span.counted,
                "detail": span.detail,
            }
            for span in explanation.spans
        ]
        place["notes"] = [
            {"at": instant(note.at, zone), "text": note.text} for note in explanation.notes
        ]
    return data


def events_json(facts: Sequence[Fact]) -> list[dict[str, Any]]:
    """The events behind an explanation, in time order, each with its ``source`` (for a
    source's event, the desk's own change: ``jsm: changelog 10234 status A -> B``)."""
    return [
        {
            "event_id": fact.event_id,
            "type": fact.type,
            "occurred_at": fact.occurred_at.isoformat(),
            "source": fact.details.get("source"),
        }
        for fact in sorted(facts, key=lambda fact: fact.at)
    ]


def _zone(policy: Policy, calendar_name: str | None) -> ZoneInfo:
    calendar = policy.calendar_named(calendar_name or "")
    return calendar.zone if calendar else _UTC


def ledger_entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "kind": entry.kind,
        "adjustment": entry.adjustment,
        "posted_month": entry.posted_month,
        "month": entry.month,
        "customer_id": entry.customer_id,
        "contract": entry.contract,
        "ticket_id": entry.ticket_id,
        "metric": entry.metric,
        "breached_at": instant(entry.breached_at),
        "amount": str(entry.amount),
        "refers_to": entry.refers_to,
        "posted_at": instant(entry.posted_at),
        "policy_version": entry.policy_version,
    } | _attainment(entry)


def _attainment(entry: LedgerEntry) -> dict[str, Any]:
    """An objective entry's attainment (per-breach entries have none and print none)."""
    return {} if entry.attainment is None else {"attainment": float(entry.attainment)}
