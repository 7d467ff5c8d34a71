"""``serve`` follows configuration changes: the policy its answers are computed under.

Another process may apply a configuration change while ``serve`` runs (the store adopts a new
policy version), or the configuration file itself may change. At most every few seconds
(:data:`FOLLOW_SECONDS`), on a request, :class:`PolicyFollower` checks both:

- the store's read model is of another version than the one answered under: that version's
  text is read from the store (``sla_policies``) and answers follow it. While a recompute
  runs the read model is still of the old version, so answers stay old until its switch,
  then move on, never back;
- the file changed (size or modification time) and parses to a version the store neither
  has nor is applying: it is applied (``slaclock.bootstrap.adopt_into``: the tickets it can
  move recomputed, in a thread, on connections of its own); answers follow once the store
  switched. A file that no longer parses is logged and ignored.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from slaclock.config import ConfigError, LoadedPolicy, policy_from_text, read_policy
from slaclock.domain.policy import Policy
from slaclock.projections.policy_versions import policy_text, read_model_state
from slaclock.projections.store import TicketStore

FOLLOW_SECONDS = 2.0
"""How often, at most, a request checks the store's policy version and the file."""

log = logging.getLogger("slaclock.policy")

Adopt = Callable[[LoadedPolicy], None]
"""Applies a configuration to the store (a recompute; runs in a thread of its own)."""


class PolicyFollower:
    """The (policy, version) answers are computed under, kept in step with the store."""

    def __init__(
        self,
        store: TicketStore,
        policy: Policy,
        version: str | None,
        config_path: str | None = None,
        adopt: Adopt | None = None,
        every: float = FOLLOW_SECONDS,
    ) -> None:
        self.store, self.path, self.adopt, self.every = store, config_path, adopt, every
        self.policy, self.version = policy, version
        self._file = _stamp(config_path)
        self._file_version = version
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self._adopting: threading.Thread | None = None

    def start(self) -> PolicyFollower:
        """Begin under the store's version when it is not the configuration's (another
        process was still applying a change when ``serve`` started): old until the switch."""
        current = self.store.policy_version()
        if current is not None and current != self.version:
            self._follow(current)
        return self

    def current(self) -> tuple[Policy, str | None]:
        """The policy and its version, checked again if the last check is old enough."""
        if time.monotonic() - self._checked >= self.every and self._lock.acquire(False):
            try:
                self._checked = time.monotonic()
                self.check()
            finally:
                self._lock.release()
        return self.policy, self.version

    def check(self) -> None:
        """Follow the store's version; apply a changed configuration file."""
        current, pending = read_model_state(self.store)
        if current is not None and current != self.version:
            self._follow(current)
        stamp = _stamp(self.path)
        if stamp == self._file or self.path is None:
            return
        self._file = stamp
        try:
            loaded = read_policy(self.path)
        except ConfigError as exc:
            log.warning(
                "the configuration changed but cannot be used (%s); answering as before", exc
            )
            return
        if loaded.version in (self._file_version, current, pending):
            self._file_version = loaded.version
            return
        self._file_version = loaded.version
        self._apply(loaded)

    def _follow(self, version: str) -> None:
        text = policy_text(self.store, version)
        if text is None:
            return
        try:
            policy = policy_from_text(text, f"the store's policy version {version}")
        except ConfigError as exc:  # a version this release cannot read: keep answering
            log.warning("cannot follow the store's policy version %s: %s", version, exc)
            return
        log.warning("the store moved to policy version %s (was %s): answering under it",
                    version, self.version)  # fmt: skip
        self.policy, self.version = policy, version

    def _apply(self, loaded: LoadedPolicy) -> None:
        if self.adopt is None or (self._adopting is not None and self._adopting.is_alive()):
            return
        log.warning("the configuration file changed (policy version %s): applying it",
                    loaded.version)  # fmt: skip
        self._adopting = threading.Thread(
            target=self._adopt_logged, args=(loaded,), name="slaclock-adopt", daemon=True
        )
        self._adopting.start()

    def _adopt_logged(self, loaded: LoadedPolicy) -> None:
        try:
            assert self.adopt is not None
            self.adopt(loaded)
        except Exception as exc:  # the next change of the file tries again
            log.error("applying policy version %s failed: %s", loaded.version, exc)

    def wait_adopted(self, timeout: float) -> None:
        """For tests and shutdown: wait for an adoption in progress."""
        if self._adopting is not None:
            self._adopting.join(timeout)


def _stamp(path: str | None) -> tuple[int, int] | None:
    """The file's size and modification time (None: no file, or none given)."""
    if path is None:
        return None
    try:
        status = os.stat(Path(path))
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns
