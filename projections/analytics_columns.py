"""The analytics interface v1: its datasets and every column's type, unit and meaning.

One dictionary, read by everything that shows the interface: PostgreSQL's ``COMMENT ON``
(``projections.analytics``), SQLite's column types and its ``analytics_columns`` table, the
Parquet schema of exports (``projections.analytics_export``) and docs/analytics.md. Within
v1 names never change and columns are only added at the end of a dataset; a breaking
change ships as v2 beside v1 (docs/analytics.md, change log).
"""

from __future__ import annotations

from dataclasses import dataclass

INTERFACE_VERSION = "v1"

# Kinds of value and how each database declares them. SQLite keeps timestamps as UTC text
# ``YYYY-MM-DD HH:MM:SS`` in TIMESTAMP columns (BI drivers type a column by its declared
# type) and dates as ``YYYY-MM-DD`` text in DATE columns.
PG_TYPES = {
    "text": "text",
    "integer": "bigint",
    "timestamp": "timestamptz",
    "date": "date",
    "money": "numeric(18,2)",
    "ratio": "numeric",
    "boolean": "boolean",
}
SQLITE_TYPES = {
    "text": "TEXT",
    "integer": "BIGINT",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "money": "DECIMAL(18,2)",
    "ratio": "REAL",
    "boolean": "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    description: str
    nullable: bool = True
    unit: str = ""
    allowed: str = ""


@dataclass(frozen=True)
class Dataset:
    name: str
    grain: str
    key: tuple[str, ...]
    description: str
    columns: tuple[Column, ...]
    monthly: bool = True
    """Partitioned by ``period_month`` in exports."""

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


STATUSES = "met, breached, running, paused"
_PERIOD = Column(
    "period_month",
    "date",
    "First day of the outcome month: the month, in the time zone of the contract's plan"
    " calendar, of the instant the clock was met (stopped_at) or breached (breached_at); for a"
    " clock still running or paused, the current month. Null without a contract.",
    unit="date",
)
_CLOSED = Column(
    "month_closed",
    "boolean",
    "Whether period_month is closed in the credit ledger (its statement is frozen).",
    nullable=False,
)

CLOCKS = Dataset(
    name="clocks",
    grain="one row per ticket and metric with a target (one clock), and per cycle with a"
    " target of a cycle metric (next_reply, ownership)",
    key=("ticket_id", "metric", "cycle"),
    description="Every SLA clock and cycle with the terms that applied to it and its outcome"
    " as of now.",
    columns=(
        Column("ticket_id", "text", "The ticket's id at its source.", nullable=False),
        Column(
            "metric",
            "text",
            "The clock's metric (next_reply and ownership: one row per cycle).",
            False,
            allowed="response, intervention, resolution, next_reply, ownership",
        ),
        Column("customer_id", "text", "The ticket's customer.", nullable=False),
        Column(
            "contract",
            "text",
            "Key of the contract that applied: customer@valid_from"
            " (see contracts). Null: the customer had no contract when the ticket was"
            " created.",
        ),
        Column("plan", "text", "Name of the contract's plan."),
        Column(
            "priority",
            "integer",
            "The priority that decided the clock's target (the"
            " priority applied, not necessarily the ticket's current one).",
        ),
        Column(
            "status",
            "text",
            "The clock's state as of now (met and breached are outcomes).",
            nullable=False,
            allowed=STATUSES,
        ),
        Column("started_at", "timestamp", "When the clock started (UTC).", unit="instant"),
        Column(
            "due_at",
            "timestamp",
            "The deadline: when the target is used up if the clock"
            " runs on (after pauses); null while paused.",
            unit="instant",
        ),
        Column(
            "stopped_at",
            "timestamp",
            "When the clock stopped (null while running or paused).",
            unit="instant",
        ),
        Column(
            "breached_at",
            "timestamp",
            "When the clock breached (status breached only).",
            unit="instant",
        ),
        Column(
            "target_seconds",
            "integer",
            "The target that applied, in business seconds.",
            nullable=False,
            unit="seconds",
        ),
        Column(
            "business_elapsed_seconds",
            "integer",
            "Business time counted up to the last"
            " fact (stopped clocks: the whole elapsed time; running clocks: without the"
            " stretch running since running_since).",
            nullable=False,
            unit="seconds",
        ),
        Column(
            "running_since",
            "timestamp",
            "Start of the stretch still running (null when stopped or paused).",
            unit="instant",
        ),
        Column("calendar", "text", "The business calendar the target counts on."),
        Column(
            "time_zone",
            "text",
            "IANA time zone of the plan calendar, in which period_month is counted.",
        ),
        _PERIOD,
        _CLOSED,
        Column(
            "cycle",
            "integer",
            "The cycle's number, from 0 in start order (the ticket's cycles of the metric);"
            " null for a clock of a single-clock metric.",
            unit="ordinal",
        ),
        Column(
            "group_name",
            "text",
            "The group owning the ticket during an ownership cycle; null otherwise.",
        ),
        Column(
            "paused_seconds",
            "integer",
            "Real (wall-clock) seconds the clock spent paused between started_at and"
            " stopped_at, up to the last fact: the pauses that ended (a clock paused now:"
            " without the pause open since paused_since). Not business time. Null only for a"
            " row stored before slaclock kept it, until a replay or recompute fills it.",
            unit="seconds",
        ),
        Column(
            "paused_since",
            "timestamp",
            "Start of the pause still open (a clock not stopped and paused now: status"
            " paused, or breached if its deadline passed before); null otherwise. The open"
            " pause so far is now - paused_since.",
            unit="instant",
        ),
    ),
)

COMPLIANCE = Dataset(
    name="compliance",
    grain="one row per outcome month, customer, metric and priority",
    key=("period_month", "customer_id", "metric", "priority"),
    description="Monthly compliance: the clocks view grouped, as `slaclock report compliance`"
    " (next_reply cycles count like clocks; ownership cycles do not, see `report ownership`).",
    columns=(
        _PERIOD,
        Column("customer_id", "text", "The customer.", nullable=False),
        Column(
            "metric",
            "text",
            "The metric.",
            False,
            allowed="response, intervention, resolution, next_reply",
        ),
        Column("priority", "integer", "The priority that decided the clocks' targets."),
        Column("met", "integer", "Clocks (cycles) met in the month.", False, unit="clocks"),
        Column(
            "breached", "integer", "Clocks (cycles) breached in the month.", False, unit="clocks"
        ),
        Column(
            "running",
            "integer",
            "Clocks still running or paused (current month only).",
            False,
            unit="clocks",
        ),
        Column(
            "attainment",
            "ratio",
            "met / (met + breached), unrounded (the report prints"
            " it rounded to 4 places); null when no clock was decided.",
            unit="0..1",
        ),
        _CLOSED,
    ),
)

CREDIT_LEDGER = Dataset(
    name="credit_ledger",
    grain="one row per ledger entry (append-only)",
    key=("entry_id",),
    description="The credit ledger: credits posted for breaches and the reversals of"
    " withdrawn ones; never updated or deleted.",
    columns=(
        Column("entry_id", "text", "The entry's id.", nullable=False),
        Column(
            "kind", "text", "A credit, or the reversal of one.", False, allowed="credit, reversal"
        ),
        Column("refers_to", "text", "For a reversal: the entry_id of the credit it reverses."),
        Column("posted_at", "timestamp", "When the entry was posted (UTC).", False, "instant"),
        Column("customer_id", "text", "The customer credited.", nullable=False),
        Column("contract", "text", "Key of the contract the credit is owed under.", False),
        Column("ticket_id", "text", "The breached ticket.", nullable=False),
        Column("metric", "text", "The breached metric.", nullable=False),
        Column("breached_at", "timestamp", "When the clock breached (UTC).", False, "instant"),
        Column(
            "breach_month",
            "date",
            "First day of the month the breach falls in (plan calendar's time zone).",
            False,
            "date",
        ),
        Column(
            "period_month",
            "date",
            "First day of the month whose statement the entry"
            " counts in: the breach month, or the first open month after it when that was"
            " closed (an adjustment).",
            False,
            "date",
        ),
        Column("amount", "money", "Amount credited (negative for a reversal).", False, "currency"),
        Column("currency", "text", "ISO 4217 currency of the amount."),
        Column(
            "is_adjustment",
            "boolean",
            "Posted into a later month than the breach month (a correction of a closed month).",
            nullable=False,
        ),
        Column("policy_version", "text", "The configuration version the entry was posted under."),
    ),
)

CONTRACTS = Dataset(
    name="contracts",
    grain="one row per contract of the configuration in force",
    key=("contract",),
    description="Contracts with their validity, fee and credit terms.",
    monthly=False,
    columns=(
        Column("contract", "text", "The contract's key: customer@valid_from.", False),
        Column("customer_id", "text", "The customer.", nullable=False),
        Column("plan", "text", "The plan's name.", nullable=False),
        Column(
            "valid_from", "date", "First day in force (plan calendar's time zone).", False, "date"
        ),
        Column(
            "valid_to",
            "date",
            "First day of the customer's next contract (exclusive); null: open-ended.",
            unit="date",
        ),
        Column("monthly_fee", "money", "Monthly fee.", False, "currency"),
        Column("currency", "text", "ISO 4217 currency of the fee and credits.", False),
        Column("calendar", "text", "The plan's calendar.", nullable=False),
        Column("time_zone", "text", "IANA time zone of the plan's calendar.", False),
        Column(
            "credit_per_breach",
            "ratio",
            "Credit per breached credited clock, as a"
            " fraction of the monthly fee; null: no credits.",
            unit="fraction",
        ),
        Column(
            "credit_cap",
            "ratio",
            "Monthly cap of credits, as a fraction of the fee; null: no cap.",
            unit="fraction",
        ),
        Column("credited_metrics", "text", "Metrics whose breaches earn credits, comma-separated."),
        Column("policy_version", "text", "The configuration version in force.", False),
    ),
)

TARGETS = Dataset(
    name="targets",
    grain="one row per contract, metric and priority with a target",
    key=("contract", "metric", "priority"),
    description="The targets in force under each contract, with the contract's validity.",
    monthly=False,
    columns=(
        Column("contract", "text", "The contract's key.", nullable=False),
        Column("customer_id", "text", "The customer.", nullable=False),
        Column("plan", "text", "The plan's name.", nullable=False),
        Column(
            "metric", "text", "The metric.", False, allowed="response, intervention, resolution"
        ),
        Column("priority", "integer", "The priority.", nullable=False),
        Column("target_seconds", "integer", "The target in business seconds.", False, "seconds"),
        Column("calendar", "text", "The calendar the target counts on.", nullable=False),
        Column("time_zone", "text", "IANA time zone of that calendar.", nullable=False),
        Column("valid_from", "date", "First day the contract is in force.", False, "date"),
        Column(
            "valid_to",
            "date",
            "First day of the next contract (exclusive); null: open-ended.",
            unit="date",
        ),
    ),
)

DATASETS: dict[str, Dataset] = {
    d.name: d for d in (CLOCKS, COMPLIANCE, CREDIT_LEDGER, CONTRACTS, TARGETS)
}
EXPORTABLE = tuple(name for name, d in DATASETS.items() if d.monthly)
