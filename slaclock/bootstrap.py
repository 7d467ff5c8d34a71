"""Wiring for one command: the policy a configuration gives and the store opened under it.

Every command that needs a store gets it here, so a configuration change is noticed (and the
tickets it can move recomputed) in one place, whichever command runs first after the change.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from slaclock.config import ConfigError, LoadedPolicy, parse_policy, policy_from_text
from slaclock.consumers.faults import hold
from slaclock.domain.policy import Policy
from slaclock.domain.policy_diff import Change, policy_changes
from slaclock.domain.policy_version import legacy_version
from slaclock.progress import Progress
from slaclock.projections.analytics_terms import refresh_terms
from slaclock.projections.batch import PolicyMoved
from slaclock.projections.policy_versions import (
    BESIDE_FROM,
    Adoption,
    Runner,
    adopt_policy,
    policy_text,
)
from slaclock.projections.recompute_lease import (
    DEFAULT_LEASE_SECONDS,
    Keeper,
    Lease,
    LeaseLost,
    acquire,
    new_owner,
    release,
)
from slaclock.projections.store import TicketStore

LEASE_VARIABLE = "SLACLOCK_RECOMPUTE_LEASE"
"""Seconds a recompute's lease runs before it must be renewed (default 60): a crashed
recompute blocks another one this long at most."""
WORKERS_VARIABLE = "SLACLOCK_RECOMPUTE_WORKERS"
"""Worker processes of a large recompute (default: one per core; 0: in this process)."""
BESIDE_VARIABLE = "SLACLOCK_RECOMPUTE_BESIDE_FROM"
"""Tickets from which a recompute runs beside the live rows (default 2000)."""

log = logging.getLogger("slaclock.policy")


def open_store(url: str, loaded: LoadedPolicy, go_on: bool = False) -> TicketStore:
    """Open the store and bring its read model in line with the configuration."""
    return adopt(url, loaded, go_on)[0]


def adopt(url: str, loaded: LoadedPolicy, go_on: bool = False) -> tuple[TicketStore, Adoption]:
    """Open the store, adopt the configuration, say on stderr what a change recomputed."""
    store = TicketStore(url, loaded.policy)
    try:
        return store, adopt_into(store, loaded, go_on)
    except BaseException:
        store.close()
        raise


def adopt_into(store: TicketStore, loaded: LoadedPolicy, go_on: bool = False) -> Adoption:
    """Adopt the configuration into an open store (its policy is ``loaded``'s); say on
    stderr what a change recomputed, or who else is applying one.

    When another process takes the recompute lease over from this one (it stalled beyond
    the lease), a one-shot command stops with :class:`LeaseTakenOver` (exit code 6);
    ``go_on`` (``consume``, ``serve``) tries again, which then finds the other process's
    recompute running and goes on under the store's version meanwhile."""
    attempt = 1
    while True:
        try:
            return _adopt_once(store, loaded)
        except LeaseLost as exc:
            if not go_on or attempt == 3:
                raise LeaseTakenOver(
                    f"applying policy version {loaded.version}: {exc}; nothing was switched:"
                    " run the command again once `slaclock policy status` shows no recompute"
                ) from None
            print(f"slaclock: {exc}; looking again", file=sys.stderr)
            attempt += 1


def _adopt_once(store: TicketStore, loaded: LoadedPolicy) -> Adoption:
    store.policy = loaded.policy
    progress = Progress("recomputing", sys.stderr)
    workers = _number(WORKERS_VARIABLE, -1, 0)
    runner = Runner(
        policy_factory=policy_factory(loaded, "the configuration"),
        workers=None if workers < 0 else int(workers),
        lease_seconds=lease_seconds(),
        beside_from=int(_number(BESIDE_VARIABLE, BESIDE_FROM, 0)),
        progress=lambda done, total: (progress.update(done, total), hold("recompute-hold")),
    )
    try:
        adoption = adopt_policy(
            store,
            loaded.version,
            loaded.text,
            int(time.time()),
            partial(changes_from, loaded),
            runner,
        )
    finally:
        progress.close()
    store.version = loaded.version  # rows of this version only (not before a pending switch)
    if adoption.busy is None:  # the analytics views read the terms of the version in force
        refresh_terms(store, loaded.policy, loaded.version)
    if adoption.changed:
        print(f"slaclock: {describe(adoption)}", file=sys.stderr)
    elif adoption.busy is not None:
        print(f"slaclock: {busy_line(adoption.busy, adoption.previous)}", file=sys.stderr)
    return adoption


def busy_line(busy: Lease, current: str | None) -> str:
    """Who holds the recompute lease, and what this process answers from meanwhile."""
    if busy.version == current:  # a replay holds it: no change is being applied
        return (
            f"another process ({busy.owner}) is rebuilding or verifying the read model of"
            f" policy version {current}; answering from it"
        )
    return (
        f"another process ({busy.owner}) is applying policy version {busy.version};"
        f" answering from the read model of version {current}"
    )


class RecomputeBusy(Exception):
    """Another process holds the recompute lease beyond the time this command may wait."""


class LeaseTakenOver(RecomputeBusy):
    """Another process took the recompute lease over while this one applied a change."""


def hold_lease(store: TicketStore, loaded: LoadedPolicy, wait: float, doing: str) -> Keeper:
    """Take the recompute lease for a task that must see one policy version throughout
    (``replay``): the read model is then of ``loaded``'s version (applied here if needed)
    and no other process recomputes until it is released. While another process holds it,
    wait up to ``wait`` seconds for it, then raise :class:`RecomputeBusy`."""
    deadline, owner, seconds = time.monotonic() + wait, new_owner(), lease_seconds()
    while True:
        busy = None
        if store.policy_version() != loaded.version:
            busy = adopt_into(store, loaded).busy
        if busy is None:
            busy = acquire(store, owner, loaded.version, seconds)
            if busy is None and store.policy_version() == loaded.version:
                return Keeper(store, owner, loaded.version, seconds)
            if busy is None:  # another process switched version just before: start again
                release(store, owner)
                continue
        if time.monotonic() >= deadline:
            raise RecomputeBusy(
                f"{doing}: another process ({busy.owner}) holds the recompute lease (policy"
                f" version {busy.version}, until {_utc(busy.until)}); run it again once"
                " `slaclock policy status` shows no recompute, or pass --wait SECONDS"
            )
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def lease_seconds() -> float:
    """The recompute lease's length (``SLACLOCK_RECOMPUTE_LEASE``)."""
    return _number(LEASE_VARIABLE, DEFAULT_LEASE_SECONDS, 0.001)


def _number(variable: str, default: float, minimum: float) -> float:
    """A number from the environment (``default`` when unset), at least ``minimum``."""
    value = os.environ.get(variable, "")
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise ConfigError(f"{variable}: expected a number of at least {minimum:g}, not {value!r}")
    return number


def changes_from(
    loaded: LoadedPolicy, stored_version: str, stored_text: str
) -> list[Change] | None:
    """The changes from the stored policy (its version and text) to ``loaded``; None if the
    stored text no longer parses. A stored version that is neither the stored text's version
    under the installed ``holidays`` package nor an earlier release's text hash means the
    package changed version."""
    try:
        old = parse_policy(stored_text, "the stored configuration", loaded.holidays_version)
    except ConfigError:
        return None
    moved = stored_version not in (old.version, legacy_version(stored_text))
    return policy_changes(old.policy, loaded.policy, holidays_moved=moved)


def describe(adoption: Adoption) -> str:
    """One line: the new version, each change and the tickets it touched."""
    parts = [
        f"{t.what} -> {'recomputed ' if t.tickets else ''}{len(t.tickets)} tickets"
        for t in adoption.changes
    ] or ["no change that moves a clock -> 0 tickets"]
    how = f"; {adoption.recomputed} tickets recomputed" + (" (all)" if adoption.full else "")
    if adoption.caught_up:
        how += f", {adoption.caught_up} again (events stored meanwhile)"
    return f"configuration changed (policy version {adoption.version}): {'; '.join(parts)}{how}"


def policy_factory(loaded: LoadedPolicy, source: str) -> partial[Policy]:
    """A picklable callable giving the policy again: a decoding process builds its own."""
    return partial(policy_from_text, loaded.text, source)


def follow_store_policy(
    store: TicketStore, moved: PolicyMoved
) -> tuple[Policy, Callable[[], Policy]]:
    """A long-running writer's batch was refused: the read model moved to another policy
    version (another process applied a configuration change, or finished applying this
    one). Go on under the store's version, read from the store, so that rows of two
    versions never mix: the store's policy is set, and returned with a picklable factory."""
    text = policy_text(store, moved.stored) if moved.stored is not None else None
    if text is None or moved.stored is None:
        raise ConfigError(f"the store's policy version {moved.stored} is not recorded in it")
    name = f"the store's policy version {moved.stored}"
    policy = policy_from_text(text, name)
    store.policy, store.version = policy, moved.stored
    log.warning(
        "the store moved to policy version %s (this process had %s): going on under it",
        moved.stored,
        moved.expected,
    )
    return policy, partial(policy_from_text, text, name)
