"""A bound on the work one client can cause: uncached report computations per token.

A month report's answer is shared by identical requests (``slaclock.api.cache``), but each new
``as_of`` is a new key, so a client asking for ever-new instants makes the server compute a
report for every request. :class:`ComputeLimiter` lets each token run at most ``per_token``
such computations at once (``serve --report-concurrency``); one more is refused at once with
429 and ``Retry-After`` rather than queued. Answers served from the cache, and requests that
wait for an identical computation already running, do not count.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from slaclock.api.params import ApiError
from slaclock.consumers.faults import hold

REPORT_CONCURRENCY = 2
"""Uncached report computations one token may run at once (``serve --report-concurrency``)."""
METRICS_CACHE_SECONDS = 5.0
"""How long the store gauges of one scrape serve the next ones (``serve --metrics-cache``);
here, not in ``api.metrics``, so that the command line's defaults do not import
``prometheus_client`` and Starlette (0.15 s at every start-up)."""
RETRY_AFTER_SECONDS = 1
"""What a 429 tells the client to wait (a report takes well under a second to compute)."""


class ComputeLimiter:
    """Counts the computations each token runs; ``per_token`` 0 means no limit."""

    def __init__(self, per_token: int = REPORT_CONCURRENCY) -> None:
        self.per_token = per_token
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, token_id: str) -> Iterator[None]:
        """Run one computation for ``token_id``, or raise 429 if it runs its limit already."""
        if self.per_token <= 0:
            yield
            return
        with self._lock:
            if self._running[token_id] >= self.per_token:
                raise ApiError(
                    429,
                    f"reports: this token already runs {self.per_token} report computation(s);"
                    f" try again in {RETRY_AFTER_SECONDS} s",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            self._running[token_id] += 1
        try:
            hold("report-hold")  # tests: keep a computation running while others arrive
            yield
        finally:
            with self._lock:
                self._running[token_id] -= 1
                if not self._running[token_id]:
                    del self._running[token_id]
