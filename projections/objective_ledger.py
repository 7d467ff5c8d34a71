"""Objective credits in the ledger: posted by ``ledger close``, corrected when a closed month
changes.

Closing month M posts, per contract and objective, an ``objective`` entry for each credit owed
(amount above zero) with the attainment it was computed from. Every close also re-assesses the
months closed before: where an objective's credit or attainment now differs from the entry
still standing, it posts a ``reversal`` of that entry and a new ``objective`` entry (if a
credit is still owed), both into the first open month, as adjustments, the way per-breach
credits are corrected (``projections.ledger``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace

from slaclock.domain.objectives import Assessment
from slaclock.domain.policy import Contract
from slaclock.projections.ledger import LedgerEntry, first_open
from slaclock.projections.objectives import ContractObjective, count_outcomes, month_objectives
from slaclock.projections.queries import Queries, month_bounds
from slaclock.projections.reports import month_outcomes

OBJECTIVE = "objective"


def objective_label(assessment: Assessment) -> str:
    """What an objective entry names in the ledger's ticket column:
    ``objective:response:1,2`` (``*`` for every priority)."""
    objective = assessment.objective
    priorities = "*" if objective.priorities is None else ",".join(map(str, objective.priorities))
    return f"{OBJECTIVE}:{objective.metric}:{priorities}"


def month_postings(
    month: str,
    objectives: Mapping[str, list[ContractObjective]],
    standing: Iterable[LedgerEntry],
    closed: set[str],
    posted_at: int,
    policy_version: str | None,
    sequence: int,
) -> list[LedgerEntry]:
    """The entries that make the ledger agree with ``objectives`` (the month's assessments
    now): new credits, and a reversal plus a new credit where a ``standing`` entry (an
    objective credit of ``month`` not yet reversed) no longer matches. ``sequence`` keeps
    entry ids unique across closes (the number of ledger entries so far)."""
    kept = {(e.contract, e.ticket_id): e for e in standing if e.month == month}
    entries: list[LedgerEntry] = []
    for rows in objectives.values():
        for row in rows:
            label = objective_label(row.assessment)
            wanted = _posting(month, row, label, closed, posted_at, policy_version)
            old = kept.pop((row.contract.key, label), None)
            if old is not None and wanted is not None and _same(old, wanted):
                continue
            if old is not None:
                entries.append(_reversal(old, closed, posted_at, policy_version))
            if wanted is not None:
                entries.append(wanted)
    for old in kept.values():  # an objective no longer configured owes nothing now
        entries.append(_reversal(old, closed, posted_at, policy_version))
    return [_numbered(entry, sequence + i, month) for i, entry in enumerate(entries)]


def _posting(
    month: str,
    row: ContractObjective,
    label: str,
    closed: set[str],
    posted_at: int,
    policy_version: str | None,
) -> LedgerEntry | None:
    """The objective credit owed for the month, or None when none is (not assessed, or no
    tier reached)."""
    assessment, contract = row.assessment, row.contract
    if not assessment.assessed or assessment.amount <= 0:
        return None
    return LedgerEntry(
        entry_id="",
        posted_at=posted_at,
        customer_id=contract.customer,
        contract=contract.key,
        ticket_id=label,
        metric=assessment.objective.metric,
        breached_at=_month_end(month, contract),
        month=month,
        posted_month=first_open(month, closed),
        kind=OBJECTIVE,
        amount=assessment.amount,
        refers_to=None,
        policy_version=policy_version,
        attainment=str(assessment.attainment),
    )


def _reversal(
    old: LedgerEntry, closed: set[str], posted_at: int, policy_version: str | None
) -> LedgerEntry:
    return LedgerEntry(
        entry_id="",
        posted_at=posted_at,
        customer_id=old.customer_id,
        contract=old.contract,
        ticket_id=old.ticket_id,
        metric=old.metric,
        breached_at=old.breached_at,
        month=old.month,
        posted_month=first_open(old.month, closed),
        kind="reversal",
        amount=-old.amount,
        refers_to=old.entry_id,
        policy_version=policy_version,
        attainment=old.attainment,
    )


def _same(old: LedgerEntry, new: LedgerEntry) -> bool:
    return (old.amount, old.attainment) == (new.amount, new.attainment)


def _numbered(entry: LedgerEntry, number: int, month: str) -> LedgerEntry:
    entry_id = f"{entry.contract}:{entry.ticket_id}:{month}:{number:08d}:{entry.kind}"
    return replace(entry, entry_id=entry_id)


def _month_end(month: str, contract: Contract) -> int:
    """The instant the month ends in the plan calendar's zone: when its attainment is final."""
    return month_bounds(month, contract.plan.calendar.zone)[1]


def close_postings(
    queries: Queries, month: str, now: int, policy_version: str | None
) -> list[LedgerEntry]:
    """What ``ledger close --month M`` posts before it freezes M: the corrections of the
    months closed with objectives (re-assessed as of ``now``), then M's objective credits."""
    store, policy = queries.store, queries.policy
    closed = store.closed_months()
    standing = store.ledger.standing_objectives()
    sequence = store.ledger.count()
    entries: list[LedgerEntry] = []
    redo = sorted(c for c in closed if _assessed_objectives(store.closed_statement(c)))
    for done in [*redo, month]:
        outcomes = month_outcomes(queries, done, now, None)
        assessed = month_objectives(policy, done, count_outcomes(outcomes)) or {}
        entries += month_postings(
            done, assessed, standing, closed, now, policy_version, sequence + len(entries)
        )
    return entries


def _assessed_objectives(frozen: tuple[str, int] | None) -> bool:
    """Whether a closed month's statement assessed objectives (a month closed before any
    objective was configured is left as it was closed)."""
    if frozen is None:
        return False
    statement = json.loads(frozen[0])
    return any("objectives" in customer for customer in statement.get("customers", []))
