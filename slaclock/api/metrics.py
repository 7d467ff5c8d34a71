"""Operator metrics in the Prometheus text format.

Request latencies are measured by a middleware, per route template (never per raw path, so
that ticket ids do not become label values) and method (the standard ones; any other method a
client sends is counted as ``other``, so that made-up methods cannot grow the series). Store
gauges are read from the read model when Prometheus scrapes and kept ``cache_seconds`` (5 by
default, ``serve --metrics-cache``), so that frequent or hostile scrapes cost at most one set
of table counts per period; they move at most that long after an ingest or consumer commits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from slaclock.api.limits import METRICS_CACHE_SECONDS
from slaclock.projections.store import TicketStore
from slaclock.projections.store_metrics import StoreFigures, store_figures

log = logging.getLogger("slaclock.api")

disable_created_metrics()  # no *_created series: they double the output and say little

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods labelled as themselves; any other is labelled ``other``."""


def method_label(method: str) -> str:
    """The latency histogram's ``method`` label: one of a fixed few values."""
    return method if method in METHODS else "other"


class StoreCollector(Collector):
    """Gauges read from the store when Prometheus scrapes."""

    def __init__(
        self,
        store: TicketStore,
        policy_version: Callable[[], str | None],
        cache_seconds: float = METRICS_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.policy_version = policy_version  # the version answers are computed under now
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()  # one scrape reads the store, the others wait for it
        self._figures: StoreFigures | None = None
        self._read_at = 0.0

    def collect(self) -> Iterator[Any]:
        info = InfoMetricFamily("slaclock", "slaclock API server")
        info.add_metric([], {"policy_version": self.policy_version() or ""})
        yield info
        up = GaugeMetricFamily("slaclock_store_up", "1 when the store answered this scrape")
        seconds = GaugeMetricFamily(
            "slaclock_store_scrape_seconds", "time spent reading the store gauges"
        )
        started = time.perf_counter()
        try:
            families = list(self._store_families())
        except Exception as exc:  # the scrape must answer even when the store does not
            log.warning("metrics: store unavailable: %s", exc)
            up.add_metric([], 0)
            families = []
        else:
            up.add_metric([], 1)
        seconds.add_metric([], time.perf_counter() - started)
        yield up
        yield seconds
        yield from families

    def figures(self) -> StoreFigures:
        """The store's figures, read again once the last reading is ``cache_seconds`` old."""
        with self._lock:
            now = self.clock()
            if self._figures is None or now - self._read_at >= self.cache_seconds:
                self._figures = None  # a failed reading is not served again
                self._figures = store_figures(self.store, int(datetime.now(UTC).timestamp()))
                self._read_at = now
            return self._figures

    def _store_families(self) -> Iterator[Any]:
        figures = self.figures()
        events = GaugeMetricFamily(
            "slaclock_events_stored", "ticket events accepted into the store (incl. pending)"
        )
        events.add_metric([], figures.events_stored)
        yield events
        yield from _counter_families(figures)
        tickets = GaugeMetricFamily(
            "slaclock_tickets", "tickets in the read model", labels=["state"]
        )
        tickets.add_metric(["created"], figures.tickets_created)
        tickets.add_metric(["pending"], figures.tickets_pending)
        yield tickets
        yield from _clock_families(figures)
        yield from _lag_families(figures)
        yield from _delivery_families(figures)


def _counter_families(figures: StoreFigures) -> Iterator[Any]:
    families = {
        "events": CounterMetricFamily(
            "slaclock_events_consumed", "events read by ingest and consume", labels=["outcome"]
        ),
        "rejected": CounterMetricFamily(
            "slaclock_events_rejected",
            "rejected events by the field their reason names",
            labels=["field"],
        ),
        "alerts": CounterMetricFamily(
            "slaclock_alerts", "alerts raised and withdrawn, by kind", labels=["alert"]
        ),
    }
    for (name, label), n in sorted(figures.counters.items()):
        if name in families:
            families[name].add_metric([label], n)
    yield from families.values()


def _clock_families(figures: StoreFigures) -> Iterator[Any]:
    open_ = GaugeMetricFamily(
        "slaclock_clocks_open", "clocks not stopped (running or paused)", labels=["metric"]
    )
    breached = GaugeMetricFamily(
        "slaclock_clocks_breached",
        "clocks whose deadline has passed before a stop",
        labels=["metric"],
    )
    open_breached = GaugeMetricFamily(
        "slaclock_clocks_open_breached",
        "clocks breached and still running",
        labels=["metric"],
    )
    for clocks in figures.clocks:
        open_.add_metric([clocks.metric], clocks.open)
        breached.add_metric([clocks.metric], clocks.breached)
        open_breached.add_metric([clocks.metric], clocks.open_breached)
    yield open_
    yield breached
    yield open_breached


def _lag_families(figures: StoreFigures) -> Iterator[Any]:
    watermark = GaugeMetricFamily(
        "slaclock_alert_watermark_timestamp_seconds",
        "the instant alerts have been raised up to (lag: time() minus this)",
    )
    watermark.add_metric([], figures.watermark)
    yield watermark
    lag = GaugeMetricFamily(
        "slaclock_consumer_lag_messages",
        "messages on a partition not yet stored, as of the consumer's last stored batch",
        labels=["topic", "partition"],
    )
    seen = GaugeMetricFamily(
        "slaclock_consumer_lag_timestamp_seconds",
        "when the consumer last measured a partition's lag (stale: consumer not storing)",
        labels=["topic", "partition"],
    )
    for partition in figures.partitions:
        _, topic, number = partition.name.rsplit(":", 2)
        lag.add_metric([topic, number], partition.lag)
        seen.add_metric([topic, number], partition.seen_at)
    yield lag
    yield seen


def _delivery_families(figures: StoreFigures) -> Iterator[Any]:
    counts = GaugeMetricFamily(
        "slaclock_alert_deliveries",
        "alert outbox deliveries by status (retried: needed more than one attempt)",
        labels=["status"],
    )
    for status in ("pending", "delivered", "failed", "retried"):
        counts.add_metric([status], figures.deliveries.get(status, 0))
    yield counts
    oldest = GaugeMetricFamily(
        "slaclock_alert_delivery_oldest_pending_seconds",
        "age of the oldest pending delivery (0: none pending)",
    )
    oldest.add_metric([], figures.deliveries.get("oldest_pending_seconds", 0))
    yield oldest


class Metrics:
    """One registry per app (tests start several apps in one process)."""

    def __init__(
        self,
        store: TicketStore,
        policy_version: Callable[[], str | None],
        cache_seconds: float = METRICS_CACHE_SECONDS,
    ) -> None:
        """``policy_version``: the version answers are computed under at the scrape (it
        follows configuration changes, :mod:`slaclock.api.follow`)."""
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = Histogram(
            "slaclock_http_request_duration_seconds",
            "HTTP request latency by route template, method and status code",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_collector = StoreCollector(store, policy_version, cache_seconds)
        self.registry.register(self.store_collector)

    async def middleware(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.latency.labels(template, method_label(request.method), str(status)).observe(
                time.perf_counter() - started
            )
