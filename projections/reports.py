"""Compliance and credit reports for a month, computed from the outcomes of its clocks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from slaclock.domain.objectives import attainment
from slaclock.domain.policy import Contract
from slaclock.projections.ledger import LedgerEntry
from slaclock.projections.month_counts import (
    CountKey,
    count,
    in_month,
    month_breaches,
    month_counts,
)
from slaclock.projections.objectives import ContractObjective, by_contract, month_objectives
from slaclock.projections.queries import Outcome, Queries, month_bounds

_UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class ComplianceRow:
    customer_id: str
    metric: str
    priority: int | None
    met: int
    breached: int

    @property
    def attainment(self) -> float | None:
        return attainment(self.met, self.breached)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "metric": self.metric,
            "priority": self.priority,
            "met": self.met,
            "breached": self.breached,
            "attainment": self.attainment,
        }


@dataclass(frozen=True)
class OwnershipRow:
    """Met and breached ownership cycles of one group and deciding priority in a month."""

    group: str
    priority: int | None
    met: int
    breached: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "priority": self.priority,
            "met": self.met,
            "breached": self.breached,
            "attainment": round(self.met / (self.met + self.breached), 4),
        }


def month_outcomes(queries: Queries, month: str, as_of: int, customer: str | None) -> list[Outcome]:
    start, end = month_bounds(month, _UTC)
    return in_month(queries.outcomes(start, end, as_of, customer), month)


def compliance(outcomes: list[Outcome]) -> list[ComplianceRow]:
    """Met and breached clocks per customer, metric and deciding priority."""
    return compliance_rows(count(outcomes))


def month_compliance(
    queries: Queries, month: str, as_of: int, customer: str | None
) -> list[ComplianceRow]:
    """The compliance report of a month, counted by the database (``month_counts``)."""
    return compliance_rows(month_counts(queries, month, as_of, customer))


def compliance_rows(outcome_counts: Mapping[CountKey, int]) -> list[ComplianceRow]:
    """Met and breached per customer, metric and deciding priority (contracts summed)."""
    counts: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for (customer, _contract, metric, priority, status), n in outcome_counts.items():
        prio = priority if priority is not None else -1
        counts[(customer, metric, prio)][0 if status == "met" else 1] += n
    return [
        ComplianceRow(customer, metric, None if prio == -1 else prio, met, breached)
        for (customer, metric, prio), (met, breached) in sorted(counts.items())
    ]


def ownership(outcomes: list[Outcome], group: str | None = None) -> list[OwnershipRow]:
    """Met and breached ownership cycles per group and deciding priority (of ``group``
    only, when given), ordered by group and priority."""
    counts: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for o in outcomes:
        if o.group is None or (group is not None and o.group != group):
            continue
        prio = o.priority if o.priority is not None else -1
        counts[(o.group, prio)][0 if o.status == "met" else 1] += 1
    return [
        OwnershipRow(name, None if prio == -1 else prio, met, breached)
        for (name, prio), (met, breached) in sorted(counts.items())
    ]


def month_ownership(
    queries: Queries, month: str, as_of: int, group: str | None, customer: str | None
) -> list[OwnershipRow]:
    """The ownership report of a month (months in each plan calendar's zone)."""
    start, end = month_bounds(month, _UTC)
    found = queries.ownership_outcomes(start, end, as_of, customer)
    return ownership(in_month(found, month), group)


def metric_totals(rows: list[ComplianceRow]) -> dict[str, dict[str, Any]]:
    """Met and breached per metric over ``rows``, with the attainment (None: none decided)."""
    totals: dict[str, dict[str, Any]] = {}
    for r in rows:
        t = totals.setdefault(r.metric, {"met": 0, "breached": 0})
        t["met"] += r.met
        t["breached"] += r.breached
    for t in totals.values():
        t["attainment"] = attainment(t["met"], t["breached"])
    return totals


@dataclass(frozen=True)
class CreditEntry:
    ticket_id: str
    metric: str
    breached_at: int
    amount: Decimal
    contract: Contract


@dataclass(frozen=True)
class CustomerCredits:
    customer_id: str
    entries: list[CreditEntry]
    subtotal: Decimal
    cap: Decimal | None
    total: Decimal
    adjustments: list[LedgerEntry] = field(default_factory=list)
    objectives: list[ContractObjective] | None = None
    """Every objective of the customer's contracts in the month (None: no plan has any)."""


def credits(
    outcomes: list[Outcome],
    adjustments: list[LedgerEntry] = (),  # type: ignore[assignment]
    contract_by_key: Callable[[str], Contract | None] = lambda key: None,
    objectives: Mapping[str, list[ContractObjective]] | None = None,
) -> list[CustomerCredits]:
    """Credits owed per customer: each breached credited clock earns ``per_breach`` x fee;
    ledger adjustments posted into this month (corrections of closed months) count too, and
    so do the objectives' credits (``projections.objectives``); each contract's entries,
    adjustments and objective credits are capped by that contract's cap."""
    assessed = objectives or {}
    per_customer: dict[str, list[CreditEntry]] = defaultdict(list)
    for o in outcomes:
        rule = o.contract.plan.credits
        if o.status != "breached" or rule is None or not rule.credits(o.metric):
            continue
        amount = rule.amount(o.contract.monthly_fee)
        per_customer[o.customer_id].append(
            CreditEntry(o.ticket_id, o.metric, o.at, amount, o.contract)
        )
    adjusted: dict[str, list[LedgerEntry]] = defaultdict(list)
    for adjustment in adjustments:
        adjusted[adjustment.customer_id].append(adjustment)
    result = []
    for customer in sorted(set(per_customer) | set(adjusted) | set(assessed)):
        entries = sorted(
            per_customer[customer], key=lambda e: (e.breached_at, e.ticket_id, e.metric)
        )
        sums: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
        contracts: dict[str, Contract | None] = {}
        for entry in entries:
            sums[entry.contract.key] += entry.amount
            contracts[entry.contract.key] = entry.contract
        for adjustment in adjusted[customer]:
            sums[adjustment.contract] += adjustment.amount
            contracts.setdefault(adjustment.contract, contract_by_key(adjustment.contract))
        for row in assessed.get(customer, []):
            sums[row.contract.key] += row.assessment.amount
            contracts[row.contract.key] = row.contract
        subtotal = total = Decimal("0.00")
        cap: Decimal | None = Decimal("0.00")
        for key, group_sum in sums.items():
            contract = contracts[key]
            rule = contract.plan.credits if contract else None
            group_cap = rule.cap_amount(contract.monthly_fee) if rule and contract else None
            subtotal += group_sum
            total += group_sum if group_cap is None else min(group_sum, group_cap)
            cap = None if cap is None or group_cap is None else cap + group_cap
        result.append(
            CustomerCredits(
                customer,
                entries,
                subtotal,
                cap,
                total,
                adjusted[customer],
                assessed.get(customer, []) if objectives is not None else None,
            )
        )
    return result


def month_credits(
    queries: Queries, month: str, as_of: int, customer: str | None
) -> list[CustomerCredits]:
    """The credit statement of an open month: breached clocks of the month (as of
    ``as_of``) plus the ledger's adjustments posted into it for closed months."""
    outcomes = month_breaches(queries, month, as_of, customer)
    adjustments = [
        entry
        for entry in queries.store.ledger_entries(posted_month=month, customer=customer)
        if entry.adjustment and (queries.known_at is None or entry.posted_at <= queries.known_at)
    ]
    assessed = None
    if any(plan.objectives for plan in queries.policy.plans.values()):
        counts = by_contract(month_counts(queries, month, as_of, customer))
        assessed = month_objectives(queries.policy, month, counts, customer)
    return credits(outcomes, adjustments, queries.policy.contract_by_key, assessed)
