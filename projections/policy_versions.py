"""Policy versions: every configuration the store has run with, since when, and what changed.

Read-model rows are derived from events *and* the configuration, so a store moving to a new
policy version recomputes the tickets the change can move: the caller compares the stored
policy with the new one (``domain.policy_diff``) and this module selects those tickets and
recomputes them (``projections.recompute``: a few in one transaction, many in worker
processes beside the live rows, then one switch); a change that cannot be classified
recomputes every ticket. One process recomputes at a time (``projections.recompute_lease``);
the others answer from the read model they find. The events themselves never change. Each
version's text is kept with the moment it came into use, so that "what did we know then"
can be answered under the policy of then; the last change applied, with the tickets each
part of it touched, is kept in ``sla_meta``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slaclock.domain.policy_diff import EVERYTHING, Change
from slaclock.projections.event_pages import EventPages, snapshot
from slaclock.projections.meta import POLICY_CHANGE, POLICY_VERSION, read_meta, write_meta
from slaclock.projections.rebuild import ReplayError, lock_writers
from slaclock.projections.recompute import Shadow, recompute, recompute_beside, select_tickets
from slaclock.projections.recompute_lease import (
    DEFAULT_LEASE_SECONDS,
    Lease,
    acquire,
    new_owner,
    pending_version,
    read_lease,
    release,
)
from slaclock.projections.row_workers import SHARD, PolicyFactory, worker_count
from slaclock.projections.store import TicketStore

BESIDE_FROM = 2000
"""Tickets from which a recompute runs beside the live rows (shadow tables, workers, one
switch) rather than in one transaction that holds the writers' lock."""

Compare = Callable[[str, str], list[Change] | None]
"""(stored version, its text) -> the changes to the new policy, or None: cannot compare."""


@dataclass(frozen=True)
class Touched:
    """One part of a configuration change and the stored tickets it can move."""

    what: str
    tickets: frozenset[str]


@dataclass
class Runner:
    """How a large recompute runs: its worker processes (``policy_factory`` builds the policy
    in each; None: in-process), the lease it holds, and a progress callback (done, total)."""

    policy_factory: PolicyFactory | None = None
    workers: int | None = None  # default: one per core
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    progress: Callable[[int, int], Any] | None = None
    beside_from: int = BESIDE_FROM  # fewer tickets are recomputed in one transaction
    shard: int = SHARD  # tickets a worker computes at a time


@dataclass
class Adoption:
    """What adopting a policy version did to the read model."""

    version: str
    previous: str | None
    changes: list[Touched] = field(default_factory=list)
    recomputed: int = 0  # tickets whose rows were recomputed
    full: bool = False  # every ticket was recomputed
    caught_up: int = 0  # tickets recomputed again: a consumer stored events meanwhile
    workers: int = 0  # worker processes that computed the rows (0: this process)
    busy: Lease | None = None  # another process is recomputing: nothing was done here

    def tickets(self) -> set[str]:
        """Every ticket one of the changes can move."""
        return set().union(*(touched.tickets for touched in self.changes))

    @property
    def changed(self) -> bool:
        return self.busy is None and self.previous is not None and self.previous != self.version

    def summary(self) -> dict[str, Any]:
        return {
            "policy_version": self.version,
            "previous": self.previous,
            "recomputed": self.recomputed,
            "full": self.full,
            "caught_up": self.caught_up,
            "workers": self.workers,
            "changes": [{"what": t.what, "tickets": len(t.tickets)} for t in self.changes],
        }


def adopt_policy(
    store: TicketStore,
    version: str,
    text: str,
    now: int,
    compare: Compare | None = None,
    runner: Runner | None = None,
) -> Adoption:
    """Make the read model agree with the policy ``version`` (its TOML ``text``, the store's
    policy), in use from ``now``. ``compare`` gives the changes from the stored policy; without
    it, or when it returns None, every ticket is recomputed. ``runner`` says how a large
    recompute runs (workers, lease, progress); while another process holds the recompute
    lease, nothing is recomputed and the returned adoption's ``busy`` names that lease."""
    stored = store.policy_version()
    if stored == version:
        return Adoption(version, stored)
    if stored is None:
        with store.write() as cursor:
            _record(cursor, store, version, text, now, Adoption(version, None))
        return Adoption(version, None)
    previous = policy_text(store, stored)
    changes = compare(stored, previous) if compare and previous is not None else None
    if changes is None:
        changes = [
            Change("the configuration could not be compared with the stored one", EVERYTHING)
        ]
    runner = runner or Runner()
    with store.read() as cursor:
        busy = read_lease(cursor, store.dialect)
    if busy is not None and busy.live(time.time()):
        return Adoption(version, stored, busy=busy)
    adoption = Adoption(version, stored, full=any(c.scope.everything for c in changes))
    events = EventPages(store)
    with snapshot(store) as cursor:
        mark = events.last_position(cursor)  # what the selection below sees
        adoption.changes = _touched(cursor, store, changes)
    every = adoption.tickets()
    if len(every) < runner.beside_from:
        return _recompute(store, text, now, adoption, changes, mark)
    return _recompute_beside(store, text, now, adoption, every, mark, runner)


def _recompute(
    store: TicketStore,
    text: str,
    now: int,
    adoption: Adoption,
    changes: list[Change],
    mark: int,
) -> Adoption:
    """Recompute a few tickets and switch version, in one transaction that holds the writers'
    lock; the tickets are selected again there if events were stored since the selection
    (at event-store position ``mark``)."""
    events = EventPages(store)
    with store.write() as cursor:
        lock_writers(cursor, store, events)
        current = read_meta(cursor, store.dialect, [POLICY_VERSION]).get(POLICY_VERSION)
        if current == adoption.version:
            return Adoption(adoption.version, adoption.version)  # adopted meanwhile
        if current != adoption.previous:
            raise ReplayError("the configuration changed meanwhile; run the command again")
        held = read_lease(cursor, store.dialect)
        if held is not None and held.live(time.time()):
            return Adoption(adoption.version, adoption.previous, busy=held)
        if events.last_position(cursor) != mark:  # a consumer stored events meanwhile
            adoption.changes = _touched(cursor, store, changes)
        every = adoption.tickets()
        recompute(cursor, store, every)
        adoption.recomputed = len(every)
        _record(cursor, store, adoption.version, text, now, adoption)
    return adoption


def _recompute_beside(
    store: TicketStore,
    text: str,
    now: int,
    adoption: Adoption,
    every: set[str],
    mark: int,
    runner: Runner,
) -> Adoption:
    """Many tickets: take the lease, recompute them beside the live rows, switch at once."""
    owner = new_owner()
    busy = acquire(store, owner, adoption.version, runner.lease_seconds)
    if busy is not None:
        return Adoption(adoption.version, adoption.previous, busy=busy)
    if store.policy_version() == adoption.version:  # another process finished it meanwhile
        release(store, owner)
        return Adoption(adoption.version, adoption.version)
    workers = adoption.workers = worker_count(len(every), runner.workers, runner.shard)
    shadow = Shadow(
        owner, adoption.version, runner.lease_seconds, runner.policy_factory, workers,
        runner.progress, runner.shard,
    )  # fmt: skip

    def switch(cursor: Any, caught_up: int) -> None:
        adoption.caught_up = caught_up
        current = read_meta(cursor, store.dialect, [POLICY_VERSION]).get(POLICY_VERSION)
        if current != adoption.previous:
            raise ReplayError("the configuration changed meanwhile; run the command again")
        _record(cursor, store, adoption.version, text, now, adoption)

    try:
        adoption.recomputed = len(every)
        recompute_beside(store, every, mark, shadow, switch)
    finally:
        release(store, owner)
    return adoption


def _touched(cursor: Any, store: TicketStore, changes: list[Change]) -> list[Touched]:
    """Each change with the stored tickets it can move."""
    return [
        Touched(change.what, frozenset(select_tickets(cursor, store, change.scope)))
        for change in changes
    ]


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


def policy_text(store: TicketStore, version: str) -> str | None:
    """The TOML text of a policy version the store has used."""
    rows = store.query("SELECT content FROM {p}sla_policies WHERE version = ?", [version])
    return rows[0]["content"] if rows else None


def read_model_state(store: TicketStore) -> tuple[str | None, str | None]:
    """(the policy version the read model reflects, the version a recompute in progress is
    applying or None), read together."""
    with store.read() as cursor:
        current = read_meta(cursor, store.dialect, [POLICY_VERSION]).get(POLICY_VERSION)
        return current, pending_version(cursor, store.dialect, current)


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
