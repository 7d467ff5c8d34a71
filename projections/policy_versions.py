"""Policy versions: every configuration the store has run with, and since when.

Read-model rows are derived from events *and* the configuration, so a store moving to a new
policy version recomputes every ticket from its events (``projections.rebuild``); the events
themselves never change. Each version's text is kept with the moment it came into use, so that
"what did we know then" can be answered under the policy of then.
"""

from __future__ import annotations

from slaclock.projections.meta import POLICY_VERSION, write_meta
from slaclock.projections.rebuild import rebuild
from slaclock.projections.store import TicketStore


def adopt_policy(store: TicketStore, version: str, text: str, now: int) -> int:
    """Make the read model agree with the policy ``version`` (its TOML ``text``), in use from
    ``now``. Returns the number of tickets rebuilt (none for a new store)."""
    stored = store.policy_version()
    if stored == version:
        return 0
    rebuilt = 0
    if stored is not None:
        # New tables, then one switch: readers never see a half-recomputed model.
        rebuilt = rebuild(store, version=version).rebuilt
    sql = store.dialect.sql
    with store.write() as cursor:
        cursor.execute(sql("SELECT 1 FROM {p}sla_policies WHERE version = ?"), [version])
        if not cursor.fetchall():
            cursor.execute(
                sql("INSERT INTO {p}sla_policies VALUES (?, ?, ?)"), [version, text, now]
            )
        cursor.execute(sql("INSERT INTO {p}sla_policy_log VALUES (?, ?)"), [now, version])
        write_meta(cursor, store.dialect, [(POLICY_VERSION, version)])
    return rebuilt


def policy_at(store: TicketStore, instant: int) -> tuple[str, str] | None:
    """(version, TOML text) of the policy the store ran with at ``instant``."""
    rows = store.query(
        "SELECT l.version, p.content FROM {p}sla_policy_log l JOIN {p}sla_policies p"
        " ON p.version = l.version WHERE l.used_from <= ? ORDER BY l.used_from DESC LIMIT 1",
        [instant],
    )
    return (rows[0]["version"], rows[0]["content"]) if rows else None
