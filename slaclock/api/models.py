"""Response shapes for the OpenAPI document. Handlers return the dictionaries of
``projections.render`` / ``projections.queue`` (the CLI's JSON) unchanged; these models
describe them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(_Out):
    detail: str = Field(description="what is wrong, starting with the parameter it is about")


class _ClockFields(_Out):
    """What a clock and each of a cycle metric's cycles say beside their status."""

    target_seconds: int | None = None
    calendar: str | None = None
    priority: int | None = None
    started_at: str | None = None
    deadline: str | None = None
    stopped_at: str | None = None
    breached_at: str | None = None
    elapsed_seconds: int | None = None
    remaining_seconds: int | None = None


class Cycle(_ClockFields):
    """One cycle of a cycle metric: a clock's fields, and ``group`` for ownership."""

    status: Literal["met", "breached", "paused", "running", "not_applicable"]
    group: str | None = None


class Clock(_ClockFields):
    status: Literal["met", "breached", "paused", "running", "not_applicable", "idle"]
    cycles: list[Cycle] | None = Field(
        default=None,
        description="next_reply and ownership: the cycles in start order (status: the last"
        " one's, idle before the first)",
    )


class Ticket(_Out):
    ticket_id: str
    customer_id: str
    plan: str | None
    priority: int
    as_of: str
    clocks: dict[str, Clock]
    policy_version: str | None = None
    policy_pending: str | None = Field(
        default=None,
        description="a newer policy version another process is applying to the read model",
    )


class ExplainedClock(Clock):
    timeline: list[dict[str, Any]] = Field(
        default=[], description="spans: from, to, kind, seconds, counted_seconds, detail"
    )
    notes: list[dict[str, Any]] = Field(default=[], description="at, text")


class Explanation(Ticket):
    clocks: dict[str, ExplainedClock]  # type: ignore[assignment]
    contract: dict[str, Any] | None = None
    known_at: str | None = None


class TicketPage(_Out):
    as_of: str
    customer_id: str | None
    total: int = Field(description="tickets created by as_of (for this customer)")
    limit: int
    items: list[Ticket]
    next_after: str | None = Field(description="pass as `after` for the next page")
    next: str | None = Field(description="the next page's URL (path and query)")


class ComplianceRow(_Out):
    customer_id: str
    metric: str
    priority: int | None
    met: int
    breached: int
    attainment: float


class Compliance(_Out):
    month: str
    as_of: str
    rows: list[ComplianceRow]
    policy_version: str | None = None
    policy_pending: str | None = Field(
        default=None,
        description="a newer policy version another process is applying to the read model",
    )


class OwnershipRow(_Out):
    group: str
    priority: int | None
    met: int
    breached: int
    attainment: float


class Ownership(_Out):
    month: str
    as_of: str
    rows: list[OwnershipRow]
    policy_version: str | None = None
    policy_pending: str | None = Field(
        default=None,
        description="a newer policy version another process is applying to the read model",
    )


class CreditEntry(_Out):
    ticket_id: str
    metric: str
    breached_at: str | None
    amount: str


class Objective(_Out):
    metric: str
    priorities: list[int] | None
    target: str = Field(description='the share promised, e.g. "95%"')
    met: int
    breached: int
    attainment: float | None
    assessed: bool
    achieved: bool
    credit: str | None = Field(description='the tier reached, e.g. "5%" ("0%": none)')
    amount: str


class CustomerObjectives(_Out):
    customer_id: str
    objectives: list[Objective]


class CustomerCredits(_Out):
    customer_id: str
    entries: list[CreditEntry]
    adjustments: list[dict[str, Any]] = Field(
        default=[], description="ledger adjustments posted into this month (closed months')"
    )
    subtotal: str
    cap: str | None
    total: str
    objectives: list[Objective] | None = Field(
        default=None, description="every objective of the plans in force (when any has one)"
    )


class Credits(_Out):
    month: str
    as_of: str
    currency: str
    customers: list[CustomerCredits]
    policy_version: str | None = None
    policy_pending: str | None = Field(
        default=None,
        description="a newer policy version another process is applying to the read model",
    )
    closed_at: str | None = Field(default=None, description="set when the month is closed")


class MetricTotal(_Out):
    met: int
    breached: int
    attainment: float | None


class AttainmentMonth(_Out):
    month: str
    rows: list[ComplianceRow]
    metrics: dict[str, MetricTotal]
    objectives: list[CustomerObjectives] | None = Field(
        default=None, description="each customer's objectives in the month (when any plan has)"
    )


class Attainment(_Out):
    as_of: str
    customer_id: str | None
    from_month: str = Field(alias="from")
    to_month: str = Field(alias="to")
    months: list[AttainmentMonth]


class QueueClock(_Out):
    status: str
    risk: Literal["ok", "at_risk", "breached"]
    priority: int | None
    target_seconds: int | None
    calendar: str | None
    deadline: str | None
    breached_at: str | None
    elapsed_seconds: int | None
    remaining_seconds: int | None


class QueueItem(_Out):
    position: int
    ticket_id: str
    customer_id: str
    has_contract: bool
    plan: str | None
    priority: int
    created_at: str | None
    next_deadline: str | None
    remaining_seconds: int | None
    risk: Literal["ok", "at_risk", "breached"] | None
    clocks: dict[str, QueueClock]


class Queue(_Out):
    as_of: str
    order: Literal["priority", "deadline"]
    total: int
    items: list[QueueItem]


class Me(_Out):
    token_id: str
    customer_id: str | None
    admin: bool


class Health(_Out):
    status: str
