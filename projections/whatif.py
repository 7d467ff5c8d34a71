"""What-if: the stored history re-evaluated under another configuration, side by side.

The live answers are the monthly reports as ``slaclock report`` computes them (the read
model, under the policy version in use). The what-if answers come from the same events,
evaluated in memory under the other policy (every ticket folded from its events and judged
with ``domain.clocks.evaluate``, as ``Queries`` does for a policy the rows were not computed
with), and go through the same report functions. Nothing is written to the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from slaclock.domain.policy import Policy
from slaclock.projections.objectives import count_outcomes, month_objectives
from slaclock.projections.queries import Queries
from slaclock.projections.render import instant
from slaclock.projections.reports import (
    ComplianceRow,
    CustomerCredits,
    compliance,
    credits,
    month_outcomes,
)
from slaclock.projections.store import TicketStore


@dataclass(frozen=True)
class Side:
    """One configuration: its policy and version (and where it was read from)."""

    policy: Policy
    version: str | None
    source: str | None = None


def what_if(
    store: TicketStore,
    live: Side,
    other: Side,
    month: str,
    as_of: datetime,
    customer: str | None = None,
) -> dict[str, Any]:
    """The differences in compliance and credits for ``month`` between the live answers and
    the answers under ``other`` (a JSON-ready dict; only rows that differ are listed)."""
    at = int(as_of.timestamp())
    now = Queries(store, live.policy, version=live.version)
    then = Queries(store, other.policy, rows_current=False, version=other.version)
    live_outcomes = month_outcomes(now, month, at, customer)
    other_outcomes = month_outcomes(then, month, at, customer)
    compliance_rows, compliance_same = _compliance(
        compliance(live_outcomes), compliance(other_outcomes)
    )
    live_credits = credits(
        live_outcomes,
        objectives=month_objectives(live.policy, month, count_outcomes(live_outcomes), customer),
    )
    other_credits = credits(
        other_outcomes,
        objectives=month_objectives(other.policy, month, count_outcomes(other_outcomes), customer),
    )
    credit_rows, credits_same = _credits(live_credits, other_credits)
    return {
        "month": month,
        "as_of": as_of.isoformat(),
        "customer": customer,
        "live": {"policy_version": live.version, "currency": live.policy.currency},
        "what_if": {
            "policy_version": other.version,
            "config": other.source,
            "currency": other.policy.currency,
        },
        "compliance": compliance_rows,
        "credits": credit_rows,
        "unchanged": {"compliance_rows": compliance_same, "credit_customers": credits_same},
    }


def _counts(row: ComplianceRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"met": row.met, "breached": row.breached, "attainment": row.attainment}


def _compliance(
    live: list[ComplianceRow], other: list[ComplianceRow]
) -> tuple[list[dict[str, Any]], int]:
    def key(row: ComplianceRow) -> tuple[str, str, int]:
        return (row.customer_id, row.metric, -1 if row.priority is None else row.priority)

    mine, theirs = {key(r): r for r in live}, {key(r): r for r in other}
    changed, same = [], 0
    for k in sorted(mine.keys() | theirs.keys()):
        a, b = _counts(mine.get(k)), _counts(theirs.get(k))
        if a == b:
            same += 1
            continue
        changed.append(
            {
                "customer_id": k[0],
                "metric": k[1],
                "priority": None if k[2] == -1 else k[2],
                "live": a,
                "what_if": b,
            }
        )
    return changed, same


def _entries(c: CustomerCredits | None) -> dict[tuple[str, str, int], tuple[Decimal, str]]:
    if c is None:
        return {}
    return {
        (e.ticket_id, e.metric, e.breached_at): (
            e.amount,
            instant(e.breached_at, e.contract.plan.calendar.zone) or "",
        )
        for e in c.entries
    }


def _totals(c: CustomerCredits | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "subtotal": str(c.subtotal),
        "cap": None if c.cap is None else str(c.cap),
        "total": str(c.total),
        "entry_count": len(c.entries),
    }


def _credits(
    live: list[CustomerCredits], other: list[CustomerCredits]
) -> tuple[list[dict[str, Any]], int]:
    mine = {c.customer_id: c for c in live}
    theirs = {c.customer_id: c for c in other}
    changed, same = [], 0
    for customer in sorted(mine.keys() | theirs.keys()):
        a, b = mine.get(customer), theirs.get(customer)
        ea, eb = _entries(a), _entries(b)
        if _totals(a) == _totals(b) and ea == eb:
            same += 1
            continue
        entries = []
        for k in sorted(ea.keys() | eb.keys(), key=lambda k: (k[2], k[0], k[1])):
            if ea.get(k, (None,))[0] == eb.get(k, (None,))[0]:
                continue
            entries.append(
                {
                    "ticket_id": k[0],
                    "metric": k[1],
                    "breached_at": (ea.get(k) or eb[k])[1],
                    "live": str(ea[k][0]) if k in ea else None,
                    "what_if": str(eb[k][0]) if k in eb else None,
                }
            )
        total_a = a.total if a else Decimal("0.00")
        total_b = b.total if b else Decimal("0.00")
        changed.append(
            {
                "customer_id": customer,
                "live": _totals(a),
                "what_if": _totals(b),
                "difference": f"{total_b - total_a:+.2f}",
                "entries": entries,
            }
        )
    return changed, same
