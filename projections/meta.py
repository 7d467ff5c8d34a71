"""``sla_meta``: the store's small key-value table, read and written through this module only.

It holds what the store must remember besides events and rows: the policy version the read
model was computed with, the engine's watermark, each Kafka partition's last end offset and
a rebuild's progress. Every key is named here, so one module says what the table holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from slaclock.projections.tables import UPSERT_META, Dialect

POLICY_VERSION = "policy_version"
"""The policy version the read model was computed with."""

POLICY_CHANGE = "policy_change"
"""The last configuration change applied: JSON, each part of it and the tickets it touched."""

WATERMARK = "watermark"
"""The time the engine has reached (epoch s): alerts due before it were raised."""

END_OFFSET = "end_offset:"
"""Key prefix: a Kafka partition's end offset and when the consumer saw it ("END EPOCH"),
followed by the partition's tracking name; written with each batch."""

REPLAY_POSITION = "replay_position"
"""A rebuild in progress: the last aggregate id it has done."""
REPLAY_MARK = "replay_mark"
"""A rebuild in progress: the event-store position up to which its rows are current."""
REPLAY_POLICY = "replay_policy"
"""A rebuild in progress: the policy version it computes rows under."""
REPLAY_KEYS = (REPLAY_POSITION, REPLAY_MARK, REPLAY_POLICY)

RECOMPUTE_LEASE = "recompute_lease"
"""A recompute in progress (``projections.recompute_lease``): JSON, its owner, the policy
version it applies and until when its lease runs."""

ANALYTICS_TERMS = "analytics_terms"
"""The policy version the analytics terms tables were written for (``analytics_terms``)."""
ANALYTICS_INTERFACE = "analytics_interface"
"""A digest of the analytics views' definitions the store has (``projections.analytics``)."""


def end_offset_key(tracking_name: str) -> str:
    return END_OFFSET + tracking_name


def read_meta(cursor: Any, dialect: Dialect, keys: Sequence[str]) -> dict[str, str]:
    """The values of those of ``keys`` that are set."""
    marks = ", ".join("?" * len(keys))
    cursor.execute(
        dialect.sql(f"SELECT key, value FROM {{p}}sla_meta WHERE key IN ({marks})"), list(keys)
    )
    return {row["key"]: row["value"] for row in cursor.fetchall()}


def read_meta_prefix(cursor: Any, dialect: Dialect, prefix: str) -> dict[str, str]:
    """Every entry whose key starts with ``prefix``, by key (in key order)."""
    cursor.execute(
        dialect.sql("SELECT key, value FROM {p}sla_meta WHERE key LIKE ? ORDER BY key"),
        [prefix + "%"],
    )
    return {row["key"]: row["value"] for row in cursor.fetchall()}


def write_meta(cursor: Any, dialect: Dialect, items: Iterable[tuple[str, str]]) -> None:
    cursor.executemany(dialect.sql(UPSERT_META), list(items))


def delete_meta(cursor: Any, dialect: Dialect, keys: Sequence[str]) -> None:
    marks = ", ".join("?" * len(keys))
    cursor.execute(dialect.sql(f"DELETE FROM {{p}}sla_meta WHERE key IN ({marks})"), list(keys))


def touch_meta(cursor: Any, dialect: Dialect, key: str) -> None:
    """Rewrite ``key`` unchanged: on SQLite, takes the write lock at once."""
    cursor.execute(dialect.sql("UPDATE {p}sla_meta SET value = value WHERE key = ?"), [key])
