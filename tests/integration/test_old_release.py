"""Stores written by an older release stay readable, with the same answers.

``tests/fixtures/old_release`` holds a SQLite store and a PostgreSQL dump written by the
release frozen there (``make_fixture.sh`` is the recipe, ``answers/`` what that release said).
The current code opens copies of both and must answer every question the same way: tickets,
reports, the ledger (with its closed month and a reversal), explanations and ``replay
--verify``. Policy-version strings and the wall-clock instants the fixture was made at (a
ledger entry's ``posted_at``, a closed month's ``closed_at``, which a frozen statement also
reports as its ``as_of``) are left out of the comparison: they name the configuration's hash
and the minute the fixture was built, not the history.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import Cli

OLD = Path(__file__).parents[1] / "fixtures" / "old_release"
AS_OF = "2025-10-06T12:00:00+02:00"
# Fields added after the old release (policy_pending, events) or that differ by nature.
IGNORED = {"policy_version", "policy_pending", "posted_at", "closed_at", "as_of", "events"}

QUESTIONS: dict[str, tuple[str, ...]] = {
    "tickets": ("tickets", "--as-of", AS_OF),
    "ledger": ("ledger", "show"),
    "replay_verify": ("replay", "--verify"),
    **{
        f"{kind}_{month}": ("report", kind, "--month", month, "--as-of", AS_OF)
        for kind in ("compliance", "credits")
        for month in ("2025-08", "2025-09", "2025-10")
    },
    **{f"explain_{t}": ("explain", t, "--as-of", AS_OF) for t in ("T-1001", "T-1002")},
}


def _comparable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in IGNORED}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _answers_equal(cli: Cli) -> None:
    for name, question in QUESTIONS.items():
        expected = json.loads((OLD / "answers" / f"{name}.json").read_text())
        assert _comparable(cli.json(*question)) == _comparable(expected), name


def test_the_fixture_holds_a_closed_month_and_a_reversal() -> None:
    ledger = json.loads((OLD / "answers" / "ledger.json").read_text())
    assert {entry["kind"] for entry in ledger} == {"credit", "reversal"}
    assert json.loads((OLD / "answers" / "replay_verify.json").read_text())["ok"] is True


def test_an_old_sqlite_store_gives_the_same_answers(tmp_path: Path) -> None:
    shutil.copy(OLD / "store.db", tmp_path / "store.db")
    _answers_equal(Cli(OLD / "slaclock.toml", f"sqlite:///{tmp_path / 'store.db'}", tmp_path))


@pytest.fixture
def old_postgres_store(postgres_url: str) -> Iterator[str]:
    """The dump restored into a schema of its own."""
    schema = f"old_{uuid.uuid4().hex[:12]}"
    dump = (OLD / "postgres.sql").read_text().replace("old_release", schema)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(dump.encode())
        conn.execute("SELECT pg_catalog.set_config('search_path', 'public', false)")
    yield f"{postgres_url}?schema={schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_analytics" CASCADE')  # its views


@pytest.mark.postgres
def test_an_old_postgres_store_gives_the_same_answers(
    old_postgres_store: str, tmp_path: Path
) -> None:
    _answers_equal(Cli(OLD / "slaclock.toml", old_postgres_store, tmp_path))


@pytest.mark.postgres
def test_an_old_postgres_store_takes_new_events(old_postgres_store: str, tmp_path: Path) -> None:
    """Writing on top of an old store works and keeps it consistent."""
    cli = Cli(OLD / "slaclock.toml", old_postgres_store, tmp_path)
    event = {
        "event_id": "new-0001",
        "type": "ticket.resolved",
        "ticket_id": "T-6001",
        "occurred_at": "2025-10-03T11:00:00+02:00",
    }
    done = cli.run("ingest", "-", "--json", stdin=json.dumps(event) + "\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["accepted"] == 1
    assert cli.json("replay", "--verify")["ok"] is True
