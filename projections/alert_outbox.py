"""The alert outbox: one delivery row per raised or withdrawn escalation and notifier.

Rows are written in the transaction of the batch (or tick) that made the alert due
(``TicketStore.save``), so an alert is never recorded as raised without its deliveries, and a
crash loses none. Delivering processes *claim* due rows under a lease (``lease_owner``,
``lease_until``), on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` and on SQLite under its
writer lock, so that two processes never send one delivery at once; a process killed while it
holds rows leaves them to whoever claims them after the lease ran out. What a delivery
attempt did is settled only by the lease's holder. The rules around it: docs/alerts.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from slaclock.projections.tables import Dialect

if TYPE_CHECKING:
    from slaclock.projections.event_store import EventStore

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

OUTBOX_TABLES: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {p}sla_alert_deliveries (
        id TEXT PRIMARY KEY,
        alert_id TEXT NOT NULL,
        notifier TEXT NOT NULL,
        ticket_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        retry_from DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at DOUBLE PRECISION NOT NULL,
        lease_owner TEXT,
        lease_until DOUBLE PRECISION,
        last_error TEXT,
        delivered_at DOUBLE PRECISION)""",
    """CREATE INDEX IF NOT EXISTS sla_alert_deliveries_due
        ON {p}sla_alert_deliveries (status, next_attempt_at)""",
)

COLUMNS = (
    "id, alert_id, notifier, ticket_id, payload, created_at, retry_from, status, attempts,"
    " next_attempt_at, lease_owner, lease_until, last_error, delivered_at"
)

INSERT_DELIVERY = f"""INSERT INTO {{p}}sla_alert_deliveries ({COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"""


def create_alert_outbox(cursor: Any, dialect: Dialect) -> None:
    """Store schema step 5 -> 6: the outbox table (new stores get it with the others)."""
    for statement in OUTBOX_TABLES:
        cursor.execute(dialect.sql(statement))


def payload_text(payload: dict[str, Any]) -> str:
    """The payload as stored: compact JSON (msgspec's encoder: a backfill writes thousands)."""
    return msgspec.json.encode(payload).decode()


def delivery_row(
    alert_id: str, notifier: str, ticket_id: str, text: str, stored_at: float
) -> tuple[Any, ...]:
    """A new pending delivery of the payload ``text`` (its id: the alert's and the
    notifier's name)."""
    row_id = f"{alert_id}/{notifier}"
    return (row_id, alert_id, notifier, ticket_id, text, stored_at, stored_at, PENDING, 0,
            stored_at, None, None, None, None)  # fmt: skip


@dataclass(frozen=True)
class Delivery:
    """One delivery row (instants in epoch seconds)."""

    id: str
    alert_id: str
    notifier: str
    ticket_id: str
    payload: str
    created_at: float
    retry_from: float
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None

    @classmethod
    def from_row(cls, row: Any) -> Delivery:
        return cls(
            id=row["id"],
            alert_id=row["alert_id"],
            notifier=row["notifier"],
            ticket_id=row["ticket_id"],
            payload=row["payload"],
            created_at=float(row["created_at"]),
            retry_from=float(row["retry_from"]),
            status=row["status"],
            attempts=int(row["attempts"]),
            next_attempt_at=float(row["next_attempt_at"]),
            last_error=row["last_error"],
            delivered_at=None if row["delivered_at"] is None else float(row["delivered_at"]),
        )


@dataclass(frozen=True)
class Settled:
    """What one attempt did to a delivery: its new status, attempts, next try and error."""

    id: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None = None
    delivered_at: float | None = None


def any_due(store: EventStore, now: float) -> bool:
    """Whether a pending delivery is due by ``now`` (a read: an idle deliverer looks often
    without taking SQLite's writer lock)."""
    rows = store.query(
        "SELECT 1 AS due FROM {p}sla_alert_deliveries WHERE status = 'pending'"
        " AND next_attempt_at <= ? LIMIT 1",
        [now],
    )
    return bool(rows)


def claim(
    store: EventStore, owner: str, now: float, lease_seconds: float, limit: int = 100
) -> list[Delivery]:
    """Lease up to ``limit`` pending deliveries due by ``now`` (earliest first) to ``owner``
    until ``now + lease_seconds``; rows another live lease holds are skipped."""
    skip = " FOR UPDATE SKIP LOCKED" if store.dialect.name == "postgres" else ""
    statement = (
        "UPDATE {p}sla_alert_deliveries SET lease_owner = ?, lease_until = ?"
        " WHERE id IN (SELECT id FROM {p}sla_alert_deliveries WHERE status = 'pending'"
        " AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
        f" ORDER BY next_attempt_at, id LIMIT ?{skip}) RETURNING {COLUMNS}"
    )
    with store.write() as cursor:
        cursor.execute(store.dialect.sql(statement), [owner, now + lease_seconds, now, now, limit])
        rows = [Delivery.from_row(row) for row in cursor.fetchall()]
    return sorted(rows, key=lambda d: (d.next_attempt_at, d.id))


def settle(store: EventStore, owner: str, outcomes: Sequence[Settled]) -> None:
    """Record attempts' outcomes and end their lease (one transaction, one batched statement);
    only rows ``owner`` still holds change (a lease that ran out and was taken over is the
    new holder's)."""
    statement = store.dialect.sql(
        "UPDATE {p}sla_alert_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
        " last_error = ?, delivered_at = ?, lease_owner = NULL, lease_until = NULL"
        " WHERE id = ? AND lease_owner = ?"
    )
    rows = [
        (o.status, o.attempts, o.next_attempt_at, o.last_error, o.delivered_at, o.id, owner)
        for o in outcomes
    ]
    with store.write() as cursor:
        cursor.executemany(statement, rows)


def release(store: EventStore, owner: str, ids: Sequence[str]) -> None:
    """End ``owner``'s lease on deliveries it did not attempt (claimable again at once)."""
    statement = store.dialect.sql(
        "UPDATE {p}sla_alert_deliveries SET lease_owner = NULL, lease_until = NULL"
        " WHERE id = ? AND lease_owner = ?"
    )
    with store.write() as cursor:
        cursor.executemany(statement, [(i, owner) for i in ids])


def listing(store: EventStore, status: str | None = None, limit: int = 1000) -> list[Delivery]:
    """Deliveries (of one ``status``), oldest first."""
    where, params = ("status = ?", [status]) if status else ("1 = 1", [])
    rows = store.query(
        f"SELECT {COLUMNS} FROM {{p}}sla_alert_deliveries WHERE {where}"
        " ORDER BY created_at, id LIMIT ?",
        [*params, limit],
    )
    return [Delivery.from_row(row) for row in rows]


def retry_failed(store: EventStore, now: float, ids: Sequence[str] = ()) -> int:
    """Make failed deliveries (all, or those of ``ids``: delivery or alert ids) pending again,
    due at once, their give-up window starting ``now``. Returns how many."""
    base = (
        "UPDATE {p}sla_alert_deliveries SET status = 'pending', next_attempt_at = ?,"
        " retry_from = ?, lease_owner = NULL, lease_until = NULL WHERE status = 'failed'"
    )
    with store.write() as cursor:
        if not ids:
            cursor.execute(store.dialect.sql(base + " RETURNING id"), [now, now])
            return len(cursor.fetchall())
        statement = store.dialect.sql(base + " AND (id = ? OR alert_id = ?) RETURNING id")
        changed = 0
        for one in ids:
            cursor.execute(statement, [now, now, one, one])
            changed += len(cursor.fetchall())
        return changed


def summary(store: EventStore, now: float) -> dict[str, float]:
    """Counts by status, deliveries that needed more than one attempt (``retried``) and the
    age in seconds of the oldest pending delivery (0: none)."""
    rows = store.query(
        "SELECT status, COUNT(*) AS n, SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS retried,"
        " MIN(created_at) AS oldest FROM {p}sla_alert_deliveries GROUP BY status"
    )
    out: dict[str, float] = {PENDING: 0, DELIVERED: 0, FAILED: 0, "retried": 0}
    oldest = 0.0
    for row in rows:
        out[row["status"]] = int(row["n"])
        out["retried"] += int(row["retried"] or 0)
        if row["status"] == PENDING and row["oldest"] is not None:
            oldest = max(0.0, now - float(row["oldest"]))
    out["oldest_pending_seconds"] = oldest
    return out
