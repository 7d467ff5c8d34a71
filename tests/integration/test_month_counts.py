"""The month reports counted by the database (``projections.month_counts``) equal the reports
computed from each row's outcome (``reports.month_outcomes``) for every month, on both
stores: after an ingest with late and out-of-order events, for instants at which some
tickets' rows do not answer, with ``known_at``, and after a recompute under a changed
policy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slaclock.bootstrap import adopt
from slaclock.config import parse_policy
from slaclock.projections import month_counts, reports
from slaclock.projections.objectives import count_outcomes, month_objectives
from slaclock.projections.queries import Queries
from slaclock.projections.store import TicketStore
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "bench" / "bench-replies.toml"
# An objective, so that the credits report's objectives are counted too.
OBJECTIVE = """
[[plans.newyork.objectives]]
metric = "next_reply"
target = "95%"
minimum = 3
credits = [ { below = "95%", credit = "5%" } ]
"""
MONTHS = ("2025-01", "2025-02", "2025-03")
NOW = 1_900_000_000  # after every fact


def _stream(tmp_path: Path) -> tuple[Path, Path]:
    """About 200 tickets from 20 January to early March 2025 (late and duplicate events
    among them), split in two files: the second holds late events of the first's tickets."""
    path = tmp_path / "events.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), "--events", "2500", "--seed", "7",
         "--format", "jsonl", "--out", str(path), "--stream", "replies", "--config", str(CONFIG),
         "--start", "2025-01-20T00:00:00+00:00", "--tickets-per-day", "5"],
        check=True, capture_output=True,
    )  # fmt: skip
    lines = path.read_text().splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(lines[: len(lines) * 2 // 3]))
    second.write_text("".join(lines[len(lines) * 2 // 3 :]))
    return first, second


def _credits_from_outcomes(queries: Queries, month: str, as_of: int, customer: str | None):
    """The credits report as it was computed before ``month_counts``: from every outcome."""
    outcomes = reports.month_outcomes(queries, month, as_of, customer)
    adjustments = [
        e
        for e in queries.store.ledger_entries(posted_month=month, customer=customer)
        if e.adjustment and (queries.known_at is None or e.posted_at <= queries.known_at)
    ]
    assessed = month_objectives(queries.policy, month, count_outcomes(outcomes), customer)
    return reports.credits(outcomes, adjustments, queries.policy.contract_by_key, assessed)


def _assert_same(queries: Queries, as_of: int) -> int:
    """Both ways agree for every month, for all customers and for one; returns the outcomes."""
    seen = 0
    for month in MONTHS:
        outcomes = reports.month_outcomes(queries, month, as_of, None)
        seen += len(outcomes)
        assert reports.month_compliance(queries, month, as_of, None) == reports.compliance(
            outcomes
        ), month
        customer = outcomes[0].customer_id if outcomes else None
        for who in {None, customer}:
            counted = reports.month_credits(queries, month, as_of, who)
            assert counted == _credits_from_outcomes(queries, month, as_of, who), (month, who)
        if customer is not None:
            assert reports.month_compliance(queries, month, as_of, customer) == reports.compliance(
                reports.month_outcomes(queries, month, as_of, customer)
            )
    return seen


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "slaclock.toml"
    path.write_text(CONFIG.read_text() + OBJECTIVE)
    return path


def test_counted_months_equal_the_reports_from_rows(
    store_url: str, tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _stream(tmp_path)
    cli = Cli(config, store_url, tmp_path)
    loaded = parse_policy(config.read_text(), str(config))
    for part in (first, second):  # the second part: late events of tickets already stored
        assert cli.run("ingest", str(part), "--clock", "event").returncode == 0
        store = TicketStore(store_url, loaded.policy)
        try:
            assert _assert_same(Queries(store, loaded.policy), NOW) > 300
            recorded = store.query("SELECT MAX(last_recorded_at) AS n FROM {p}sla_tickets")
            known_at = Queries(store, loaded.policy, known_at=recorded[0]["n"] - 1)
            _assert_same(known_at, NOW)
        finally:
            store.close()
    store = TicketStore(store_url, loaded.policy)
    try:
        queries = Queries(store, loaded.policy)
        mid = 1_739_000_000  # 8 February 2025: many tickets have facts after it
        assert queries.stale_tickets(mid, created=False)
        _assert_same(queries, mid)  # those left out by id
        monkeypatch.setattr(month_counts, "FEW_STALE", 0)
        _assert_same(queries, mid)  # checked against their ticket rows
        _assert_same(Queries(store, loaded.policy, rows_current=False), NOW)  # all from events
    finally:
        store.close()


def test_counted_months_equal_the_reports_after_a_policy_change(
    store_url: str, tmp_path: Path, config: Path
) -> None:
    first, second = _stream(tmp_path)
    cli = Cli(config, store_url, tmp_path)
    for part in (first, second):
        assert cli.run("ingest", str(part), "--clock", "event").returncode == 0
    changed = config.read_text().replace(
        'targets.next_reply = { 1 = "2h", 2 = "4h", 3 = "8h" }',
        'targets.next_reply = { 1 = "30m", 2 = "1h", 3 = "8h" }',
    )
    assert changed != config.read_text()
    loaded = parse_policy(changed, "changed")
    store, adoption = adopt(store_url, loaded)
    try:
        assert adoption.recomputed > 0
        queries = Queries(store, loaded.policy)
        before = reports.month_compliance(queries, MONTHS[1], NOW, None)
        assert _assert_same(queries, NOW) > 300
        old = parse_policy(config.read_text(), "old").policy
        assert before != reports.compliance(
            reports.month_outcomes(Queries(store, old, rows_current=False), MONTHS[1], NOW, None)
        )  # the change moved the month's numbers, and the counts followed it
    finally:
        store.close()
