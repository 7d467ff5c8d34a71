"""Stores say which schema they were written in: recorded, checked, upgraded, shown.

A new store records the current schema version; a store from before versions were recorded
(the old-release fixture) gets it recorded when opened; a store written by a newer slaclock is
refused (exit 2) and left untouched; an older one is upgraded in place by the registered steps.
The stored event classes declare their versions, with an upcaster for every step.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from eventsourcing.utils import resolve_topic

from slaclock.config import read_policy
from slaclock.domain import ticket as ticket_module
from slaclock.projections import schema_version
from slaclock.projections.api_tokens import Principal, TokenStore
from slaclock.projections.store import TicketStore
from slaclock.projections.tables import UPSERT_META
from tests.conftest import Cli

OLD = Path(__file__).parents[1] / "fixtures" / "old_release"
CONFIG = OLD / "slaclock.toml"


def _meta(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT key, value FROM sla_meta").fetchall())


def _version(*argv: str, store: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if store is not None:
        env["SLACLOCK_STORE"] = store
    return subprocess.run(
        [sys.executable, "-m", "slaclock", "--version", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_a_new_store_records_its_schema_version(store_url: str, tmp_path: Path) -> None:
    cli = Cli(CONFIG, store_url, tmp_path)
    assert cli.json("tickets") == []
    done = _version("--store", store_url)
    assert done.returncode == 0, done.stderr
    current = schema_version.STORE_SCHEMA_VERSION
    assert done.stdout.splitlines()[1] == (
        f"store schema version {current} (this slaclock reads up to {current})"
    )


def test_an_old_store_gets_its_version_recorded(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(OLD / "store.db", db)
    assert schema_version.KEY not in _meta(db)
    assert "not recorded yet" in _version(store=f"sqlite:///{db}").stdout
    Cli(CONFIG, f"sqlite:///{db}", tmp_path).json("tickets")
    assert _meta(db)[schema_version.KEY] == str(schema_version.STORE_SCHEMA_VERSION)


def test_a_store_from_a_newer_slaclock_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "newer.db"
    shutil.copy(OLD / "store.db", db)
    newer = schema_version.STORE_SCHEMA_VERSION + 1
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO sla_meta VALUES (?, ?)", [schema_version.KEY, str(newer)])
    before = _meta(db)
    done = Cli(CONFIG, f"sqlite:///{db}", tmp_path).run("tickets")
    assert done.returncode == 2
    assert f"written by a newer slaclock (store schema version {newer}" in done.stderr
    assert "Traceback" not in done.stderr
    assert _meta(db) == before


def test_an_older_store_is_upgraded_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a version 2 and its step registered, a version-1 store is upgraded when opened,
    once, and records version 2."""
    db = tmp_path / "old.db"
    shutil.copy(OLD / "store.db", db)
    steps: list[int] = []

    def one_to_two(cursor: object, dialect: object) -> None:
        steps.append(1)
        cursor.execute("INSERT INTO sla_meta VALUES ('upgraded', 'yes')")  # type: ignore[attr-defined]

    monkeypatch.setattr(schema_version, "STORE_SCHEMA_VERSION", 2)
    monkeypatch.setattr(schema_version, "UPGRADES", {1: one_to_two})
    policy = read_policy(CONFIG).policy
    for _ in range(2):
        TicketStore(f"sqlite:///{db}", policy).close()
    assert steps == [1]
    assert _meta(db)[schema_version.KEY] == "2"
    assert _meta(db)["upgraded"] == "yes"


def test_version_names_no_store_that_does_not_exist(tmp_path: Path) -> None:
    done = _version(store=f"sqlite:///{tmp_path / 'none.db'}")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_every_stored_event_class_declares_its_version_and_upcasters() -> None:
    """A stored shape that changes must raise ``class_version`` and bring its upcaster; the
    classes checked are the ones the old-release store holds."""
    with sqlite3.connect(OLD / "store.db") as conn:
        topics = [row[0] for row in conn.execute("SELECT DISTINCT topic FROM stored_events")]
    stored = {resolve_topic(topic) for topic in topics}
    ticket = ticket_module.Ticket
    assert stored == {ticket.Registered, ticket.FactsRecorded, ticket.AlertsReconciled}
    for cls in stored:
        declared = [base for base in cls.__mro__ if "class_version" in vars(base)]
        assert declared and declared[0].__module__ == cls.__module__, cls.__name__
        for step in range(1, cls.class_version):
            assert callable(getattr(cls, f"upcast_v{step}_v{step + 1}", None)), cls.__name__


def test_an_old_store_takes_a_new_ticket_and_still_verifies(tmp_path: Path) -> None:
    """Events under old and new topics side by side: replay finds every ticket."""
    db = tmp_path / "old.db"
    shutil.copy(OLD / "store.db", db)
    cli = Cli(CONFIG, f"sqlite:///{db}", tmp_path)
    before = len(cli.json("tickets"))
    event = {
        "event_id": "new-ticket-0001",
        "type": "ticket.created",
        "ticket_id": "T-9001",
        "customer_id": "acme",
        "priority": 2,
        "occurred_at": "2025-10-03T10:00:00+02:00",
    }
    done = cli.run("ingest", "-", "--json", stdin=json.dumps(event) + "\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["accepted"] == 1
    with sqlite3.connect(db) as conn:
        topics = {row[0] for row in conn.execute("SELECT DISTINCT topic FROM stored_events")}
    assert "domain.ticket:Ticket.Registered" in topics
    assert "slaclock.domain.ticket:Ticket.Registered" in topics
    verified = cli.json("replay", "--verify")
    assert verified["ok"] is True, verified
    assert cli.json("replay")["rebuilt"] == before + 1
    assert len(cli.json("tickets")) == before + 1


def test_tokens_of_a_schema_3_store_are_kept_and_can_be_scoped_to_a_source(
    store_url: str,
) -> None:
    """3 -> 4 adds ``sla_api_tokens.source`` to a token table made before it (the old
    tokens keep their scope); a store without the table is upgraded all the same."""
    policy = read_policy(CONFIG).policy
    store = TicketStore(store_url, policy)
    token = TokenStore(store).create(customer="acme")[0]
    with store.write() as cursor:
        cursor.execute(store.dialect.sql("ALTER TABLE {p}sla_api_tokens DROP COLUMN source"))
        cursor.execute(store.dialect.sql(UPSERT_META), [schema_version.KEY, "3"])
    store.close()
    store = TicketStore(store_url, policy)  # upgraded here
    try:
        version = store.query("SELECT value FROM {p}sla_meta WHERE key = ?", [schema_version.KEY])
        assert version[0]["value"] == str(schema_version.STORE_SCHEMA_VERSION)
        tokens = TokenStore(store)
        found = tokens.verify(token)
        assert found is not None and (found.customer_id, found.source) == ("acme", None)
        relay = tokens.create(source="open")[0]
        assert tokens.verify(relay) == Principal(relay.split("_")[1], None, False, "open")
        with store.write() as cursor:  # the step again: nothing to do
            schema_version.add_token_sources(cursor, store.dialect)
    finally:
        store.close()
