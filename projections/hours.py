"""Support-hour account statements, from the work-log read model.

The account of a customer runs from the first month of its contract with an hour account up
to the month asked for; each month's statement starts from the previous month's closing
balance (``domain.hour_account``). A ticket whose response clock breached is not billed when
the plan says so: its lines show the waived minutes instead.
"""

from __future__ import annotations

from datetime import datetime

from slaclock.domain.hour_account import Statement, WorkLog, month_statements
from slaclock.domain.policy import Contract, Policy
from slaclock.projections.ledger import next_month
from slaclock.projections.queries import month_bounds
from slaclock.projections.store import TicketStore

WAIVED = "response clock breached"


class NoHourAccount(LookupError):
    """The customer has no contract with an hour account by that month."""


def account_contract(policy: Policy, customer: str, month: str) -> Contract:
    """The customer's latest contract with an hour account that started by ``month``."""
    found = [
        c
        for c in policy.contracts
        if c.customer == customer and c.plan.hours is not None
        and c.valid_from.strftime("%Y-%m") <= month
    ]  # fmt: skip
    if not found:
        raise NoHourAccount(f"customer {customer!r} has no hour account by {month}")
    return max(found, key=lambda c: c.valid_from)


def statements(store: TicketStore, policy: Policy, customer: str, month: str) -> list[Statement]:
    """The statements of every month of the account, from its first month to ``month``."""
    contract = account_contract(policy, customer, month)
    plan = contract.plan
    assert plan.hours is not None
    zone = plan.calendar.zone
    first = contract.valid_from.strftime("%Y-%m")
    months = [first]
    while months[-1] < month:
        months.append(next_month(months[-1]))
    start, _ = month_bounds(first, zone)
    _, end = month_bounds(month, zone)
    rows = store.query(
        "SELECT w.event_id, w.ticket_id, w.occurred_at, w.minutes, w.mode, w.actor,"
        " c.breach_at FROM {p}sla_work_logs w LEFT JOIN {p}sla_clocks c"
        " ON c.ticket_id = w.ticket_id AND c.metric = 'response'"
        " WHERE w.customer_id = ? AND w.at >= ? AND w.at < ?",
        [customer, start, end],
    )
    waive = plan.hours.rule.waive_on_response_breach
    logs = [
        WorkLog(
            ticket_id=row["ticket_id"],
            event_id=row["event_id"],
            occurred_at=datetime.fromisoformat(row["occurred_at"]),
            minutes=row["minutes"],
            on_site=row["mode"] == "on_site",
            actor=row["actor"],
            waived_reason=WAIVED if waive and row["breach_at"] is not None else None,
        )
        for row in rows
    ]
    terms = plan.hours.terms(contract.opening_hour_balance_minutes)
    return month_statements(terms, plan.hours.rule, logs, months, zone)
