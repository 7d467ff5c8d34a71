"""Recompute workers are forked only from a process running one thread (forking copies
the locks other threads hold), else spawned."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from slaclock.projections.row_workers import start_method


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
def test_workers_are_forked_from_a_single_threaded_process() -> None:
    assert threading.active_count() == 1
    assert start_method() == "fork"


def test_workers_are_spawned_while_another_thread_runs() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert start_method() == "spawn"
    finally:
        release.set()
        other.join()
