"""The dead-letter outbox: a consumer's rejected messages, kept in the store with their batch.

Rows are written in their batch's transaction (``TicketStore.save``; table and insert in
``projections.tables``) and read here: by the relay to the dead-letter topic, and by
``slaclock dead-letters``. Why an outbox, and the row ids: docs/store.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slaclock.projections.event_store import EventStore
from slaclock.projections.tables import DEAD_LETTER_COLUMNS

_NAMESPACE = uuid.UUID("5d1a0c3e-9a57-4c39-8f5e-3f1f0d2b7c11")


def dead_letter_id(source: str, value: bytes) -> str:
    """The same id for the same message: its source (``topic/partition/offset``, or a
    stored event's ticket) and a digest of its bytes."""
    digest = hashlib.sha256(value).hexdigest()
    return str(uuid.uuid5(_NAMESPACE, f"{source}\n{digest}"))


@dataclass(frozen=True)
class DeadLetter:
    """One rejected message as kept in the outbox and relayed to the dead-letter topic."""

    id: str
    created_at: int  # epoch seconds: when its batch was applied
    seq: int  # the order its consumer stored it in (see ``last_seq``)
    source: str
    reason: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    relayed_at: int | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.created_at,
            self.seq,
            _storable(self.source),
            _storable(self.reason),
            self.key,
            self.value,
            json.dumps(self.headers),
            self.relayed_at,
        )

    def as_json(self) -> dict[str, Any]:
        """For people and scripts: ``raw`` readable (invalid UTF-8 replaced), ``raw_base64``
        the exact bytes when they are not valid UTF-8 (as in a dead-letter file)."""
        data: dict[str, Any] = {
            "id": self.id,
            "created_at": _instant(self.created_at),
            "relayed_at": _instant(self.relayed_at),
            "source": self.source,
            "reason": self.reason,
            "key": self.key.decode("utf-8", "replace") if self.key is not None else None,
            "raw": self.value.decode("utf-8", "replace"),
            "headers": dict(self.headers),
        }
        try:
            self.value.decode("utf-8")
        except UnicodeDecodeError:
            data["raw_base64"] = base64.b64encode(self.value).decode("ascii")
        return data

    @classmethod
    def from_row(cls, row: Any) -> DeadLetter:
        key = row["key"]
        return cls(
            id=row["id"],
            created_at=int(row["created_at"]),
            seq=int(row["seq"]),
            source=row["source"],
            reason=row["reason"],
            key=bytes(key) if key is not None else None,
            value=bytes(row["value"]),
            headers=[(name, text) for name, text in json.loads(row["headers"])],
            relayed_at=row["relayed_at"],
        )


def _instant(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _storable(text: str) -> str:
    """Text any store can hold: no NUL (PostgreSQL refuses it in text), no lone surrogate
    (not encodable as UTF-8); a reason may quote the rejected input."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def last_seq(store: EventStore) -> int:
    """The highest ``seq`` stored (0: none): a consumer numbers its dead letters on from it,
    so that they list and relay in the order they were stored."""
    rows = store.query("SELECT MAX(seq) AS seq FROM {p}sla_dead_letters")
    return int(rows[0]["seq"] or 0) if rows else 0


def unrelayed(store: EventStore, limit: int = 500) -> list[DeadLetter]:
    """The oldest dead letters not yet acknowledged by the dead-letter topic."""
    rows = store.query(
        f"SELECT {DEAD_LETTER_COLUMNS} FROM {{p}}sla_dead_letters WHERE relayed_at IS NULL"
        " ORDER BY created_at, seq, id LIMIT ?",
        [limit],
    )
    return [DeadLetter.from_row(row) for row in rows]


def mark_relayed(store: EventStore, ids: Sequence[str], at: int) -> None:
    """Record that the dead-letter topic acknowledged ``ids`` (one transaction)."""
    statement = store.dialect.sql(
        "UPDATE {p}sla_dead_letters SET relayed_at = ? WHERE id = ? AND relayed_at IS NULL"
    )
    with store.datastore.transaction(commit=True) as cursor:
        cursor.executemany(statement, [(at, letter_id) for letter_id in ids])


def listing(
    store: EventStore,
    since: int | None = None,
    unrelayed_only: bool = False,
    limit: int | None = None,
) -> list[DeadLetter]:
    """Dead letters in the order they were stored: created at or after ``since`` (epoch
    seconds), only those not relayed, at most ``limit``."""
    where, params = ["1 = 1"], []
    if since is not None:
        where.append("created_at >= ?")
        params.append(since)
    if unrelayed_only:
        where.append("relayed_at IS NULL")
    statement = (
        f"SELECT {DEAD_LETTER_COLUMNS} FROM {{p}}sla_dead_letters WHERE {' AND '.join(where)}"
        " ORDER BY created_at, seq, id"
    )
    if limit is not None:
        statement += " LIMIT ?"
        params.append(limit)
    return [DeadLetter.from_row(row) for row in store.query(statement, params)]
