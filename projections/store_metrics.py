"""The store's figures for operators' metrics, read at scrape time as plain data.

Read-model rows commit with their events, so the projections never trail the event store;
what can trail is the engine's time (the alert watermark) and the consumers (partition lag).
The HTTP layer turns these figures into Prometheus families.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slaclock.projections.alert_outbox import summary
from slaclock.projections.positions import PartitionLag
from slaclock.projections.store import TicketStore


@dataclass(frozen=True)
class ClockFigures:
    """The clocks of one metric: not stopped, breached, breached and still running."""

    metric: str
    open: int
    breached: int
    open_breached: int


@dataclass(frozen=True)
class StoreFigures:
    events_stored: int  # ticket events accepted (pending tickets' included)
    counters: dict[tuple[str, str], int]  # running totals by (name, label)
    tickets_created: int
    tickets_pending: int
    clocks: list[ClockFigures]  # by metric
    watermark: int  # 0: no alert time reached yet
    partitions: list[PartitionLag]
    deliveries: dict[str, float]  # the alert outbox: counts by status, retried, oldest age


def store_figures(store: TicketStore, now: int) -> StoreFigures:
    """Every figure, read now; breaches count as of ``now`` (epoch seconds)."""
    events = store.query("SELECT COUNT(*) AS n FROM {p}sla_event_ids")[0]["n"]
    tickets = store.query(
        "SELECT COUNT(*) AS n, SUM(CASE WHEN created_at IS NULL THEN 1 ELSE 0 END) AS pending"
        " FROM {p}sla_tickets"
    )[0]
    pending = _int(tickets["pending"])
    return StoreFigures(
        events_stored=_int(events),
        counters=store.counters(),
        tickets_created=_int(tickets["n"]) - pending,
        tickets_pending=pending,
        clocks=_clocks(store, now),
        watermark=store.watermark() or 0,
        partitions=store.partition_lags(),
        deliveries=summary(store, now),
    )


def _clocks(store: TicketStore, now: int) -> list[ClockFigures]:
    rows = store.query(
        "SELECT metric,"
        " SUM(CASE WHEN stopped_at IS NULL THEN 1 ELSE 0 END) AS open,"
        " SUM(CASE WHEN breach_at IS NOT NULL AND (stopped_at IS NOT NULL OR breach_at < ?)"
        " THEN 1 ELSE 0 END) AS breached,"
        " SUM(CASE WHEN stopped_at IS NULL AND breach_at IS NOT NULL AND breach_at < ?"
        " THEN 1 ELSE 0 END) AS open_breached"
        " FROM {p}sla_clocks GROUP BY metric ORDER BY metric",
        [now, now],
    )
    return [
        ClockFigures(
            row["metric"], _int(row["open"]), _int(row["breached"]), _int(row["open_breached"])
        )
        for row in rows
    ]


def _int(value: Any) -> int:
    return int(value or 0)
