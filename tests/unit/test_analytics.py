"""The analytics interface on SQLite and its exports: typed tables, the column dictionary,
Parquet read by DuckDB and CSV read by pandas giving the numbers of ``report compliance``
and ``report credits``, closed months written once. (PostgreSQL's views and the analyst
role: tests/integration/test_analytics_postgres.py.)"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from slaclock.cli import main
from slaclock.projections.analytics_columns import DATASETS
from tests.conftest import CONFIG, EVENTS

MONTHS = ("2025-08", "2025-09", "2025-10")


class Store:
    """A SQLite store of the sample events, driven through the command line in-process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["--config", str(CONFIG), "--store", f"sqlite:///{self.path}", *argv])
        return code, out.getvalue()

    def json(self, *argv: str) -> Any:
        code, text = self.run(*argv, "--json")
        assert code == 0, text
        return json.loads(text)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(tmp_path_factory.mktemp("analytics") / "store.db")
    assert store.json("ingest", str(EVENTS))["accepted"] == 30
    store.json("ledger", "close", "--month", "2025-08")
    yield store


def _report(store: Store, month: str) -> dict[tuple[str, str, int | None], tuple[int, int, float]]:
    rows = store.json("report", "compliance", "--month", month)["rows"]
    return {
        (r["customer_id"], r["metric"], r["priority"]): (r["met"], r["breached"], r["attainment"])
        for r in rows
    }


def _grouped(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str, int | None], tuple]:
    """(customer, metric, priority, met, breached) rows with the report's attainment."""
    return {
        (c, m, None if p is None else int(p)): (int(met), int(br), round(met / (met + br), 4))
        for c, m, p, met, br in rows
        if met + br
    }


def test_the_dictionary_describes_every_column_and_sqlite_declares_their_types(store: Store):
    store.json("analytics", "refresh")
    with sqlite3.connect(store.path) as db:
        listed = db.execute(
            "SELECT dataset, column_name, data_type FROM analytics_columns ORDER BY dataset,"
            " position"
        ).fetchall()
        for name, dataset in DATASETS.items():
            declared = [(r[1], r[2]) for r in db.execute(f"PRAGMA table_info(analytics_{name})")]
            assert declared == [(n, t) for d, n, t in listed if d == name]
            assert [n for n, _ in declared] == [c.name for c in dataset.columns]
            assert all(c.description for c in dataset.columns)
        kinds = {r[1]: r[2] for r in db.execute("PRAGMA table_info(analytics_clocks)")}
        assert kinds["started_at"] == kinds["breached_at"] == "TIMESTAMP"
        assert kinds["period_month"] == "DATE"
        started, month = db.execute(
            "SELECT started_at, period_month FROM analytics_clocks WHERE ticket_id = 'T-1002'"
        ).fetchone()
    assert datetime.strptime(started, "%Y-%m-%d %H:%M:%S")  # UTC text BI drivers parse
    with sqlite3.connect(store.path) as db:
        (refreshed,) = db.execute("SELECT refreshed_at FROM analytics_refreshed").fetchall()
    age = datetime.now(UTC) - datetime.fromisoformat(refreshed[0]).replace(tzinfo=UTC)
    assert timedelta(0) <= age < timedelta(minutes=5)
    assert month == "2025-09-01"


def test_the_sqlite_compliance_table_equals_the_report(store: Store):
    store.json("analytics", "refresh")
    with sqlite3.connect(store.path) as db:
        for month in MONTHS:
            rows = db.execute(
                "SELECT customer_id, metric, priority, met, breached FROM analytics_compliance"
                " WHERE period_month = ?",
                [f"{month}-01"],
            ).fetchall()
            assert _grouped(rows) == _report(store, month)


def test_duckdb_reads_the_parquet_export_and_its_group_by_equals_the_report(
    store: Store, tmp_path: Path
):
    written = store.json("export", "clocks", "--from", MONTHS[0], "--to", MONTHS[-1],
                         "--out", str(tmp_path))  # fmt: skip
    assert [w["month"] for w in written] == list(MONTHS)
    files = str(tmp_path / "clocks" / "v1" / "*" / "*.parquet")
    db = duckdb.connect()
    scan = f"read_parquet('{files}', hive_partitioning = true)"
    types = {r[0]: r[1] for r in db.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
    assert types["started_at"] == types["breached_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["period_month"] == "DATE"
    for month in MONTHS:
        rows = db.execute(
            f"SELECT customer_id, metric, priority, count(*) FILTER (status = 'met'),"
            f" count(*) FILTER (status = 'breached') FROM {scan}"
            " WHERE period_month = CAST(? AS DATE) GROUP BY ALL",
            [f"{month}-01"],
        ).fetchall()
        assert _grouped(rows) == _report(store, month)
    meta = pq.read_schema(tmp_path / "clocks" / "v1" / "period_month=2025-09-01" / "part-0.parquet")
    assert meta.metadata[b"slaclock.interface"] == b"v1"
    assert str(meta.field("started_at").type) == "timestamp[us, tz=UTC]"


def test_ledger_amounts_are_decimals_that_add_up_to_the_credit_report(store: Store, tmp_path: Path):
    store.json("export", "credit_ledger", "--month", "2025-09", "--out", str(tmp_path))
    files = str(tmp_path / "credit_ledger" / "v1" / "*" / "*.parquet")
    db = duckdb.connect()
    scan = f"read_parquet('{files}', hive_partitioning = true)"
    kind = db.execute(f"SELECT typeof(amount) FROM {scan} LIMIT 1").fetchone()
    assert kind == ("DECIMAL(18,2)",)
    got = dict(db.execute(f"SELECT customer_id, sum(amount) FROM {scan} GROUP BY ALL").fetchall())
    report = store.json("report", "credits", "--month", "2025-09")
    assert got == {c["customer_id"]: Decimal(c["subtotal"]) for c in report["customers"]}


def test_the_csv_export_reads_back_in_pandas_with_the_same_numbers(store: Store, tmp_path: Path):
    store.json("export", "clocks", "--month", "2025-09", "--format", "csv", "--out", str(tmp_path))
    path = tmp_path / "clocks" / "v1" / "period_month=2025-09-01" / "part-0.csv"
    frame = pd.read_csv(path, parse_dates=["started_at", "stopped_at", "breached_at"])
    assert str(frame["started_at"].dt.tz) == "UTC"
    frame = frame.assign(met=frame.status == "met", breached=frame.status == "breached")
    counts = frame.groupby(["customer_id", "metric", "priority"])[["met", "breached"]].sum()
    rows = [(c, m, p, met, br) for (c, m, p), (met, br) in counts.iterrows()]
    assert _grouped(rows) == _report(store, "2025-09")


def test_a_closed_month_is_written_once_and_an_open_month_rewritten(store: Store, tmp_path: Path):
    argv = ("export", "compliance", "--from", "2025-08", "--to", "2025-09", "--out", str(tmp_path))
    first = store.json(*argv)
    assert all(w["rows"] > 0 for w in first)
    closed = tmp_path / "compliance" / "v1" / "period_month=2025-08-01" / "part-0.parquet"
    opened = tmp_path / "compliance" / "v1" / "period_month=2025-09-01" / "part-0.parquet"
    assert pq.read_schema(closed).metadata[b"slaclock.month_closed"] == b"true"
    stamps = closed.stat().st_mtime_ns, opened.stat().st_mtime_ns
    second = store.json(*argv)
    assert [w["rows"] for w in second] == [None, first[1]["rows"]]  # kept, rewritten
    assert closed.stat().st_mtime_ns == stamps[0]
    assert opened.stat().st_mtime_ns != stamps[1]


def test_export_refuses_a_bad_month_range(store: Store, capsys: pytest.CaptureFixture[str]):
    code, _ = store.run("export", "clocks", "--from", "2025-10", "--to", "2025-09", "--out", ".")
    assert code == 2 and "--from 2025-10 is after --to 2025-09" in capsys.readouterr().err


def test_a_sqlite_store_has_no_roles_to_grant(store: Store, capsys: pytest.CaptureFixture[str]):
    code, _ = store.run("analytics", "grant", "analyst")
    assert code == 2 and "PostgreSQL stores only" in capsys.readouterr().err


def test_docs_describe_every_dataset_and_column():
    text = (Path(__file__).parent.parent.parent / "docs" / "analytics.md").read_text()
    for name, dataset in DATASETS.items():
        section = text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        for column in dataset.columns:
            assert f"| `{column.name}` |" in section, f"{name}.{column.name} not in the docs"


def test_a_reversal_points_at_the_credit_it_reverses(tmp_path: Path):
    """T-2002 acknowledged late within its hour: its response credit is reversed, and the
    ledger dataset keeps both entries, the reversal naming the credit."""
    store = Store(tmp_path / "store.db")
    store.json("ingest", str(EVENTS), "--clock", "event")
    late = tmp_path / "late.jsonl"
    late.write_text(json.dumps({
        "event_id": "late-1", "type": "ticket.acknowledged", "ticket_id": "T-2002",
        "occurred_at": "2025-09-12T16:30:00+02:00",
    }) + "\n")  # fmt: skip
    store.json("ingest", str(late), "--clock", "event")
    store.json("analytics", "refresh")
    with sqlite3.connect(store.path) as db:
        rows = db.execute(
            "SELECT entry_id, kind, refers_to, amount, is_adjustment FROM"
            " analytics_credit_ledger WHERE ticket_id = 'T-2002' AND metric = 'response'"
        ).fetchall()
    kinds = {kind: (entry, refers, amount, adjustment) for entry, kind, refers, amount, adjustment
             in rows}  # fmt: skip
    assert set(kinds) == {"credit", "reversal"}
    assert kinds["reversal"][1] == kinds["credit"][0]
    assert kinds["reversal"][2] == -kinds["credit"][2] == -15.9
    assert kinds["reversal"][3] == 0  # posted into the breach's own month, still open
