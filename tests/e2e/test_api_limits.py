"""A bound on the work one token can cause (issue 18 item 11): uncached report computations
beyond ``serve --report-concurrency`` are answered 429 with Retry-After, per token; answers
that wait for an identical computation do not count."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import AS_OF
from tests.e2e.test_api_harness import ApiServer, serve

COMPLIANCE = "/api/reports/compliance"


@pytest.fixture
def held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ApiServer, Path]]:
    """A server whose report computations wait while the returned file exists."""
    hold = tmp_path / "hold"
    monkeypatch.setenv("SLACLOCK_TEST_FAULT", "report-hold")
    monkeypatch.setenv("SLACLOCK_TEST_HOLD", str(hold))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    for server in serve(tmp_path, url, "--report-concurrency", "1", open_tickets=False):
        yield server, hold


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_one_token_beyond_its_limit_gets_429_others_go_on(held: tuple[ApiServer, Path]) -> None:
    server, hold = held
    hold.touch()
    with ThreadPoolExecutor(4) as pool:

        def ask(token: str, **params: str) -> Future[httpx.Response]:
            return pool.submit(server.get, COMPLIANCE, token, month="2025-09", **params)

        first = ask("acme", as_of=AS_OF)
        _wait_for(Path(f"{hold}.reached"))  # acme's computation is running (and held)
        same = ask("acme", as_of=AS_OF)  # identical: waits for that answer, not counted
        other_token = ask("globex", as_of=AS_OF)
        for params in ({"as_of": "2025-10-06T12:00:01+02:00"}, {}):
            refused = server.get(COMPLIANCE, "acme", month="2025-08", **params)
            assert refused.status_code == 429, refused.text
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["detail"].startswith("reports: this token already runs 1")
        attainment = server.get("/api/reports/attainment", "acme", as_of=AS_OF)
        assert attainment.status_code == 429
        time.sleep(0.3)
        assert not (same.done() or other_token.done())  # both wait, neither was refused
        hold.unlink()
        answers = [f.result(timeout=60) for f in (first, same, other_token)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json() == answers[1].json()
    # The computation done, the token may compute again.
    again = server.get(COMPLIANCE, "acme", month="2025-08", as_of="2025-10-06T12:00:01+02:00")
    assert again.status_code == 200
    assert server.get("/api/reports/attainment", "acme", as_of=AS_OF).status_code == 200
