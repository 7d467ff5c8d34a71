"""Policy versions: every configuration the store has run with, since when, and what changed.

Read-model rows are derived from events *and* the configuration, so a store moving to a new
policy version recomputes the tickets the change can move: the caller compares the stored
policy with the new one (``domain.policy_diff``) and this module selects those tickets and
recomputes them in one transaction (``projections.recompute``); a change that cannot be
classified rebuilds every ticket (``projections.rebuild``). The events themselves never
change. Each version's text is kept with the moment it came into use, so that "what did we
know then" can be answered under the policy of then; the last change applied, with the
tickets each part of it touched, is kept in ``sla_meta``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slaclock.domain.policy_diff import EVERYTHING, Change
from slaclock.projections.event_pages import EventPages
from slaclock.projections.meta import POLICY_CHANGE, POLICY_VERSION, read_meta, write_meta
from slaclock.projections.rebuild import ReplayError, lock_writers, rebuild
from slaclock.projections.recompute import recompute, select_tickets
from slaclock.projections.store import TicketStore

Compare = Callable[[str, str], list[Change] | None]
"""(stored version, its text) -> the changes to the new policy, or None: cannot compare."""


@dataclass(frozen=True)
class Touched:
    """One part of a configuration change and the stored tickets it can move."""

    what: str
    tickets: frozenset[str]


@dataclass
class Adoption:
    """What adopting a policy version did to the read model."""

    version: str
    previous: str | None
    changes: list[Touched] = field(default_factory=list)
    recomputed: int = 0  # tickets whose rows were recomputed
    full: bool = False  # every ticket was rebuilt

    @property
    def changed(self) -> bool:
        return self.previous is not None and self.previous != self.version

    def summary(self) -> dict[str, Any]:
        return {
            "policy_version": self.version,
            "previous": self.previous,
            "recomputed": self.recomputed,
            "full": self.full,
            "changes": [{"what": t.what, "tickets": len(t.tickets)} for t in self.changes],
        }


def adopt_policy(
    store: TicketStore, version: str, text: str, now: int, compare: Compare | None = None
) -> Adoption:
    """Make the read model agree with the policy ``version`` (its TOML ``text``, the store's
    policy), in use from ``now``. ``compare`` gives the changes from the stored policy; without
    it, or when it returns None, every ticket is rebuilt."""
    stored = store.policy_version()
    if stored == version:
        return Adoption(version, stored)
    if stored is None:
        with store.write() as cursor:
            _record(cursor, store, version, text, now, Adoption(version, None))
        return Adoption(version, None)
    previous = _text_of(store, stored)
    changes = compare(stored, previous) if compare and previous is not None else None
    if changes is None:
        changes = [
            Change("the configuration could not be compared with the stored one", EVERYTHING)
        ]
    if any(change.scope.everything for change in changes):
        return _rebuild_all(store, version, text, now, stored, changes)
    return _recompute(store, version, text, now, stored, changes)


def _recompute(
    store: TicketStore, version: str, text: str, now: int, stored: str, changes: list[Change]
) -> Adoption:
    """Recompute the tickets ``changes`` can move and switch version, in one transaction."""
    adoption = Adoption(version, stored)
    with store.write() as cursor:
        lock_writers(cursor, store, EventPages(store))
        current = read_meta(cursor, store.dialect, [POLICY_VERSION]).get(POLICY_VERSION)
        if current == version:
            return Adoption(version, version)  # another process adopted it meanwhile
        if current != stored:
            raise ReplayError("the configuration changed meanwhile; run the command again")
        every: set[str] = set()
        for change in changes:
            touched = select_tickets(cursor, store, change.scope)
            adoption.changes.append(Touched(change.what, frozenset(touched)))
            every |= touched
        recompute(cursor, store, every)
        adoption.recomputed = len(every)
        _record(cursor, store, version, text, now, adoption)
    return adoption


def _rebuild_all(
    store: TicketStore, version: str, text: str, now: int, stored: str, changes: list[Change]
) -> Adoption:
    """Rebuild every ticket into new tables, then one switch (readers never see a
    half-recomputed model)."""
    adoption = Adoption(version, stored, full=True)
    with store.read() as cursor:
        for change in changes:
            touched = select_tickets(cursor, store, change.scope)
            adoption.changes.append(Touched(change.what, frozenset(touched)))
    adoption.recomputed = rebuild(store, version=version).rebuilt
    with store.write() as cursor:
        _record(cursor, store, version, text, now, adoption)
    return adoption


def _record(
    cursor: Any, store: TicketStore, version: str, text: str, now: int, adoption: Adoption
) -> None:
    sql = store.dialect.sql
    cursor.execute(sql("SELECT 1 FROM {p}sla_policies WHERE version = ?"), [version])
    if not cursor.fetchall():
        cursor.execute(sql("INSERT INTO {p}sla_policies VALUES (?, ?, ?)"), [version, text, now])
    cursor.execute(sql("INSERT INTO {p}sla_policy_log VALUES (?, ?)"), [now, version])
    summary = json.dumps(adoption.summary(), sort_keys=True)
    write_meta(cursor, store.dialect, [(POLICY_VERSION, version), (POLICY_CHANGE, summary)])


def _text_of(store: TicketStore, version: str) -> str | None:
    rows = store.query("SELECT content FROM {p}sla_policies WHERE version = ?", [version])
    return rows[0]["content"] if rows else None


def last_change(store: TicketStore) -> dict[str, Any] | None:
    """The last configuration change applied (:meth:`Adoption.summary`), if recorded."""
    with store.read() as cursor:
        value = read_meta(cursor, store.dialect, [POLICY_CHANGE]).get(POLICY_CHANGE)
    return json.loads(value) if value else None


def policy_at(store: TicketStore, instant: int) -> tuple[str, str] | None:
    """(version, TOML text) of the policy the store ran with at ``instant``."""
    rows = store.query(
        "SELECT l.version, p.content FROM {p}sla_policy_log l JOIN {p}sla_policies p"
        " ON p.version = l.version WHERE l.used_from <= ? ORDER BY l.used_from DESC LIMIT 1",
        [instant],
    )
    return (rows[0]["version"], rows[0]["content"]) if rows else None
