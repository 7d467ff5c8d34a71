"""Replay and verify on SQLite and PostgreSQL.

``replay --verify`` recomputes the read model from the event store and reports every
difference; ``replay`` rebuilds it in new tables and switches them in, resuming an
interrupted rebuild. Reports must not change when a correct read model is rebuilt.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest

from slaclock.bootstrap import open_store
from slaclock.cli import main
from slaclock.config import read_policy
from slaclock.projections.meta import REPLAY_MARK, REPLAY_POLICY, REPLAY_POSITION
from slaclock.projections.rebuild import NEW, ReplayError, rebuild
from slaclock.projections.store import TicketStore
from slaclock.projections.verify import verify
from tests.conftest import AS_OF, CONFIG, EVENTS, Cli

REPORTS = [
    ["report", "compliance", "--month", "2025-09", "--as-of", AS_OF],
    ["report", "credits", "--month", "2025-09", "--as-of", AS_OF],
    ["tickets", "--as-of", AS_OF],
]


def slaclock(cli: Cli, *argv: str) -> tuple[int, str]:
    """``slaclock ARGV`` in this process (exit code, stdout): the end-to-end runs in a
    subprocess (``cli.run``) are kept for a few calls, as each costs a second of imports."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--config", str(cli.config), "--store", cli.store, *argv])
    return code, out.getvalue()


def reports(cli: Cli) -> list[str]:
    """What the reports print (byte for byte)."""
    out = []
    for question in REPORTS:
        code, text = slaclock(cli, *question, "--json")
        assert code == 0
        out.append(text)
    return out


def execute(url: str, *statements: str) -> None:
    """Run SQL (``{p}`` prefix) against the store, behind the engine's back."""
    store = TicketStore(url, read_policy(CONFIG).policy)
    try:
        with store.datastore.transaction(commit=True) as cursor:
            for statement in statements:
                cursor.execute(store.dialect.sql(statement))
    finally:
        store.close()


def schema(url: str) -> tuple[set[str], set[str], dict[str, str]]:
    """(tables, indexes, sla_meta) of the store."""
    store = TicketStore(url, read_policy(CONFIG).policy)
    try:
        if store.dialect.name == "sqlite":
            rows = store.query("SELECT type, name FROM sqlite_master WHERE name LIKE 'sla_%'")
            tables = {r["name"] for r in rows if r["type"] == "table"}
            indexes = {r["name"] for r in rows if r["type"] == "index"}
        else:
            name = store.datastore.schema
            tables = {
                r["tablename"]
                for r in store.query("SELECT tablename FROM pg_tables WHERE schemaname = ?", [name])
            }
            indexes = {
                r["indexname"]
                for r in store.query(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = ?", [name]
                )
            }
        meta = {r["key"]: r["value"] for r in store.query("SELECT key, value FROM {p}sla_meta")}
        return tables, indexes, meta
    finally:
        store.close()


def verify_json(cli: Cli) -> tuple[int, dict[str, Any]]:
    code, text = slaclock(cli, "replay", "--verify", "--json")
    return code, json.loads(text)


def replay_json(cli: Cli, *argv: str) -> dict[str, Any]:
    code, text = slaclock(cli, "replay", *argv, "--json")
    assert code == 0
    return json.loads(text)


def test_verify_detects_a_corrupted_row_and_replay_repairs_it(cli: Cli) -> None:
    assert slaclock(cli, "ingest", str(EVENTS))[0] == 0
    code, result = verify_json(cli)
    assert code == 0, result
    assert result["ok"] and result["mismatches"] == 0 and result["differences"] == []
    assert result["tickets"] == 11
    assert result["rows"] == {"sla_tickets": 11, "sla_clocks": 14, "sla_work_logs": 0}
    assert result["policy_version"] == read_policy(CONFIG).version
    before = reports(cli)
    _, indexes_before, _ = schema(cli.store)

    execute(
        cli.store,
        "UPDATE {p}sla_clocks SET deadline = deadline + 60"
        " WHERE ticket_id = 'T-2001' AND metric = 'response'",
    )
    code, result = verify_json(cli)
    assert code == 1
    assert not result["ok"] and result["mismatches"] == 1
    [difference] = result["differences"]
    assert difference["table"] == "sla_clocks"
    assert (difference["ticket_id"], difference["metric"]) == ("T-2001", "response")
    assert (difference["kind"], difference["column"]) == ("changed", "deadline")
    assert difference["live"] == difference["rebuilt"] + 60
    human = cli.run("replay", "--verify")
    assert human.returncode == 1
    assert "T-2001" in human.stdout and "response" in human.stdout
    assert "deadline" in human.stdout

    done = cli.run("replay")  # the real command line, for people
    assert done.returncode == 0, done.stderr
    assert "11 tickets" in done.stdout
    replayed = replay_json(cli)  # once more: a replay of a correct model changes nothing
    assert replayed["tickets"] == 11 and replayed["rebuilt"] == 11
    assert replayed["resumed_from"] is None and replayed["caught_up"] == 0
    assert verify_json(cli)[0] == 0
    assert reports(cli) == before

    # the switch left the live names only: no _new table, same indexes, no progress marker
    tables, indexes, meta = schema(cli.store)
    assert not any(name.endswith(NEW) for name in tables | indexes)
    assert indexes == indexes_before
    assert not {REPLAY_POSITION, REPLAY_MARK, REPLAY_POLICY} & meta.keys()


def test_verify_reports_missing_and_extra_rows_and_replay_removes_them(cli: Cli, tmp_path) -> None:
    log = {
        "event_id": "w1",
        "type": "ticket.work_logged",
        "ticket_id": "T-2001",
        "occurred_at": "2025-09-10T10:00:00+02:00",
        "minutes": 25,
        "mode": "remote",
        "actor": "ann",
    }
    work = tmp_path / "work.jsonl"
    work.write_text(json.dumps(log) + "\n")
    assert slaclock(cli, "ingest", str(EVENTS), str(work))[0] == 0
    assert verify_json(cli)[1]["rows"]["sla_work_logs"] == 1
    execute(
        cli.store,
        "DELETE FROM {p}sla_clocks WHERE ticket_id = 'T-1001'",
        "DELETE FROM {p}sla_tickets WHERE ticket_id = 'T-3002'",
        "INSERT INTO {p}sla_tickets (ticket_id, last_recorded_at, pending) VALUES ('X-1', 0, 0)",
        "UPDATE {p}sla_work_logs SET minutes = 250 WHERE event_id = 'w1'",
    )
    code, result = verify_json(cli)
    assert code == 1
    found = {
        (d["table"], d["ticket_id"], json.dumps(d["key"]), d["kind"], d["column"])
        for d in result["differences"]
    }
    assert found == {
        ("sla_clocks", "T-1001", '{"ticket_id": "T-1001", "metric": "response"}', "missing", None),
        ("sla_tickets", "T-3002", '{"ticket_id": "T-3002"}', "missing", None),
        ("sla_tickets", "X-1", '{"ticket_id": "X-1"}', "extra", None),
        ("sla_work_logs", "T-2001", '{"event_id": "w1"}', "changed", "minutes"),
    }
    missing = next(d for d in result["differences"] if d["ticket_id"] == "T-1001")
    assert missing["rebuilt"]["deadline"] and missing["live"] is None  # the row it should be
    assert replay_json(cli)["tickets"] == 11  # T-3002 is found in the event store
    assert verify_json(cli)[0] == 0
    tickets = json.loads(slaclock(cli, "tickets", "--as-of", AS_OF, "--json")[1])
    assert [t["ticket_id"] for t in tickets].count("T-3002") == 1


def test_interrupted_replay_resumes_and_catches_up(cli: Cli, tmp_path) -> None:
    lines = EVENTS.read_text().splitlines()
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    first.write_text("\n".join(lines[:20]) + "\n")
    rest.write_text("\n".join(lines[20:]) + "\n")
    assert slaclock(cli, "ingest", str(first))[0] == 0

    # a rebuild that stops after two pages, as if the process had been killed
    store = open_store(cli.store, read_policy(CONFIG))
    try:
        partial = rebuild(store, batch_size=2, max_pages=2)
        assert not partial.complete and partial.tickets == 4 and partial.rebuilt == 4
        assert verify(store).ok  # the live read model is untouched meanwhile
    finally:
        store.close()
    tables, _, meta = schema(cli.store)
    assert {f"sla_tickets{NEW}", f"sla_clocks{NEW}"} <= tables
    assert meta[REPLAY_POSITION] and meta[REPLAY_POLICY] == read_policy(CONFIG).version

    # more events arrive (new tickets and tickets already rebuilt), a live row goes bad
    assert slaclock(cli, "ingest", str(rest))[0] == 0
    expected = reports(cli)
    execute(cli.store, "UPDATE {p}sla_clocks SET accrued = 0 WHERE ticket_id = 'T-2002'")
    assert verify_json(cli)[0] == 1

    resumed = replay_json(cli, "--batch-size", "2")
    assert resumed["resumed_from"] == meta[REPLAY_POSITION]
    assert resumed["tickets"] == 11
    assert resumed["caught_up"] >= 1  # tickets rebuilt before the late events were stored
    assert resumed["rebuilt"] - resumed["caught_up"] <= 11 - 4  # the 4 done are not redone
    assert verify_json(cli)[0] == 0
    assert reports(cli) == expected
    tables, _, meta = schema(cli.store)
    assert not any(name.endswith(NEW) for name in tables)
    assert not {REPLAY_POSITION, REPLAY_MARK, REPLAY_POLICY} & meta.keys()


def test_events_stored_while_replay_runs_are_caught_up(cli: Cli, tmp_path) -> None:
    lines = EVENTS.read_text().splitlines()
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    first.write_text("\n".join(lines[:20]) + "\n")
    rest.write_text("\n".join(lines[20:]) + "\n")
    assert slaclock(cli, "ingest", str(first))[0] == 0
    ingested: list[int] = []

    def meanwhile(tickets: int) -> None:  # after the first page: another writer ingests
        if not ingested:
            ingested.append(slaclock(cli, "ingest", str(rest))[0])

    store = open_store(cli.store, read_policy(CONFIG))
    try:
        result = rebuild(store, batch_size=3, progress=meanwhile)
    finally:
        store.close()
    assert ingested == [0]
    assert result.complete and result.tickets == 11 and result.caught_up >= 1
    assert verify_json(cli)[0] == 0


def test_replay_refuses_to_switch_when_the_configuration_changed_meanwhile(cli: Cli) -> None:
    assert slaclock(cli, "ingest", str(EVENTS))[0] == 0
    before = reports(cli)

    def another_process_adopts_a_new_policy(tickets: int) -> None:
        execute(
            cli.store, "UPDATE {p}sla_meta SET value = 'elsewhere' WHERE key = 'policy_version'"
        )

    store = open_store(cli.store, read_policy(CONFIG))
    try:
        with pytest.raises(ReplayError, match="configuration changed"):
            rebuild(store, batch_size=4, progress=another_process_adopts_a_new_policy)
    finally:
        store.close()
    tables, _, meta = schema(cli.store)
    assert meta["policy_version"] == "elsewhere"  # the switch was rolled back: old tables live
    assert f"sla_tickets{NEW}" in tables and meta[REPLAY_POLICY] == read_policy(CONFIG).version
    execute(cli.store, f"UPDATE {{p}}sla_meta SET value = '{read_policy(CONFIG).version}'"
            " WHERE key = 'policy_version'")  # fmt: skip
    assert reports(cli) == before
    assert verify_json(cli)[0] == 0
    finished = replay_json(cli)  # the filled tables are kept: only the switch remains
    assert finished["resumed_from"] is not None and finished["rebuilt"] == 0
    assert reports(cli) == before and verify_json(cli)[0] == 0
