"""Wiring for one command: the policy a configuration gives and the store opened under it.

Every command that needs a store gets it here, so a configuration change is noticed (and the
read model recomputed) in one place, whichever command runs first after the change.
"""

from __future__ import annotations

import sys
import time
from functools import partial

from slaclock.config import LoadedPolicy, policy_from_text
from slaclock.domain.policy import Policy
from slaclock.projections.policy_versions import adopt_policy
from slaclock.projections.store import TicketStore


def open_store(url: str, loaded: LoadedPolicy) -> TicketStore:
    """Open the store and bring its read model in line with the configuration."""
    store = TicketStore(url, loaded.policy)
    rebuilt = adopt_policy(store, loaded.version, loaded.text, int(time.time()))
    if rebuilt:
        print(
            f"slaclock: the configuration changed (policy version {loaded.version}); "
            f"recomputed the clocks of {rebuilt} tickets from their events",
            file=sys.stderr,
        )
    return store


def policy_factory(loaded: LoadedPolicy, source: str) -> partial[Policy]:
    """A picklable callable giving the policy again: a decoding process builds its own."""
    return partial(policy_from_text, loaded.text, source)
