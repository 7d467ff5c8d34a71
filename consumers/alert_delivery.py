"""Delivering the alert outbox: claim due deliveries under a lease, send, settle each.

At least once: a delivery is settled only after its notifier answered, so a process killed
mid-send leaves it pending under a lease that runs out, and whoever claims it next sends it
again with the same ``Idempotency-Key``. A success is ``delivered``; an answer worth
retrying (408, 429, 5xx, a timeout, a refused connection) is retried after an exponential
backoff with jitter (or the receiver's ``Retry-After``) until ``give_up_after`` from when the
delivery was stored (or last retried by hand); anything else fails at once. Failed
deliveries stay in the store for ``slaclock alerts deliveries --failed`` and ``alerts retry``.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from slaclock.consumers.notifier_config import NotifierConfig
from slaclock.consumers.notifiers import Attempt, Notifier
from slaclock.projections.alert_outbox import (
    DELIVERED,
    FAILED,
    PENDING,
    Delivery,
    Settled,
    any_due,
    claim,
    release,
    settle,
)
from slaclock.projections.event_store import EventStore

DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_SENDERS = 8
FOLLOW_INTERVAL = 0.2
"""Seconds between looks for due deliveries (a read; the claim's write only when due)."""
WOKEN_FOLLOW_INTERVAL = 1.0
"""The same for a delivery thread that its own process wakes when it commits deliveries
(``consume``): the looks then only find retries and other processes' rows."""


@dataclass
class DeliveryStats:
    """What one process's deliverer did: deliveries sent, retries scheduled, failures."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def next_step(
    delivery: Delivery,
    attempt: Attempt,
    config: NotifierConfig,
    now: float,
    jitter: Callable[[], float] = random.random,
) -> Settled:
    """How an attempt settles a delivery (pure: the instant and the jitter are passed in).
    The n-th retry waits ``backoff * 2**(n-1)`` (at most ``max_backoff``) times a jitter in
    [0.5, 1), or what ``Retry-After`` asked; a retry that would fall after the give-up
    instant fails the delivery instead."""
    attempts = delivery.attempts + 1
    if attempt.delivered:
        return Settled(delivery.id, DELIVERED, attempts, now, None, now)
    error = attempt.error or "failed"
    if not attempt.retry:
        return Settled(delivery.id, FAILED, attempts, now, error)
    if attempt.retry_after is not None:
        delay = attempt.retry_after
    else:
        delay = min(config.max_backoff, config.backoff * 2 ** (attempts - 1))
        delay *= 0.5 + jitter() / 2
    give_up = delivery.retry_from + config.give_up_after
    if now + delay > give_up:
        reason = f"gave up after {attempts} attempts ({config.give_up_after:g} s): {error}"
        return Settled(delivery.id, FAILED, attempts, now, reason)
    return Settled(delivery.id, PENDING, attempts, now + delay, error)


class Deliverer:
    """Claims and sends the due deliveries of one store, with these notifiers."""

    def __init__(
        self,
        store: EventStore,
        notifiers: dict[str, Notifier],
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        batch: int = 100,
        senders: int = DEFAULT_SENDERS,
    ) -> None:
        """``senders``: how many deliveries of a batch are sent at once (threads), so that
        a slow receiver's round trips overlap."""
        self.store = store
        self.notifiers = notifiers
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stats = DeliveryStats()
        self._pool = ThreadPoolExecutor(senders, thread_name_prefix="slaclock-send")

    def run_once(self) -> int:
        """Claim one batch of due deliveries and attempt each; how many were claimed."""
        now = time.time()
        if not any_due(self.store, now):
            return 0
        claimed = claim(self.store, self.owner, now, self.lease_seconds, self.batch)
        lease_until = now + self.lease_seconds
        steps = list(self._pool.map(lambda d: self._attempt(d, lease_until), claimed))
        settled = [step for step in steps if step is not None]
        for step in settled:
            self._count(step)
        unsent = [d.id for d, step in zip(claimed, steps, strict=True) if step is None]
        if settled:
            settle(self.store, self.owner, settled)
        if unsent:  # the lease would have run out before their answer: not ours to send
            release(self.store, self.owner, unsent)
        return len(claimed)

    def _attempt(self, delivery: Delivery, lease_until: float) -> Settled | None:
        """Send one delivery and say how it settles (None: not sent, the lease is too short)."""
        notifier = self.notifiers.get(delivery.notifier)
        if notifier is None:
            error = f"no notifier {delivery.notifier!r} in the configuration"
            return Settled(delivery.id, FAILED, delivery.attempts, time.time(), error)
        if time.time() + notifier.config.timeout + 1 >= lease_until:
            return None
        try:
            attempt = notifier.send(delivery)
        except Exception as exc:  # a client library's surprise: retried, never fatal
            attempt = Attempt(False, retry=True, error=f"{type(exc).__name__}: {exc}")
        return next_step(delivery, attempt, notifier.config, time.time())

    def _count(self, step: Settled) -> None:
        if step.status == DELIVERED:
            self.stats.delivered += 1
        elif step.status == FAILED:
            self.stats.failed += 1
        else:
            self.stats.retried += 1

    def drain(self, seconds: float | None = None) -> DeliveryStats:
        """Deliver until nothing is due now (retries due later are left for later), or for
        at most ``seconds``."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while self.run_once():
            if deadline is not None and time.monotonic() > deadline:
                break
        return self.stats

    def follow(
        self,
        stop: threading.Event,
        interval: float = FOLLOW_INTERVAL,
        wake: threading.Event | None = None,
    ) -> None:
        """Deliver until ``stop`` is set, looking for due deliveries every ``interval`` s and
        whenever ``wake`` is set (by a writer of this process that committed deliveries;
        whoever sets ``stop`` sets it too); a lost store is waited out (the deliveries stay
        pending meanwhile). A process that stops this delivers what is due first, for at
        most a few seconds."""
        from slaclock.projections.event_store import store_failures

        waiting = wake or stop
        while not stop.is_set():
            if wake is not None:
                wake.clear()  # before the look: a wake-up during it is not lost
            try:
                busy = self.run_once()
            except store_failures():
                busy = 0
                stop.wait(min(5.0, interval * 4))
            if not busy:
                waiting.wait(interval)

    def close(self) -> None:
        self._pool.shutdown()
        for notifier in self.notifiers.values():
            notifier.close()
