"""A ticket's read-model rows: its ``sla_tickets`` row, its clocks and its work logs.

Rows are derived from the ticket's events and its evaluation under a policy (a
:class:`TicketSnapshot`; None while the ticket is pending, i.e. facts wait for its
creation), so they can always be recomputed: by each save, and by a rebuild or verify. A
resolved ticket's row also keeps its clock inputs (``projections.clock_inputs``), from which
a configuration change recomputes its rows without folding its events.
"""

from __future__ import annotations

from typing import Any

from slaclock.domain.alerts import next_alert_at
from slaclock.domain.clocks import TicketSnapshot
from slaclock.domain.facts import WORK_LOGGED
from slaclock.domain.ticket import Ticket
from slaclock.projections import clock_inputs
from slaclock.projections.batch import Batch


def add_rows(batch: Batch, ticket: Ticket, snapshot: TicketSnapshot | None, watermark: int) -> None:
    """Append the rows of ``ticket`` evaluated as ``snapshot`` to ``batch``; alerts falling
    due before ``watermark`` were raised already."""
    batch.tickets.append(ticket_row(ticket, snapshot))
    _work_log_rows(ticket, snapshot, batch)
    if snapshot is not None:
        add_clock_rows(batch, snapshot, watermark)


def add_clock_rows(batch: Batch, snapshot: TicketSnapshot, watermark: int) -> None:
    """Append the ``sla_clocks`` rows of a ticket evaluated as ``snapshot``."""
    contract = snapshot.contract.key if snapshot.contract else None
    plan = snapshot.plan
    for clock in snapshot.clocks.values():
        if not clock.applicable:
            # No row: a missing metric reads as not_applicable. A plan that has the metric
            # for other priorities may have had a row for it before a reprioritisation.
            if plan is not None and clock.metric in plan.targets:
                batch.clocks_gone.append((snapshot.ticket_id, clock.metric))
            continue
        batch.clocks.append(
            (
                snapshot.ticket_id,
                clock.metric,
                snapshot.customer_id,
                contract,
                clock.priority,
                clock.target_seconds,
                clock.calendar,
                clock.started_at,
                clock.deadline,
                clock.stopped_at,
                clock.breach_at,
                clock.accrued,
                clock.running_since,
                int(clock.paused),
                next_alert_at(clock, watermark),
                clock.paused_seconds,
                clock.paused_since,
            )
        )
    if snapshot.cycles is not None:
        add_cycle_rows(batch, snapshot, contract, watermark)


def add_cycle_rows(
    batch: Batch, snapshot: TicketSnapshot, contract: str | None, watermark: int
) -> None:
    """Append the ``sla_cycles`` rows of a ticket (all of them: its old rows are deleted)."""
    batch.cycles_of.append((snapshot.ticket_id,))
    for metric, cycles in (snapshot.cycles or {}).items():
        for number, cycle in enumerate(cycles):
            batch.cycles.append(
                (
                    snapshot.ticket_id,
                    f"{metric}/{number}",
                    metric,
                    number,
                    getattr(cycle, "group", None),
                    snapshot.customer_id,
                    contract,
                    cycle.priority,
                    cycle.target_seconds,
                    cycle.calendar,
                    cycle.started_at,
                    cycle.deadline,
                    cycle.stopped_at,
                    cycle.breach_at,
                    cycle.accrued,
                    cycle.running_since,
                    int(cycle.paused),
                    next_alert_at(cycle, watermark) if cycle.applicable else None,
                    cycle.paused_seconds,
                    cycle.paused_since,
                )
            )


def ticket_row(ticket: Ticket, snapshot: TicketSnapshot | None) -> tuple[Any, ...]:
    """The ``sla_tickets`` row of a ticket (pending: facts waiting for the creation)."""
    recorded = ticket.last_recorded_at
    if snapshot is None:
        return (
            ticket.ticket_id, None, None, None, None, None, None, recorded, len(ticket.facts), None,
            None,
        )  # fmt: skip
    resolved = snapshot.resolved_at is not None
    kept = clock_inputs.encode(ticket.facts) if resolved else None
    return created_ticket_row(snapshot, recorded, kept)


TERMS = ("contract", "plan", "priority")  # the columns of a ticket row a policy decides


def terms(snapshot: TicketSnapshot) -> tuple[str | None, str | None, int]:
    """The :data:`TERMS` of the row of a ticket evaluated as ``snapshot``."""
    contract = snapshot.contract
    plan = contract.plan.name if contract else None
    return (contract.key if contract else None, plan, snapshot.priority)


def created_ticket_row(
    snapshot: TicketSnapshot, last_recorded_at: int, kept: bytes | None
) -> tuple[Any, ...]:
    """The ``sla_tickets`` row of a created ticket evaluated as ``snapshot``, last recorded
    at ``last_recorded_at``, keeping the clock inputs ``kept``."""
    return (
        snapshot.ticket_id,
        snapshot.customer_id,
        *terms(snapshot),
        snapshot.created_at,
        snapshot.last_fact_at,
        last_recorded_at,
        0,
        snapshot.resolved_at,
        kept,
    )


def _work_log_rows(ticket: Ticket, snapshot: TicketSnapshot | None, batch: Batch) -> None:
    """Work logs for the hour accounts (their customer is known once the ticket is created)."""
    customer = snapshot.customer_id if snapshot else None
    for fact in ticket.facts:
        if fact.type == WORK_LOGGED:
            batch.work_logs.append(
                (
                    fact.event_id,
                    ticket.ticket_id,
                    customer,
                    fact.occurred_at.isoformat(),
                    fact.at,
                    int(fact.details["minutes"]),
                    fact.details["mode"],
                    fact.details["actor"],
                )
            )
    for event_id, voided in ticket.voided.items():
        if voided.fact.type == WORK_LOGGED:
            batch.voided_work_logs.append((event_id,))
