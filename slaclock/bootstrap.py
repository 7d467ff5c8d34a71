"""Wiring for one command: the policy a configuration gives and the store opened under it.

Every command that needs a store gets it here, so a configuration change is noticed (and the
tickets it can move recomputed) in one place, whichever command runs first after the change.
"""

from __future__ import annotations

import sys
import time
from functools import partial

from slaclock.config import ConfigError, LoadedPolicy, parse_policy, policy_from_text
from slaclock.domain.policy import Policy
from slaclock.domain.policy_diff import Change, policy_changes
from slaclock.domain.policy_version import legacy_version
from slaclock.projections.policy_versions import Adoption, adopt_policy
from slaclock.projections.store import TicketStore


def open_store(url: str, loaded: LoadedPolicy) -> TicketStore:
    """Open the store and bring its read model in line with the configuration."""
    return adopt(url, loaded)[0]


def adopt(url: str, loaded: LoadedPolicy) -> tuple[TicketStore, Adoption]:
    """Open the store, adopt the configuration, say on stderr what a change recomputed."""
    store = TicketStore(url, loaded.policy)
    adoption = adopt_policy(
        store, loaded.version, loaded.text, int(time.time()), partial(changes_from, loaded)
    )
    if adoption.changed:
        print(f"slaclock: {describe(adoption)}", file=sys.stderr)
    return store, adoption


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
    return f"configuration changed (policy version {adoption.version}): {'; '.join(parts)}{how}"


def policy_factory(loaded: LoadedPolicy, source: str) -> partial[Policy]:
    """A picklable callable giving the policy again: a decoding process builds its own."""
    return partial(policy_from_text, loaded.text, source)
