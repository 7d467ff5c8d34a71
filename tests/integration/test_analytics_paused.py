"""``clocks.paused_seconds`` on SQLite and PostgreSQL: the view (SQLite's refreshed table)
and the Parquet export read by DuckDB show a clock's real paused time; a row stored before
the column was kept (store schema 9) shows null, passes ``replay --verify``, and a ``replay``
fills it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from tests.conftest import EVENTS, Cli

# T-2003 is paused from 2025-09-15 10:00 to 2025-09-17 09:00 (+02:00): 47 hours, real time.
PAUSED = ("T-2003", "resolution", 47 * 3600)


def _store_sql(cli: Cli, statement: str) -> None:
    """Run ``statement`` on the store's own tables (as an older slaclock left them)."""
    if cli.store.startswith("sqlite:///"):
        with sqlite3.connect(cli.store.removeprefix("sqlite:///")) as db:
            db.execute(statement.replace("{p}", ""))
        return
    url, schema = cli.store.split("?schema=", 1)
    with psycopg.connect(url) as conn:
        conn.execute(statement.replace("{p}", f'"{schema}".'))


def _clocks(cli: Cli) -> dict[tuple[str, str], tuple[Any, Any]]:
    """(ticket, metric) -> (paused_seconds, paused_since) of the clocks view (or table)."""
    query = "SELECT ticket_id, metric, paused_seconds, paused_since FROM {v}clocks"
    if cli.store.startswith("sqlite:///"):
        cli.json("analytics", "refresh")
        with sqlite3.connect(cli.store.removeprefix("sqlite:///")) as db:
            rows = db.execute(query.replace("{v}", "analytics_")).fetchall()
    else:
        url, schema = cli.store.split("?schema=", 1)
        with psycopg.connect(url) as conn:
            rows = conn.execute(query.replace("{v}", f'"{schema}_analytics".')).fetchall()
    return {(t, m): (s, since) for t, m, s, since in rows}


def test_the_view_and_the_export_show_paused_seconds_and_a_replay_fills_old_rows(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli.json("ingest", str(EVENTS))["accepted"] == 30
    ticket, metric, seconds = PAUSED
    clocks = _clocks(cli)
    assert clocks[ticket, metric] == (seconds, None)
    others = [v for k, v in clocks.items() if k != (ticket, metric)]
    assert others and all(v == (0, None) for v in others)

    cli.json("export", "clocks", "--month", "2025-09", "--format", "parquet", "--out", "out")
    files = tmp_path / "out" / "clocks" / "v1" / "*" / "*.parquet"
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{files}', hive_partitioning = true)")
    types = dict(zip(relation.columns, map(str, relation.types), strict=True))
    assert types["paused_seconds"] == "BIGINT"
    assert types["paused_since"] == "TIMESTAMP WITH TIME ZONE"
    exported = duckdb.sql(
        f"SELECT paused_seconds FROM read_parquet('{files}')"
        f" WHERE ticket_id = '{ticket}' AND metric = '{metric}'"
    ).fetchall()
    assert exported == [(seconds,)]

    # rows an older slaclock wrote have no paused time: null, not a verify difference
    _store_sql(cli, "UPDATE {p}sla_clocks SET paused_seconds = NULL, paused_since = NULL")
    assert _clocks(cli)[ticket, metric] == (None, None)
    assert cli.run("replay", "--verify").returncode == 0
    done = cli.run("replay")
    assert done.returncode == 0, done.stderr
    assert _clocks(cli) == clocks
