"""The webhook receiver's moving parts: who may deliver, one writer, and the counters.

``POST /hooks/SOURCE`` (``slaclock.api.routes_hooks``) checks the caller, then hands the body
to :class:`IntakeWriter`: ONE thread takes every delivery into the store (or onto the event
topic), so that two deliveries for one ticket are never compared with the same kept snapshot
at once, and deliveries that arrive together share one transaction (group commit). A request
is answered only when its delivery is durable. :class:`HookCounters` feeds ``/metrics``.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from slaclock.consumers.webhook_signatures import SCHEMES

log = logging.getLogger("slaclock.api.hooks")

MAX_GROUP = 200
"""Deliveries taken in one transaction at most."""


class HookConfigError(ValueError):
    """A source cannot receive webhooks as configured (names the key; never a secret)."""


@dataclass(frozen=True)
class HookSource:
    """A configured source as the receiver sees it: its kind and, if it signs, the secret."""

    name: str
    kind: str
    secret: str | None = field(repr=False)


def hook_sources(
    sources: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> dict[str, HookSource]:
    """The sources with their secrets read from the environment, checked at start-up:
    :class:`HookConfigError` when a ``secret_env`` variable is not set or the kind does not
    sign its webhooks."""
    found = {}
    for name, config in sources.items():
        secret = None
        if config.secret_env:
            if config.kind not in SCHEMES:
                raise HookConfigError(
                    f"sources.{name}.secret_env: kind {config.kind} has no webhook signature"
                    " scheme; deliver with an admin token instead (or read it from Kafka)"
                )
            secret = environ.get(config.secret_env) or None
            if secret is None:
                raise HookConfigError(
                    f"sources.{name}.secret_env: environment variable {config.secret_env}"
                    " is not set (or empty)"
                )
        found[name] = HookSource(name, config.kind, secret)
    return found


@dataclass(frozen=True)
class Taken:
    """What became of one delivery: ``reason`` set when it was rejected (HTTP 422)."""

    reason: str | None
    emitted: int = 0
    accepted: int = 0
    duplicates: int = 0


Take = Callable[[str, Sequence[Any]], list[Taken]]
"""(source name, payloads in arrival order) -> one :class:`Taken` per payload, durable."""


class IntakeWriter:
    """The one thread that makes deliveries durable, in arrival order, grouped by source."""

    def __init__(self, take: Take, *, max_group: int = MAX_GROUP) -> None:
        self._take = take
        self._max_group = max_group
        self._queue: queue.Queue[tuple[str, Any, Future[Taken]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="slaclock-hooks", daemon=True)
        self._thread.start()

    def submit(self, source: str, payload: Any) -> Future[Taken]:
        future: Future[Taken] = Future()
        self._queue.put((source, payload, future))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                group.append(item)
            for source, items in _by_source(group):
                self._take_group(source, items)

    def _take_group(self, source: str, items: list[tuple[Any, Future[Taken]]]) -> None:
        try:
            results = self._take(source, [payload for payload, _ in items])
        except BaseException as exc:  # the store or the broker failed: every caller learns it
            for _, future in items:
                future.set_exception(exc)
            return
        for (_, future), result in zip(items, results, strict=True):
            future.set_result(result)


def _by_source(
    group: list[tuple[str, Any, Future[Taken]]],
) -> Iterator[tuple[str, list[tuple[Any, Future[Taken]]]]]:
    """Consecutive runs of one source (keeps each source's arrival order)."""
    run: list[tuple[Any, Future[Taken]]] = []
    current = None
    for source, payload, future in group:
        if source != current and run:
            yield current, run  # type: ignore[misc]
            run = []
        current = source
        run.append((payload, future))
    if run:
        yield current, run  # type: ignore[misc]


DELIVERY_OUTCOMES = ("received", "accepted", "rejected", "unauthorised", "too_large", "failed")
EVENT_OUTCOMES = ("emitted", "accepted", "duplicate")


class HookCounters(Collector):
    """Per-source counters of deliveries and of the events they became, for ``/metrics``."""

    def __init__(self, sources: Sequence[str]) -> None:
        self._lock = threading.Lock()
        self._deliveries = {(s, o): 0 for s in sources for o in DELIVERY_OUTCOMES}
        self._events = {(s, o): 0 for s in sources for o in EVENT_OUTCOMES}

    def delivery(self, source: str, outcome: str) -> None:
        with self._lock:
            self._deliveries[source, outcome] += 1

    def taken(self, source: str, result: Taken) -> None:
        with self._lock:
            self._deliveries[source, "rejected" if result.reason else "accepted"] += 1
            self._events[source, "emitted"] += result.emitted
            self._events[source, "accepted"] += result.accepted
            self._events[source, "duplicate"] += result.duplicates

    def deliveries(self, source: str, outcome: str) -> int:
        with self._lock:
            return self._deliveries[source, outcome]

    def events(self, source: str, outcome: str) -> int:
        with self._lock:
            return self._events[source, outcome]

    def collect(self) -> Iterator[Any]:
        deliveries = CounterMetricFamily(
            "slaclock_webhook_deliveries",
            "webhook deliveries by source and outcome (received = every POST to a known"
            " source; unauthorised, too_large, rejected = unmappable, accepted = durable)",
            labels=["source", "outcome"],
        )
        events = CounterMetricFamily(
            "slaclock_webhook_events",
            "events webhook deliveries became: emitted by translation, accepted as new,"
            " duplicate (already stored: a redelivery)",
            labels=["source", "outcome"],
        )
        with self._lock:
            for (source, outcome), n in sorted(self._deliveries.items()):
                deliveries.add_metric([source, outcome], n)
            for (source, outcome), n in sorted(self._events.items()):
                events.add_metric([source, outcome], n)
        yield deliveries
        yield events
