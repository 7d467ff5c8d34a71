"""Wiring for one command: the policy a configuration gives and the store opened under it.

Every command that needs a store gets it here, so a configuration change is noticed (and the
tickets it can move recomputed) in one place, whichever command runs first after the change.
"""

from __future__ import annotations

import os
import sys
import time
from functools import partial

from slaclock.config import ConfigError, LoadedPolicy, parse_policy, policy_from_text
from slaclock.consumers.faults import hold
from slaclock.domain.policy import Policy
from slaclock.domain.policy_diff import Change, policy_changes
from slaclock.domain.policy_version import legacy_version
from slaclock.progress import Progress
from slaclock.projections.policy_versions import Adoption, Runner, adopt_policy
from slaclock.projections.recompute_lease import DEFAULT_LEASE_SECONDS
from slaclock.projections.store import TicketStore

LEASE_VARIABLE = "SLACLOCK_RECOMPUTE_LEASE"
"""Seconds a recompute's lease runs before it must be renewed (default 60): a crashed
recompute blocks another one this long at most."""


def open_store(url: str, loaded: LoadedPolicy) -> TicketStore:
    """Open the store and bring its read model in line with the configuration."""
    return adopt(url, loaded)[0]


def adopt(url: str, loaded: LoadedPolicy) -> tuple[TicketStore, Adoption]:
    """Open the store, adopt the configuration, say on stderr what a change recomputed."""
    store = TicketStore(url, loaded.policy)
    progress = Progress("recomputing", sys.stderr)
    runner = Runner(
        policy_factory=policy_factory(loaded, "the configuration"),
        lease_seconds=lease_seconds(),
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
    if adoption.changed:
        print(f"slaclock: {describe(adoption)}", file=sys.stderr)
    elif adoption.busy is not None:
        print(
            f"slaclock: another process ({adoption.busy.owner}) is applying policy version"
            f" {adoption.busy.version}; answering from the read model of version"
            f" {adoption.previous}",
            file=sys.stderr,
        )
    return store, adoption


def lease_seconds() -> float:
    """The recompute lease (:data:`LEASE_VARIABLE`), in seconds."""
    value = os.environ.get(LEASE_VARIABLE, "")
    if not value:
        return DEFAULT_LEASE_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise ConfigError(f"{LEASE_VARIABLE}: expected a positive number of seconds, not {value!r}")
    return seconds


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
