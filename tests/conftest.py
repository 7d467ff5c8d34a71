"""Shared fixtures: the contract files, a CLI runner, and stores on SQLite and PostgreSQL.

PostgreSQL tests use the server that ``make test`` starts (scripts/postgres.sh); each test
gets a schema of its own. When the server is missing those tests fail, they never skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).parent.parent / "examples"  # the sample data: one copy, for users too
CONFIG = EXAMPLES / "slaclock.toml"
EVENTS = EXAMPLES / "events.jsonl"
BAD_EVENTS = FIXTURES / "bad_events.jsonl"
EXPECTED = FIXTURES / "expected"
AS_OF = "2025-10-06T12:00:00+02:00"
POSTGRES_URL = os.environ.get(
    "SLACLOCK_TEST_POSTGRES_URL",
    f"postgresql://slaclock@127.0.0.1:{os.environ.get('PGPORT', '55432')}/slaclock",
)


def normalise(value: Any) -> Any:
    """RFC 3339 strings become UTC instants, so that offsets do not matter in comparisons."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and "T" in value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is not None:
            return ("instant", parsed.timestamp())
    return value


def subset(expected: Any, got: Any) -> bool:
    """Expected keys present and equal (extra keys in ``got`` are allowed)."""
    if isinstance(expected, dict):
        return isinstance(got, dict) and all(
            k in got and subset(v, got[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(subset(a, b) for a, b in zip(expected, got, strict=True))
        )
    return expected == got


class Cli:
    """Runs ``python -m slaclock`` as a user would, against one config and store."""

    def __init__(self, config: Path, store: str, cwd: Path) -> None:
        self.config, self.store, self.cwd = config, store, cwd

    def run(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "slaclock", "--config", str(self.config)]
        command += ["--store", self.store, *argv]
        return subprocess.run(
            command, cwd=self.cwd, input=stdin, capture_output=True, text=True, timeout=300
        )

    def json(self, *argv: str) -> Any:
        done = self.run(*argv, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable (make postgres): {exc}")
    return POSTGRES_URL


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[str]:
    """A store URL on a fresh PostgreSQL schema, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_url}?schema={schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_analytics" CASCADE')  # its views


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests on both stores."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_store")


@pytest.fixture
def cli(store_url: str, tmp_path: Path) -> Cli:
    return Cli(CONFIG, store_url, tmp_path)
