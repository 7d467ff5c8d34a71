"""Objectives of a month: per contract, the outcomes each objective counts and its verdict.

The outcomes are the month's met and breached clocks (and cycles: any clock row with an
outcome counts, whatever its metric), read from the read model exactly as the compliance
report reads them (``reports.month_outcomes``: one definition of the month), counted by
:func:`count_outcomes` (the compliance report's counting), judged by ``domain.objectives``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from slaclock.domain.objectives import Assessment
from slaclock.domain.policy import Contract, Policy
from slaclock.projections.month_counts import CountKey
from slaclock.projections.queries import Outcome

OutcomeKey = tuple[str, str, int | None, str]
"""(contract key, metric, deciding priority, status)."""


@dataclass(frozen=True)
class ContractObjective:
    """One objective's month under one contract."""

    contract: Contract
    assessment: Assessment


def count_outcomes(outcomes: Iterable[Outcome]) -> Counter[OutcomeKey]:
    """Met and breached outcomes per contract, metric and deciding priority."""
    return Counter((o.contract.key, o.metric, o.priority, o.status) for o in outcomes)


def by_contract(counts: Mapping[CountKey, int]) -> Counter[OutcomeKey]:
    """``month_counts.month_counts`` per contract, metric, priority and status (customers
    dropped: a contract is one customer's)."""
    found: Counter[OutcomeKey] = Counter()
    for (_customer, *key), n in counts.items():
        found[tuple(key)] += n  # type: ignore[index]
    return found


def contracts_in_force(policy: Policy, month: str) -> list[Contract]:
    """The contracts in force on some day of ``month`` (dates in their plan calendar's
    zone): begun by its last day and not replaced by a later one before its first day."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    by_customer: dict[str, list[Contract]] = {}
    for contract in sorted(policy.contracts, key=lambda c: c.valid_from):
        by_customer.setdefault(contract.customer, []).append(contract)
    found = []
    for contracts in by_customer.values():
        for contract, following in zip(contracts, [*contracts[1:], None], strict=True):
            replaced = following is not None and following.valid_from <= first
            if contract.valid_from < after and not replaced:
                found.append(contract)
    return found


def month_objectives(
    policy: Policy, month: str, counts: Mapping[OutcomeKey, int], customer: str | None = None
) -> dict[str, list[ContractObjective]] | None:
    """Per customer, every objective of each contract in force during ``month`` or with
    outcomes in it (``counts``: :func:`count_outcomes` of the month's outcomes), assessed or
    not, in report order; None when no plan has objectives (the credits report then looks
    exactly as it did before objectives existed)."""
    if not any(plan.objectives for plan in policy.plans.values()):
        return None
    contracts = {c.key: c for c in contracts_in_force(policy, month)}
    for key, *_ in counts:
        contract = policy.contract_by_key(key)
        if contract is not None:
            contracts[key] = contract
    found: dict[str, list[ContractObjective]] = {}
    for contract in contracts.values():
        if customer is not None and contract.customer != customer:
            continue
        for objective in contract.plan.objectives:
            met = breached = 0
            for (key, metric, priority, status), n in counts.items():
                if key == contract.key and objective.counts(metric, priority):
                    met, breached = (met + n, breached) if status == "met" else (met, breached + n)
            assessment = objective.assess(met, breached, contract.monthly_fee)
            found.setdefault(contract.customer, []).append(ContractObjective(contract, assessment))
    for rows in found.values():
        rows.sort(key=lambda row: (row.assessment.objective.order, row.contract.valid_from))
    return found
