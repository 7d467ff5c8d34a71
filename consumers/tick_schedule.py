"""When ``consume --clock wall`` raises the alerts that time alone made due (its *tick*).

A tick fires when the store's next alert falls due (``domain.alerts.falls_due_at`` of its
``next_alert_at``: the first instant whose watermark raises it), and at the latest every
``--tick-every`` seconds while the consumer has nothing to read (which also notices alerts
other writers of the store scheduled, and keeps the stored watermark fresh). A poll waits no
longer than until the next alert falls due, so the tick is not late by a poll's timeout.
Plain state and arithmetic: the instants are passed in (wall-clock epoch seconds, and
monotonic seconds for the period).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slaclock.domain.alerts import falls_due_at


@dataclass
class TickSchedule:
    """``every``: the longest wait between ticks (seconds, more than 0); ``last``: the
    monotonic instant of the last tick; ``next_due``: when the next known alert falls due
    (wall clock; None: none known); ``stale``: the store changed since ``next_due`` was read
    (a batch was stored), read it again before trusting it."""

    every: float
    last: float
    next_due: float | None = None
    stale: bool = True

    def learn(self, next_alert_at: int | None) -> None:
        """The store's next alert instant (``TicketStore.next_alert_at``), just read."""
        self.next_due = None if next_alert_at is None else float(falls_due_at(next_alert_at))
        self.stale = False

    def forget(self) -> None:
        """The next instant could not be read: tick by the period until it is."""
        self.next_due = None
        self.stale = True

    def due(self, monotonic: float, wall: float, backlog: bool = False) -> bool:
        """Whether to tick now: the period is over, the next alert fell due, or the last
        tick left due tickets for the next one (``backlog``)."""
        if backlog or monotonic - self.last >= self.every:
            return True
        return self.next_due is not None and wall >= self.next_due

    def ticked(self, monotonic: float) -> None:
        """A tick ran (or failed: it is then retried after the period, not at once)."""
        self.last = monotonic
        self.next_due = None
        self.stale = True

    def poll_timeout_ms(self, wall: float, longest_ms: int) -> int:
        """How long a poll may wait for records (at most ``longest_ms``): not past the
        instant the next alert falls due."""
        if self.next_due is None:
            return longest_ms
        return max(0, min(longest_ms, math.ceil((self.next_due - wall) * 1000)))
