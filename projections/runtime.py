"""Process-wide settings for the processes that ingest or recompute (the command line, its
decoding processes and the recompute's row workers). It sits here, not in ``consumers``,
because the row workers of ``projections`` use it too and dependencies point from consumers
to projections, never back."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Fewer cyclic garbage collections: ingest and replay allocate millions of short-lived,
    acyclic objects, and with CPython's default thresholds the collector's passes over the
    long-lived ones (cached tickets, loaded modules) cost about a quarter of an ingest's time.
    What exists at the call (the modules loaded at start-up) is frozen out of those passes."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def tune_gc_for_serving() -> None:
    """A server answers requests: CPython's default thresholds (many small collections) keep
    each pause short, where :func:`tune_gc`'s rare large ones stalled webhook deliveries for up
    to 100 ms (bench/RESULTS-sources.md). What was frozen at start-up stays frozen."""
    gc.set_threshold(700, 10, 10)
