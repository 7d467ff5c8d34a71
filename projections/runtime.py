"""Process-wide settings for the processes that ingest or recompute (the command line, its
decoding processes and the recompute's row workers). It sits here, not in ``consumers``,
because the row workers of ``projections`` use it too and dependencies point from consumers
to projections, never back."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Fewer cyclic garbage collections: ingest and replay allocate millions of short-lived,
    acyclic objects (freed by reference counting, whatever the thresholds), and every pass of
    the collector walks the long-lived ones (cached tickets and their facts, loaded modules).
    With CPython's default thresholds those passes cost about a quarter of an ingest's time;
    with a first threshold of 50,000 objects still about a sixth of a 1M-event ingest of the
    varied stream (its cache is larger); at 2,000,000 a pass is rare (bench/RESULTS.md: the
    same ingest 57.1 s -> 46.6 s, peak memory unchanged at about 470 MB). What exists at the
    call (the modules loaded at start-up) is frozen out of those passes."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(2_000_000, 20, 100)


def tune_gc_for_serving() -> None:
    """A server answers requests: CPython's default thresholds (many small collections) keep
    each pause short, where :func:`tune_gc`'s rare large ones stalled webhook deliveries for up
    to 100 ms (bench/RESULTS-sources.md). What was frozen at start-up stays frozen."""
    gc.set_threshold(700, 10, 10)
