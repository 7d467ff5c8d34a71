"""Bearer tokens for the HTTP API, kept in the store next to the read model.

A token is shown once, when it is created; the store keeps only its SHA-256 hash, with its
public id (for listing and revoking), its scope and when it was created and revoked. A scope
is one customer, admin (every customer), or one source's webhooks (``POST /hooks/SOURCE``
only: what a relay in front of a helpdesk holds, never a reader of any customer). The table is
created on first use, in the store's own schema (its ``source`` column: store schema 4).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slaclock.projections.event_store import EventStore

TABLE = """CREATE TABLE IF NOT EXISTS {p}sla_api_tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    customer_id TEXT,
    admin INTEGER NOT NULL,
    label TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    source TEXT)"""

PREFIX = "slk"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: one customer, an admin who sees every customer, or a relay
    that may only deliver one source's webhooks (``source``) and sees no customer."""

    token_id: str
    customer_id: str | None
    admin: bool
    source: str | None = None

    def sees(self, customer_id: str | None) -> bool:
        return self.admin or (customer_id is not None and customer_id == self.customer_id)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_id: str
    customer_id: str | None
    admin: bool
    label: str | None
    created_at: str
    revoked_at: str | None
    source: str | None = None

    @property
    def scope(self) -> str:
        if self.admin:
            return "admin"
        if self.source is not None:
            return f"source {self.source}"
        return f"customer {self.customer_id}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "customer_id": self.customer_id,
            "admin": self.admin,
            "source": self.source,
            "label": self.label,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


class TokenStore:
    """Create, verify, list and revoke API tokens in a store."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.ensure_table()

    def ensure_table(self) -> None:
        with self.store.write() as cursor:
            cursor.execute(self.store.dialect.sql(TABLE))

    def _execute(self, statement: str, params: list[Any]) -> None:
        with self.store.write() as cursor:
            cursor.execute(self.store.dialect.sql(statement), params)

    def create(
        self,
        *,
        customer: str | None = None,
        admin: bool = False,
        label: str | None = None,
        source: str | None = None,
    ) -> tuple[str, TokenRecord]:
        """A new token (returned once, never stored) and its record."""
        if [admin, customer is not None, source is not None].count(True) != 1:
            raise ValueError("a token is for one customer, admin, or one source's webhooks")
        token_id = secrets.token_hex(5)
        token = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        self._execute(
            "INSERT INTO {p}sla_api_tokens"
            " (token_id, token_hash, customer_id, admin, label, created_at, revoked_at, source)"
            " VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            [token_id, token_hash(token), customer, int(admin), label, now, source],
        )
        return token, TokenRecord(token_id, customer, admin, label, now, None, source)

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token (None: unknown or revoked)."""
        if not token or len(token) > 256:
            return None
        rows = self.store.query(
            "SELECT token_id, customer_id, admin, source FROM {p}sla_api_tokens"
            " WHERE token_hash = ? AND revoked_at IS NULL",
            [token_hash(token)],
        )
        if not rows:
            return None
        row = rows[0]
        return Principal(row["token_id"], row["customer_id"], bool(row["admin"]), row["source"])

    def revoke(self, token_or_id: str) -> list[str]:
        """Revoke by public id or by the token itself: the ids revoked (none when no active
        token matched)."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        sql = self.store.dialect.sql
        with self.store.write() as cursor:
            cursor.execute(
                sql(
                    "SELECT token_id FROM {p}sla_api_tokens"
                    " WHERE (token_id = ? OR token_hash = ?) AND revoked_at IS NULL"
                ),
                [token_or_id, token_hash(token_or_id)],
            )
            ids = [row["token_id"] for row in cursor.fetchall()]
            for token_id in ids:
                cursor.execute(
                    sql("UPDATE {p}sla_api_tokens SET revoked_at = ? WHERE token_id = ?"),
                    [now, token_id],
                )
        return ids

    def list(self) -> list[TokenRecord]:
        rows = self.store.query(
            "SELECT token_id, customer_id, admin, label, created_at, revoked_at, source"
            " FROM {p}sla_api_tokens ORDER BY created_at, token_id"
        )
        return [
            TokenRecord(
                r["token_id"],
                r["customer_id"],
                bool(r["admin"]),
                r["label"],
                r["created_at"],
                r["revoked_at"],
                r["source"],
            )
            for r in rows
        ]
