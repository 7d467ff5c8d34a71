"""The answers the command line prints with ``--json`` and the HTTP API serves: one place.

Both front ends pick their :class:`Queries` here (``known_at`` and policy versions) and build
report answers here (the policy version that produced them; a closed month's frozen credit
statement; ledger adjustments in open months), so they cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from slaclock.domain.explain import explain
from slaclock.domain.policy import Policy
from slaclock.projections import reports
from slaclock.projections.policy_versions import policy_at, read_model_state
from slaclock.projections.queries import Queries
from slaclock.projections.render import (
    compliance_json,
    credits_json,
    events_json,
    explain_json,
    ownership_json,
)
from slaclock.projections.store import TicketStore

T = TypeVar("T")

PolicyLoader = Callable[[str, str], Policy]
"""Parses a stored configuration text (text, name for messages) into a Policy."""


def queries_for(
    store: TicketStore,
    policy: Policy,
    version: str | None,
    known_at: int | None,
    load_policy: PolicyLoader,
) -> Queries:
    """Queries answering with the read model, or with what the store knew at ``known_at``.

    ``version`` is the policy version of ``policy``. When the read model was computed under
    another version (another process moved it on), every ticket is re-evaluated from its
    events under ``policy``: slower, still right. With ``known_at``, only the events recorded
    by then count, under the policy version in use then.
    """
    current, pending = read_model_state(store)
    seen = {"model_version": current, "pending": pending}
    if known_at is None:
        return Queries(store, policy, version=version, rows_current=current == version, **seen)
    then = policy_at(store, known_at)
    if then is None or then[0] == version:
        return Queries(
            store,
            policy,
            known_at=known_at,
            version=version,
            rows_current=current == version,
            **seen,
        )
    old = load_policy(then[1], f"stored policy version {then[0]}")
    return Queries(store, old, known_at=known_at, rows_current=False, version=then[0], **seen)


def consistently(build: Callable[[], Queries], answer: Callable[[Queries], T]) -> T:
    """``answer(build())``, built again if the read model switched policy version while it
    was computed (its queries may then have read rows of both versions): an answer reflects
    exactly one version. A recompute switches rarely, so one retry is almost always enough."""
    for _ in range(3):
        queries = build()
        result = answer(queries)
        if queries.store.policy_version() == queries.model_version:
            break
    return result


def compliance_answer(
    queries: Queries, month: str, as_of: datetime, customer: str | None
) -> dict[str, Any]:
    rows = reports.month_compliance(queries, month, int(as_of.timestamp()), customer)
    data = compliance_json(month, as_of, rows)
    data["policy_version"] = queries.version
    data["policy_pending"] = queries.pending
    return data


def ownership_answer(
    queries: Queries, month: str, as_of: datetime, group: str | None, customer: str | None
) -> dict[str, Any]:
    """Met and breached ownership cycles per group and priority (of ``customer``'s tickets
    only, when given: what a customer's API token may see)."""
    rows = reports.month_ownership(queries, month, int(as_of.timestamp()), group, customer)
    data = ownership_json(month, as_of, rows)
    data["policy_version"] = queries.version
    data["policy_pending"] = queries.pending
    return data


def credits_answer(
    queries: Queries, month: str, as_of: datetime, customer: str | None
) -> dict[str, Any]:
    """The month's credit statement: frozen if the month was closed (by ``known_at``)."""
    frozen = queries.store.closed_statement(month)
    if frozen and (queries.known_at is None or frozen[1] <= queries.known_at):
        data: dict[str, Any] = json.loads(frozen[0])
        if customer is not None:
            data["customers"] = [c for c in data["customers"] if c["customer_id"] == customer]
        return data
    customers = reports.month_credits(queries, month, int(as_of.timestamp()), customer)
    data = credits_json(month, as_of, queries.policy.currency, customers)
    data["policy_version"] = queries.version
    data["policy_pending"] = queries.pending
    return data


def explain_answer(
    store: TicketStore,
    queries: Queries,
    ticket_id: str,
    as_of: datetime,
    customer: str | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """Why each clock of a ticket came out as it did, from the facts ``queries`` may see
    (all, or those recorded by its ``known_at``): (the ticket's customer, the answer), or
    ``None`` when the ticket is not known as of then, or is not ``customer``'s when one is
    given (then it is not loaded: one indexed read, as for a ticket that does not exist)."""
    if customer is not None and store.ticket_customer(ticket_id) != customer:
        return None
    ticket = store.load_ticket(ticket_id)
    if ticket is None:
        return None
    known_at = queries.known_at
    facts = ticket.facts if known_at is None else ticket.facts_known_at(known_at)
    found = explain(ticket_id, facts, queries.policy, int(as_of.timestamp())) if facts else None
    if found is None:
        return None
    snapshot, clocks = found
    data = explain_json(snapshot, clocks, as_of, queries)
    data["events"] = events_json(facts)  # each with its origin: what the desk changed
    return snapshot.customer_id, data
