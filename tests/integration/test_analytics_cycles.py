"""The analytics datasets over cycles, on SQLite and PostgreSQL, with the service-levels sample:
``clocks`` (and its Parquet export) has a row per cycle with a target as the ticket JSON
lists them, ``compliance`` counts next_reply cycles as ``report compliance`` does and leaves
ownership cycles to ``report ownership``."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest

from tests.conftest import Cli

SAMPLE = Path(__file__).parent.parent / "fixtures" / "service_levels"
MONTHS = ("2025-03", "2025-04", "2025-10", "2025-11")
CYCLE_METRICS = ("next_reply", "ownership")


@pytest.fixture
def sample(store_url: str, tmp_path: Path) -> Cli:
    cli = Cli(SAMPLE / "slaclock.toml", store_url, tmp_path)
    assert cli.json("ingest", str(SAMPLE / "events.jsonl"), "--clock", "event")["accepted"] == 111
    return cli


def _query(cli: Cli, dataset: str, columns: str, where: str = "1 = 1") -> list[tuple[Any, ...]]:
    """Rows of an analytics dataset: SQLite's refreshed table, PostgreSQL's view."""
    if cli.store.startswith("sqlite:///"):
        cli.json("analytics", "refresh")
        with sqlite3.connect(cli.store.removeprefix("sqlite:///")) as db:
            return db.execute(f"SELECT {columns} FROM analytics_{dataset} WHERE {where}").fetchall()
    url, schema = cli.store.split("?schema=", 1)
    with psycopg.connect(url) as conn:
        return conn.execute(
            f'SELECT {columns} FROM "{schema}_analytics".{dataset} WHERE {where}'
        ).fetchall()


def _text(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in row)


def test_clock_rows_of_cycles_match_the_ticket_json_and_the_export(
    sample: Cli, tmp_path: Path
) -> None:
    rows = _query(
        sample,
        "clocks",
        "ticket_id, metric, cycle, status, group_name",
        "metric IN ('next_reply', 'ownership')",
    )
    got: dict[tuple[str, str], list[tuple[int, str, str | None]]] = defaultdict(list)
    for ticket, metric, cycle, status, group in rows:
        got[ticket, metric].append((int(cycle), status, group))
    expected: dict[tuple[str, str], list[tuple[int, str, str | None]]] = {}
    for ticket in sample.json("tickets"):
        for metric in CYCLE_METRICS:
            cycles = ticket["clocks"].get(metric, {}).get("cycles", [])
            listed = [
                (n, c["status"], c.get("group"))
                for n, c in enumerate(cycles)
                if c["status"] != "not_applicable"
            ]
            if listed:
                expected[ticket["ticket_id"], metric] = listed
    assert {k: sorted(v) for k, v in got.items()} == expected
    assert {m for _, m in expected} == set(CYCLE_METRICS)
    singles = _query(sample, "clocks", "cycle, group_name", "metric = 'response'")
    assert singles and all(row == (None, None) for row in singles)
    sample.json("export", "clocks", "--month", "2025-04", "--out", str(tmp_path / "out"))
    names = ("ticket_id", "metric", "cycle", "status", "group_name")
    part = tmp_path / "out" / "clocks" / "v1" / "period_month=2025-04-01" / "part-0.parquet"
    exported = pq.read_table(part, columns=list(names)).to_pylist()
    april = _query(sample, "clocks", ", ".join(names), "CAST(period_month AS TEXT) = '2025-04-01'")
    assert any(r["cycle"] is not None for r in exported)
    assert sorted(_text(tuple(r.values())) for r in exported) == sorted(map(_text, april))


def test_compliance_counts_next_reply_cycles_as_the_report(sample: Cli) -> None:
    rows = _query(
        sample,
        "compliance",
        "CAST(period_month AS TEXT), customer_id, metric, priority, met, breached",
        "met + breached > 0",
    )
    metrics = set()
    for month in MONTHS:
        report = sample.json("report", "compliance", "--month", month)["rows"]
        expected = {
            (r["customer_id"], r["metric"], r["priority"]): (r["met"], r["breached"])
            for r in report
            if r["met"] + r["breached"]
        }
        got = {
            (c, m, None if p is None else int(p)): (int(met), int(br))
            for pm, c, m, p, met, br in rows
            if pm == f"{month}-01"
        }
        assert got == expected, month
        metrics |= {m for _, m, _ in got}
    assert "next_reply" in metrics and "ownership" not in metrics
    owned = _query(
        sample,
        "clocks",
        "group_name, priority, status",
        "metric = 'ownership' AND CAST(period_month AS TEXT) = '2025-04-01'",
    )
    counts: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for group, priority, status in owned:
        if status in ("met", "breached"):
            counts[group, int(priority)][status == "breached"] += 1
    report = sample.json("report", "ownership", "--month", "2025-04")["rows"]
    assert counts and dict(counts) == {
        (r["group"], r["priority"]): [r["met"], r["breached"]] for r in report
    }
