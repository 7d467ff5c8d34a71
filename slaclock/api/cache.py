"""Month reports computed once and shared, for a few seconds, by every request that asks.

A month report over all customers reads every clock that was met or breached in the month
(tens of thousands of rows for a busy month: about 0.4 s), while dashboards and analysts ask
for the same few reports over and over. So the API keeps each answer for ``ttl`` seconds:

- The key is everything that decides the answer: the report, the month, the customer the
  token may see (a customer token never shares an entry with an admin one), and the
  ``as_of`` / ``known_at`` parameters as given.
- Without ``as_of`` a report is "as of now": a cached answer says in its ``as_of`` field
  which instant it describes, so it is never presented as newer than it is.
- Identical requests arriving while an answer is being computed wait for that one
  computation instead of starting their own.
- An answer older than ``ttl`` is still served while one background refresh replaces it
  (stale-while-revalidate), so no request waits behind a recomputation once a report has
  been asked for; an answer older than ``3 * ttl`` is not served, the request computes anew.

Consequence for users, documented with ``slaclock serve --report-cache``: a report can lag the
store by up to about ``ttl`` seconds plus one computation. ``ttl = 0`` turns the cache off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("slaclock.api")

REPORT_CACHE_SECONDS = 5.0
"""How long a month report is shared by identical requests (``slaclock serve --report-cache``)."""


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    value: Any = None
    computed_at: float | None = None  # monotonic seconds; None until the first answer
    refreshing: bool = False


class ReportCache:
    """Answers by key, at most ``size`` of them (least recently used go first)."""

    def __init__(
        self, ttl: float, size: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._guard = threading.Lock()
        self._refresher = ThreadPoolExecutor(1, thread_name_prefix="slaclock-report-refresh")

    def get(
        self,
        key: Hashable,
        compute: Callable[[], Any],
        guard: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> Any:
        """The answer for ``key``; ``guard()`` is entered around each computation made for
        this request (not around background refreshes, nor for answers it waited for)."""
        if self.ttl <= 0:
            with guard():
                return compute()
        entry = self._entry(key)
        age = None if entry.computed_at is None else self.clock() - entry.computed_at
        if age is not None and age < self.ttl:
            self.hits += 1
            return entry.value
        if age is not None and age < 3 * self.ttl:
            self.hits += 1
            self._refresh_later(entry, compute)
            return entry.value
        with entry.lock:  # one computation; the others wait for it and take its answer
            age = None if entry.computed_at is None else self.clock() - entry.computed_at
            if age is not None and age < self.ttl:
                self.hits += 1
                return entry.value
            self.misses += 1
            with guard():
                value = compute()
            entry.value, entry.computed_at = value, self.clock()
            return value

    def close(self) -> None:
        self._refresher.shutdown(wait=False, cancel_futures=True)

    def _entry(self, key: Hashable) -> _Entry:
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
            return entry

    def _refresh_later(self, entry: _Entry, compute: Callable[[], Any]) -> None:
        with self._guard:
            if entry.refreshing:
                return
            entry.refreshing = True

        def refresh() -> None:
            try:
                with entry.lock:
                    value = compute()
                    entry.value, entry.computed_at = value, self.clock()
            except Exception:  # the stale answer stays; the next request tries again
                log.exception("refreshing a cached report failed")
            finally:
                entry.refreshing = False

        self._refresher.submit(refresh)
