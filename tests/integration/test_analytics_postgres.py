"""The analytics views on PostgreSQL: typed, commented, equal to the reports; the analyst
role reads them and nothing else; a rebuild (which drops the tables they read) keeps them."""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest
from psycopg import errors

from slaclock.projections.analytics_columns import DATASETS
from tests.conftest import CONFIG, EVENTS, Cli

pytestmark = pytest.mark.postgres

MONTHS = ("2025-08", "2025-09", "2025-10")


def _schema(store: str) -> str:
    return store.split("schema=", 1)[1]


def _report(cli: Cli, month: str) -> dict:
    rows = cli.json("report", "compliance", "--month", month)["rows"]
    return {
        (r["customer_id"], r["metric"], r["priority"]): (r["met"], r["breached"], r["attainment"])
        for r in rows
    }


def _grouped(rows) -> dict:
    return {
        (c, m, p): (int(met), int(br), round(float(met) / (met + br), 4))
        for c, m, p, met, br in rows
        if met + br
    }


@pytest.fixture
def pg(postgres_url: str, postgres_store: str, tmp_path: Path) -> Cli:
    cli = Cli(CONFIG, postgres_store, tmp_path)
    assert cli.json("ingest", str(EVENTS))["accepted"] == 30
    return cli


def test_the_views_are_typed_commented_and_equal_the_report(
    pg: Cli, postgres_url: str, tmp_path: Path
):
    views = f"{_schema(pg.store)}_analytics"
    with psycopg.connect(postgres_url) as conn:
        for name, dataset in DATASETS.items():
            columns = conn.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod),"
                " col_description(a.attrelid, a.attnum) FROM pg_attribute a"
                " WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 ORDER BY a.attnum",
                [f'"{views}".{name}'],
            ).fetchall()
            assert [c[0] for c in columns] == [c.name for c in dataset.columns]
            assert all(c[2] for c in columns), f"{name}: a column without a comment"
            view_comment = conn.execute(
                "SELECT obj_description(to_regclass(%s), 'pg_class')", [f'"{views}".{name}']
            ).fetchone()
            assert view_comment and "Grain:" in view_comment[0]
            types = {c[0]: c[1] for c in columns}
            if name == "clocks":
                assert types["started_at"] == "timestamp with time zone"
                assert types["period_month"] == "date"
            if name == "credit_ledger":
                assert types["amount"] == "numeric(18,2)"
        for month in MONTHS:
            rows = conn.execute(
                f'SELECT customer_id, metric, priority, met, breached FROM "{views}".compliance'
                " WHERE period_month = %s::date",
                [f"{month}-01"],
            ).fetchall()
            assert _grouped(rows) == _report(pg, month)
    # the export from PostgreSQL, read by DuckDB
    pg.json("export", "clocks", "--month", "2025-09", "--out", str(tmp_path / "out"))
    files = tmp_path / "out" / "clocks" / "v1" / "*" / "*.parquet"
    rows = duckdb.sql(
        f"SELECT customer_id, metric, priority, count(*) FILTER (status = 'met'),"
        f" count(*) FILTER (status = 'breached') FROM read_parquet('{files}') GROUP BY ALL"
    ).fetchall()
    assert _grouped(rows) == _report(pg, "2025-09")


def test_the_analyst_role_reads_the_views_and_nothing_else_also_after_a_rebuild(
    pg: Cli, postgres_url: str
):
    role = f"analyst_{uuid.uuid4().hex[:10]}"
    store_schema = _schema(pg.store)
    views = f"{store_schema}_analytics"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        assert pg.json("analytics", "grant", role)["schema"] == views
        clocks = _read_as(postgres_url, role, f'SELECT count(*) FROM "{views}".clocks')
        assert clocks > 0
        for table in ("sla_api_tokens", "slaclock_events", "sla_clocks", "sla_source_state"):
            with pytest.raises(errors.InsufficientPrivilege):
                _read_as(postgres_url, role, f'SELECT count(*) FROM "{store_schema}".{table}')
        # a rebuild drops and renames the tables the views read: the views come back
        done = pg.run("replay")
        assert done.returncode == 0, done.stderr
        assert _read_as(postgres_url, role, f'SELECT count(*) FROM "{views}".clocks') == clocks
        unknown = pg.run("analytics", "grant", f"{role}_missing")
        assert unknown.returncode == 2 and "no role" in unknown.stderr
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_a_customer_scoped_login_role_sees_its_customers_rows_only(pg: Cli, postgres_url: str):
    role, password = f"customer_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    store_schema = _schema(pg.store)
    views = f"{store_schema}_analytics"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    login = psycopg.conninfo.make_conninfo(postgres_url, user=role, password=password)
    try:
        granted = pg.json("analytics", "grant", role, "--customer", "acme")
        assert granted["customers"] == ["acme"]
        with psycopg.connect(postgres_url) as conn:  # the store's own role: every customer
            every = {
                name: set(conn.execute(f'SELECT customer_id FROM "{views}".{name}').fetchall())
                for name in DATASETS
            }
        assert all(("acme",) in seen and len(seen) > 1 for seen in every.values()), every
        with psycopg.connect(login) as conn:
            for name in DATASETS:
                seen = conn.execute(f'SELECT customer_id FROM "{views}".{name}').fetchall()
                assert seen and set(seen) == {("acme",)}, name
            filtered = f"SELECT count(*) FROM \"{views}\".clocks WHERE customer_id = 'globex'"
            assert conn.execute(filtered).fetchone() == (0,)
        for table in ("sla_api_tokens", "slaclock_events", "sla_analytics_scopes", "sla_clocks"):
            with psycopg.connect(login) as conn, pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f'SELECT count(*) FROM "{store_schema}".{table}')
        missing = pg.run("analytics", "grant", role, "--customer", "nobody")
        assert missing.returncode == 2 and "no customer 'nobody'" in missing.stderr
        pg.json("analytics", "grant", role)  # without --customer: every customer again
        with psycopg.connect(login) as conn:
            seen = conn.execute(f'SELECT DISTINCT customer_id FROM "{views}".clocks').fetchall()
            assert set(seen) == every["clocks"]
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def _read_as(url: str, role: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        conn.execute(f"SET ROLE {role}")
        row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0])
