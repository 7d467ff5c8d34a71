"""Answers from the read model: tickets and clock outcomes as of an instant.

Rows describe each ticket after all its facts. For ``as_of`` at or after a ticket's last fact
the row answers directly (a few comparisons, at most one calendar call per running clock);
only tickets with facts after ``as_of`` are re-evaluated from their events.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo

from slaclock.domain.clocks import ClockSnapshot, ClockView, TicketSnapshot, evaluate
from slaclock.domain.cycles import CycleSnapshot
from slaclock.domain.policy import NEXT_REPLY, OWNERSHIP, Contract, Policy
from slaclock.projections import tables
from slaclock.projections.store import TicketStore

# Outcomes are pre-filtered in SQL on a window this much wider than the month in UTC, then
# exactly in the timezone of each plan (UTC offsets stay within +-14 h).
MONTH_MARGIN = 14 * 3600
_TICKET_FIELDS = (
    "t.ticket_id, t.customer_id AS ticket_customer, t.contract AS ticket_contract,"
    " t.priority AS ticket_priority, t.created_at, t.last_fact_at, t.resolved_at"
)
# The clock columns other than ticket_id, for joins with the ticket table.
_CLOCK_FIELDS = ", ".join(f"c.{name}" for name in tables.CLOCK_COLUMNS.split(", ")[1:])


@dataclass(frozen=True, slots=True)
class Outcome:
    """A clock that was met or breached: when, for whom, under which contract."""

    ticket_id: str
    customer_id: str
    contract: Contract
    metric: str
    priority: int | None
    status: str
    at: int
    group: str | None = None  # the group of an ownership cycle


class Queries:
    """Read-side questions; the store provides rows, the policy gives them meaning."""

    def __init__(
        self,
        store: TicketStore,
        policy: Policy,
        *,
        known_at: int | None = None,
        rows_current: bool = True,
        version: str | None = None,
        model_version: str | None = None,
        pending: str | None = None,
    ) -> None:
        """``known_at``: answer with only the events the store had recorded by then.
        ``rows_current``: the read model was computed with ``policy`` (False when answering
        under an older policy version: then every ticket is re-evaluated from its events)."""
        self.store = store
        self.policy = policy
        self.known_at = known_at
        self.rows_current = rows_current
        self.version = version  # the policy version the answers are computed under
        self.model_version = model_version  # the read model's version when they were built
        self.pending = pending  # a version another process is recomputing the read model to

    def fresh_condition(self, as_of: int) -> tuple[str, list[Any]]:
        """SQL condition (on ``t``, the ticket table) for rows that answer as of ``as_of``."""
        if not self.rows_current:
            return "1 = 0", []
        if self.known_at is None:
            return "t.last_fact_at <= ?", [as_of]
        return "t.last_fact_at <= ? AND t.last_recorded_at <= ?", [as_of, self.known_at]

    def stale_condition(self, as_of: int) -> tuple[str, list[Any]]:
        """SQL condition (on ``t``) for rows that do not answer as of ``as_of``: the negation
        of :meth:`fresh_condition`, spelled so that the ``last_fact_at`` index can serve it."""
        if not self.rows_current:
            return "1 = 1", []
        if self.known_at is None:
            return "t.last_fact_at > ?", [as_of]
        return "(t.last_fact_at > ? OR t.last_recorded_at > ?)", [as_of, self.known_at]

    def stale_tickets(
        self, as_of: int, customer: str | None = None, *, created: bool = True
    ) -> list[str]:
        """Tickets created by ``as_of`` (of ``customer``) whose rows do not answer then
        (``created=False``: created then or not, every ticket whose rows do not answer)."""
        stale, params = self.stale_condition(as_of)
        where = f"{stale} AND t.created_at <= ?" if created else stale
        params = [*params, as_of] if created else params
        if customer is not None:
            where, params = where + " AND t.customer_id = ?", [*params, customer]
        rows = self.store.query(f"SELECT t.ticket_id FROM {{p}}sla_tickets t WHERE {where}", params)
        return [row["ticket_id"] for row in rows]

    # ------------------------------------------------------------------ tickets
    def ticket(self, ticket_id: str, as_of: int) -> TicketSnapshot | None:
        """One ticket as of ``as_of``, evaluated from its events (None: unknown then)."""
        ticket = self.store.load_ticket(ticket_id)
        if ticket is None:
            return None
        facts = ticket.facts if self.known_at is None else ticket.facts_known_at(self.known_at)
        return evaluate(ticket_id, facts, self.policy, cutoff=as_of)

    def tickets(self, as_of: int, customer: str | None = None) -> Iterator[TicketSnapshot]:
        """Every ticket created by ``as_of``, ordered by ticket id."""
        where, params = "t.created_at <= ?", [as_of]
        if customer is not None:
            where, params = where + " AND t.customer_id = ?", [*params, customer]
        return self.snapshots(where, params, as_of)

    def snapshots(self, where: str, params: Sequence[Any], as_of: int) -> Iterator[TicketSnapshot]:
        """Tickets matching ``where`` (SQL on ``t``, the ticket table), ordered by id: from
        their rows when the rows answer as of ``as_of``, else re-evaluated from events."""
        fresh, fresh_params = self.fresh_condition(as_of)
        rows = self.store.query(
            f"SELECT {_TICKET_FIELDS}, CASE WHEN {fresh} THEN 1 ELSE 0 END AS fresh,"
            f" {_CLOCK_FIELDS} FROM {{p}}sla_tickets t"
            f" LEFT JOIN {{p}}sla_clocks c ON c.ticket_id = t.ticket_id"
            f" WHERE {where} ORDER BY t.ticket_id, c.metric",
            [*fresh_params, *params],
        )
        current: list[Any] = []
        if not self.policy.cycle_metrics:
            for row in rows:
                if current and current[0]["ticket_id"] != row["ticket_id"]:
                    if found := self._from_rows(current, as_of):
                        yield found
                    current = []
                current.append(row)
            if current and (found := self._from_rows(current, as_of)):
                yield found
            return
        yield from self._with_cycles(rows, as_of)

    def _with_cycles(self, rows: Any, as_of: int) -> Iterator[TicketSnapshot]:
        """The tickets of ``rows`` (grouped as :meth:`snapshots` does), their stored cycles
        attached, read 500 tickets at a time."""
        chunk: list[TicketSnapshot] = []
        current: list[Any] = []
        for row in chain(rows, [None]):
            if current and (row is None or current[0]["ticket_id"] != row["ticket_id"]):
                if found := self._from_rows(current, as_of):
                    chunk.append(found)
                current = []
            if row is not None:
                current.append(row)
            if chunk and (len(chunk) >= 500 or row is None):
                yield from self._attach_cycles(chunk)
                chunk = []

    def _attach_cycles(self, snapshots: list[TicketSnapshot]) -> list[TicketSnapshot]:
        """``snapshots`` with the cycles their rows keep (those evaluated have theirs)."""
        from_rows = [s.ticket_id for s in snapshots if s.cycles is None]
        if not from_rows:
            return snapshots
        marks = ", ".join("?" * len(from_rows))
        found: dict[str, dict[str, list[ClockSnapshot]]] = {}
        for row in self.store.query(
            f"SELECT {tables.CYCLE_COLUMNS} FROM {{p}}sla_cycles"
            f" WHERE ticket_id IN ({marks}) ORDER BY ticket_id, metric, cycle",
            from_rows,
        ):
            found.setdefault(row["ticket_id"], {}).setdefault(row["metric"], []).append(
                cycle_from_row(row)
            )
        for snapshot in snapshots:
            if snapshot.cycles is None:
                plan = snapshot.plan
                stored = found.get(snapshot.ticket_id, {})
                snapshot.cycles = {
                    metric: tuple(stored.get(metric, ()))
                    for metric in self.policy.cycle_metrics
                    if plan is not None and plan.has_cycles(metric)
                }
        return snapshots

    def _from_rows(self, rows: list[Any], as_of: int) -> TicketSnapshot | None:
        first = rows[0]
        if not first["fresh"]:
            return self.ticket(first["ticket_id"], as_of)
        key = first["ticket_contract"]
        return TicketSnapshot(
            ticket_id=first["ticket_id"],
            customer_id=first["ticket_customer"],
            contract=self.policy.contract_by_key(key) if key else None,
            priority=first["ticket_priority"],
            created_at=first["created_at"],
            last_fact_at=first["last_fact_at"],
            resolved_at=first["resolved_at"],
            clocks={
                metric: ClockSnapshot(metric=metric, priority=None)
                for metric in self.policy.metrics
            }
            | {row["metric"]: clock_from_row(row) for row in rows if row["metric"] is not None},
        )

    def view(self, clock: ClockSnapshot, as_of: int) -> ClockView:
        calendar = self.policy.calendar_named(clock.calendar) if clock.calendar else None
        return clock.view(as_of, calendar.between_epoch if calendar else None)

    # ----------------------------------------------------------------- outcomes
    def outcomes(
        self, month_start: int, month_end: int, as_of: int, customer: str | None = None
    ) -> list[Outcome]:
        """Clocks met or breached in a window (pre-filter; callers check the month per zone)."""
        lo, hi = month_start - MONTH_MARGIN, month_end + MONTH_MARGIN
        fresh, fresh_params = self.fresh_condition(as_of)
        where = (
            f"{fresh} AND ((c.breach_at IS NULL AND c.stopped_at >= ?"
            " AND c.stopped_at < ?) OR (c.breach_at >= ? AND c.breach_at < ? AND c.breach_at < ?))"
        )
        params: list[Any] = [*fresh_params, lo, hi, lo, hi, as_of]
        if customer is not None:
            where, params = where + " AND c.customer_id = ?", [*params, customer]
        rows = self.store.query(
            f"SELECT c.{tables.CLOCK_COLUMNS.replace(', ', ', c.')} FROM {{p}}sla_clocks c"
            f" JOIN {{p}}sla_tickets t ON t.ticket_id = c.ticket_id WHERE {where}",
            params,
        )
        found: list[Outcome] = []
        if NEXT_REPLY in self.policy.cycle_metrics:
            found += self._stored_cycle_outcomes(NEXT_REPLY, where, params, as_of)
        for row in rows:
            contract = self.policy.contract_by_key(row["contract"]) if row["contract"] else None
            if contract is not None:
                found.extend(
                    self._outcome(
                        row["ticket_id"], row["customer_id"], contract, clock_from_row(row), as_of
                    )
                )
        return found + self.stale_outcomes(as_of, customer)

    def stale_outcomes(self, as_of: int, customer: str | None = None) -> list[Outcome]:
        """Outcomes (any instant) of the clocks and next-reply cycles of the tickets whose
        rows do not answer as of ``as_of``, evaluated from their events."""
        found: list[Outcome] = []
        for snapshot in self._evaluate_many(self.stale_tickets(as_of, customer), as_of):
            if snapshot.contract is None:
                continue
            clocks = [*snapshot.clocks.values(), *(snapshot.cycles or {}).get(NEXT_REPLY, ())]
            for clock in clocks:
                found.extend(
                    self._outcome(
                        snapshot.ticket_id, snapshot.customer_id, snapshot.contract, clock, as_of
                    )
                )
        return found

    def ownership_outcomes(
        self, month_start: int, month_end: int, as_of: int, customer: str | None = None
    ) -> list[Outcome]:
        """Ownership cycles met or breached in a window (pre-filter, as :meth:`outcomes`),
        of every customer's tickets or of ``customer``'s."""
        if OWNERSHIP not in self.policy.cycle_metrics:
            return []
        lo, hi = month_start - MONTH_MARGIN, month_end + MONTH_MARGIN
        fresh, fresh_params = self.fresh_condition(as_of)
        where = (
            f"{fresh} AND ((c.breach_at IS NULL AND c.stopped_at >= ?"
            " AND c.stopped_at < ?) OR (c.breach_at >= ? AND c.breach_at < ? AND c.breach_at < ?))"
        )
        params: list[Any] = [*fresh_params, lo, hi, lo, hi, as_of]
        if customer is not None:
            where, params = where + " AND c.customer_id = ?", [*params, customer]
        found = self._stored_cycle_outcomes(OWNERSHIP, where, params, as_of)
        for snapshot in self._evaluate_many(self.stale_tickets(as_of, customer), as_of):
            if snapshot.contract is None:
                continue
            for cycle in (snapshot.cycles or {}).get(OWNERSHIP, ()):
                found.extend(
                    self._outcome(
                        snapshot.ticket_id, snapshot.customer_id, snapshot.contract, cycle, as_of
                    )
                )
        return found

    def _stored_cycle_outcomes(
        self, metric: str, where: str, params: list[Any], as_of: int
    ) -> list[Outcome]:
        """Outcomes of the stored cycles of ``metric`` matching ``where`` (on ``c``, ``t``)."""
        rows = self.store.query(
            f"SELECT c.{tables.CYCLE_COLUMNS.replace(', ', ', c.')} FROM {{p}}sla_cycles c"
            f" JOIN {{p}}sla_tickets t ON t.ticket_id = c.ticket_id"
            f" WHERE c.metric = ? AND c.target_seconds IS NOT NULL AND {where}",
            [metric, *params],
        )
        found: list[Outcome] = []
        for row in rows:
            contract = self.policy.contract_by_key(row["contract"]) if row["contract"] else None
            if contract is not None:
                cycle = cycle_from_row(row)
                found += self._outcome(row["ticket_id"], row["customer_id"], contract, cycle, as_of)
        return found

    def _evaluate_many(self, ticket_ids: list[str], as_of: int) -> Iterator[TicketSnapshot]:
        """Re-evaluate tickets from their events, loading them 500 at a time."""
        for start in range(0, len(ticket_ids), 500):
            for ticket_id, ticket in self.store.get_tickets(
                ticket_ids[start : start + 500]
            ).items():
                facts = (
                    ticket.facts if self.known_at is None else ticket.facts_known_at(self.known_at)
                )
                snapshot = evaluate(ticket_id, facts, self.policy, cutoff=as_of)
                if snapshot is not None:
                    yield snapshot

    def _outcome(
        self, ticket_id: str, customer_id: str, contract: Contract, clock: ClockSnapshot, as_of: int
    ) -> list[Outcome]:
        view = self.view(clock, as_of)
        if view.status == "met" and view.stopped_at is not None:
            at = view.stopped_at
        elif view.status == "breached" and view.breached_at is not None:
            at = view.breached_at
        else:
            return []
        group = getattr(clock, "group", None)
        return [
            Outcome(
                ticket_id, customer_id, contract, clock.metric, clock.priority, view.status, at,
                group,
            )
        ]  # fmt: skip


def clock_from_row(row: Any) -> ClockSnapshot:
    """A clock as ``sla_clocks`` keeps it."""
    return ClockSnapshot(**_clock_fields(row))


def cycle_from_row(row: Any) -> CycleSnapshot:
    """A cycle as ``sla_cycles`` keeps it (a clock's columns and its group)."""
    return CycleSnapshot(**_clock_fields(row), group=row["grp"])


def _clock_fields(row: Any) -> dict[str, Any]:
    return {
        "metric": row["metric"],
        "priority": row["priority"],
        "target_seconds": row["target_seconds"],
        "calendar": row["calendar"],
        "started_at": row["started_at"],
        "deadline": row["deadline"],
        "stopped_at": row["stopped_at"],
        "breach_at": row["breach_at"],
        "accrued": row["accrued"],
        "running_since": row["running_since"],
        "paused": bool(row["paused"]),
        "paused_seconds": row["paused_seconds"],
        "paused_since": row["paused_since"],
    }


def month_bounds(month: str, zone: ZoneInfo) -> tuple[int, int]:
    """``[start, end)`` of a ``YYYY-MM`` month in ``zone``, as epoch seconds."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return int(start.timestamp()), int(end.timestamp())
