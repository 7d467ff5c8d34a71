"""What-if: the stored history under another configuration, compared with
the live answers, on SQLite and PostgreSQL, without touching live data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg

from slaclock.config import read_policy
from tests.conftest import AS_OF, CONFIG, EVENTS, Cli
from tests.integration.test_replay import reports, slaclock

MONTH = ["--month", "2025-09", "--as-of", AS_OF]


def stricter(tmp_path: Path) -> Path:
    """initech's P1 response within 30 minutes instead of 3 hours; advanced credits 9%."""
    text = CONFIG.read_text()
    for old, new in (
        ('response = { 1 = "3h", 2 = "6h"', 'response = { 1 = "30m", 2 = "6h"'),  # professional
        ('per_breach = "5%"', 'per_breach = "9%"'),  # advanced
    ):
        assert text.count(old) == 1
        text = text.replace(old, new)
    path = tmp_path / "stricter.toml"
    path.write_text(text)
    return path


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store (events, read model, meta, ledger, ...)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            names = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            return {
                n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names
            }
    schema = dict(part.split("=", 1) for part in parsed.query.split("&"))["schema"]
    with psycopg.connect(url.split("?")[0]) as conn:
        names = [
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        ]
        return {
            n: sorted(conn.execute(f'SELECT * FROM "{schema}"."{n}"').fetchall(), key=repr)
            for n in names
        }


def test_what_if_stricter_config_shows_the_differences_and_touches_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    assert slaclock(cli, "ingest", str(EVENTS))[0] == 0
    other = stricter(tmp_path)
    before, printed = dump(cli.store), reports(cli)
    events = next(n for n in before if n.endswith("_events"))
    states = [
        next(bytes(v) for v in row if isinstance(v, bytes | memoryview)) for row in before[events]
    ]
    facts = sum(len(json.loads(state).get("facts", [])) for state in states)
    assert facts >= 30 and before["sla_clocks"]  # something to compare

    code, text = slaclock(cli, "what-if", "--config", str(other), *MONTH, "--json")
    assert code == 0
    data = json.loads(text)
    assert data["live"]["policy_version"] == read_policy(CONFIG).version
    assert data["what_if"]["policy_version"] == read_policy(other).version
    assert data["live"]["policy_version"] != data["what_if"]["policy_version"]
    assert data["compliance"] == [
        {
            "customer_id": "initech",
            "metric": "response",
            "priority": 1,
            "live": {"met": 1, "breached": 0, "attainment": 1.0},
            "what_if": {"met": 0, "breached": 1, "attainment": 0.0},
        }
    ]
    [globex] = data["credits"]  # initech's plan has no credits; globex's rate went 5% -> 9%
    assert globex["customer_id"] == "globex"
    assert (globex["live"]["total"], globex["what_if"]["total"]) == ("31.80", "57.24")
    assert globex["difference"] == "+25.44"
    assert {(e["ticket_id"], e["metric"], e["live"], e["what_if"]) for e in globex["entries"]} == {
        ("T-2002", "response", "15.90", "28.62"),
        ("T-2002", "resolution", "15.90", "28.62"),
    }

    done = cli.run("what-if", "--config", str(other), *MONTH)  # for people, end to end
    assert done.returncode == 0, done.stderr
    for word in (read_policy(CONFIG).version, read_policy(other).version, "initech", "+25.44"):
        assert word in done.stdout

    assert dump(cli.store) == before  # byte-equal: events, read model, meta, policies
    assert reports(cli) == printed


def test_what_if_under_the_live_config_agrees_with_the_reports(cli: Cli) -> None:
    """The in-memory evaluation and the read model give the same answers for one policy."""
    assert slaclock(cli, "ingest", str(EVENTS))[0] == 0
    for month in ("2025-08", "2025-09", "2025-10"):
        code, text = slaclock(
            cli, "what-if", "--config", str(CONFIG), "--month", month, "--as-of", AS_OF, "--json"
        )
        assert code == 0
        data = json.loads(text)
        assert data["live"]["policy_version"] == data["what_if"]["policy_version"]
        assert (data["compliance"], data["credits"]) == ([], []), month
        assert data["unchanged"]["compliance_rows"] > 0


def test_what_if_usage_errors(tmp_path: Path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    assert slaclock(cli, "what-if", "--config", str(CONFIG), "--month", "2025-13")[0] == 2
    assert (
        slaclock(
            cli,
            "what-if",
            "--config",
            str(CONFIG),
            "--month",
            "2025-09",
            "--as-of",
            "2025-10-06T12:00:00",
        )[0]
        == 2
    )
    assert (
        slaclock(cli, "what-if", "--config", str(tmp_path / "none.toml"), "--month", "2025-09")[0]
        == 2
    )
