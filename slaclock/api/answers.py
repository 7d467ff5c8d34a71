"""The report answers the API serves, built exactly as the command line builds its ``--json``.

These mirror ``slaclock.cli``'s report commands (policy version in the answer; a closed
month's frozen credit statement; ledger adjustments in open months) and use each engine
feature only where the engine has it, so the API keeps the CLI's fields while the engine
grows. Once the engine offers these answers as functions in ``projections``, both the CLI
and this module should call them instead.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from projections import reports
from projections.queries import Queries
from projections.render import compliance_json, credits_json
from projections.store import TicketStore


def _versioned(data: dict[str, Any], queries: Queries) -> dict[str, Any]:
    if hasattr(queries, "version"):
        data["policy_version"] = queries.version
    return data


def compliance_answer(
    queries: Queries, month: str, as_of: datetime, customer: str | None
) -> dict[str, Any]:
    epoch = int(as_of.timestamp())
    rows = reports.compliance(reports.month_outcomes(queries, month, epoch, customer))
    return _versioned(compliance_json(month, as_of, rows), queries)


def credits_answer(
    store: TicketStore, queries: Queries, month: str, as_of: datetime, customer: str | None
) -> dict[str, Any]:
    closed = getattr(store, "closed_statement", None)
    frozen = closed(month) if closed is not None else None
    known_at = getattr(queries, "known_at", None)
    if frozen and (known_at is None or frozen[1] <= known_at):
        data: dict[str, Any] = json.loads(frozen[0])
        if customer is not None:
            data["customers"] = [c for c in data["customers"] if c["customer_id"] == customer]
        return data
    epoch = int(as_of.timestamp())
    month_credits = getattr(reports, "month_credits", None)
    if month_credits is not None:
        customers = month_credits(queries, month, epoch, customer)
    else:
        customers = reports.credits(reports.month_outcomes(queries, month, epoch, customer))
    return _versioned(credits_json(month, as_of, queries.policy.currency, customers), queries)
