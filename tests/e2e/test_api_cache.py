"""Month reports shared between identical requests: computed once per key, served while
fresh, refreshed in the background when stale, never shared across token scopes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from slaclock.api.cache import ReportCache
from tests.e2e.test_api_harness import ApiServer, sqlite_serve


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counter() -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    return calls, compute


def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_fresh_answers_are_computed_once_per_key() -> None:
    clock = FakeClock()
    cache = ReportCache(5, clock=clock)
    calls, compute = counter()
    assert cache.get("a", compute) == 1
    clock.now += 4.9
    assert cache.get("a", compute) == 1
    assert cache.get("b", compute) == 2  # another key, another answer
    assert len(calls) == 2 and cache.misses == 2 and cache.hits == 1


def test_a_stale_answer_is_served_while_one_refresh_replaces_it() -> None:
    clock = FakeClock()
    cache = ReportCache(5, clock=clock)
    release = threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        if len(calls) > 1:
            release.wait(5)
        return len(calls)

    assert cache.get("a", slow) == 1
    clock.now += 6  # stale, but younger than 3 * ttl
    assert cache.get("a", slow) == 1  # served at once, refresh started
    assert cache.get("a", slow) == 1  # no second refresh while one runs
    release.set()
    wait_for(lambda: cache.get("a", slow) == 2)
    assert len(calls) == 2


def test_a_too_old_answer_is_computed_anew() -> None:
    clock = FakeClock()
    cache = ReportCache(5, clock=clock)
    calls, compute = counter()
    cache.get("a", compute)
    clock.now += 15
    assert cache.get("a", compute) == 2 and len(calls) == 2


def test_concurrent_identical_requests_share_one_computation() -> None:
    cache = ReportCache(60)
    calls: list[int] = []
    started = threading.Event()

    def slow() -> int:
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return 42

    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(cache.get("k", slow)))]
    threads[0].start()
    started.wait(5)
    threads += [threading.Thread(target=lambda: answers.append(cache.get("k", slow)))]
    threads += [threading.Thread(target=lambda: answers.append(cache.get("k", slow)))]
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(5)
    assert answers == [42, 42, 42] and len(calls) == 1


def test_ttl_zero_always_computes_and_size_is_bounded() -> None:
    calls, compute = counter()
    off = ReportCache(0)
    assert [off.get("a", compute) for _ in range(3)] == [1, 2, 3]
    clock = FakeClock()
    small = ReportCache(60, size=2, clock=clock)
    calls, compute = counter()
    small.get("a", compute), small.get("b", compute), small.get("c", compute)
    assert small.get("a", compute) == 4  # "a" was evicted, least recently used
    assert small.get("c", compute) == 3 and len(calls) == 4


def test_a_failed_refresh_keeps_the_stale_answer() -> None:
    clock = FakeClock()
    cache = ReportCache(5, clock=clock)
    assert cache.get("a", lambda: "first") == "first"
    clock.now += 6

    def broken() -> str:
        raise RuntimeError("store unavailable")

    assert cache.get("a", broken) == "first"
    wait_for(lambda: not cache._entries["a"].refreshing)
    assert cache.get("a", broken) == "first"


# ------------------------------------------------------------------ on a real server
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from sqlite_serve(tmp_path_factory, "--report-cache", "30")


def test_reports_as_of_now_are_shared_and_say_when_they_were_computed(server: ApiServer) -> None:
    first = server.json("/api/reports/compliance", month="2025-09")
    time.sleep(1.1)  # a recomputation would say a later as_of
    again = server.json("/api/reports/compliance", month="2025-09")
    assert again == first
    credits = server.json("/api/reports/credits", month="2025-09")
    assert credits["as_of"] >= first["as_of"]  # another report, its own computation


def test_cached_reports_never_cross_token_scopes(server: ApiServer) -> None:
    admin = server.json("/api/reports/credits", month="2025-09")
    assert {c["customer_id"] for c in admin["customers"]} >= {"acme", "globex"}
    for customer in ("acme", "globex"):
        mine = server.json("/api/reports/credits", token=customer, month="2025-09")
        assert {c["customer_id"] for c in mine["customers"]} <= {customer}
        rows = server.json("/api/reports/compliance", token=customer, month="2025-09")["rows"]
        assert rows and {r["customer_id"] for r in rows} == {customer}


def test_bad_parameters_are_rejected_before_the_cache(server: ApiServer) -> None:
    response = server.get("/api/reports/compliance", month="2025-09", as_of="yesterday")
    assert response.status_code == 422 and "as_of" in response.text
