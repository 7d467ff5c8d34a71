"""Tickets folded straight from the stored JSON equal those ``eventsourcing`` folds.

``projections.stored_tickets`` decodes the stored shapes it knows itself and leaves every
other ticket to the library. Over whole stores (the sample data on SQLite and PostgreSQL, the
old release's store with its old topics, the benchmark's plain, varied and replies streams) every
ticket, and every read-model row computed from it, must be the same both ways; stored
events it must not decode itself (a stored ``class_version``, a transcoded value it does
not know) must go to the library, and still give the same ticket.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from slaclock.config import read_policy
from slaclock.domain.ticket import Ticket
from slaclock.projections import stored_tickets
from slaclock.projections.event_pages import EventPages, snapshot
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG, EVENTS, Cli
from tests.integration.test_old_release import old_postgres_store  # noqa: F401 (a fixture)

ROOT = Path(__file__).parents[2]
OLD = ROOT / "tests" / "fixtures" / "old_release"
FACT_FIELDS = ("event_id", "type", "occurred_at", "customer_id", "priority", "details", "at")


def _fact(fact: Any) -> tuple[Any, ...]:
    values = tuple(getattr(fact, k) for k in FACT_FIELDS)
    return (*values, fact.occurred_at.utcoffset(), fact.recorded_at)


def _state(ticket: Ticket) -> tuple[Any, ...]:
    """Everything a folded ticket holds (fact equality leaves out ``recorded_at``)."""
    return (
        type(ticket),
        ticket.id,
        ticket.version,
        ticket.created_on,
        ticket.modified_on,
        ticket.pending_events,
        ticket.ticket_id,
        [_fact(f) for f in ticket.facts],
        {k: (_fact(v.fact), v.reason, v.at) for k, v in ticket.voided.items()},
        ticket.alerts,
        sorted(vars(ticket)),
    )


def _compare_all(url: str, config: Path = CONFIG, page: int = 300) -> tuple[int, int]:
    """Fold every stored ticket both ways and compare tickets and rows; (tickets, tickets
    the fast way left to the library)."""
    store = TicketStore(url, read_policy(config).policy)
    events = EventPages(store)
    calls = 0
    by_library = stored_tickets._by_library

    def counted(mapper: Any, rows: list[Any]) -> Any:
        nonlocal calls
        calls += 1
        return by_library(mapper, rows)

    stored_tickets._by_library = counted  # type: ignore[assignment]
    try:
        with snapshot(store) as cursor:
            keys = events.changed_since(cursor, 0)
            total = 0
            for start in range(0, len(keys), page):
                chunk = keys[start : start + page]
                before = calls
                fast = events.load(cursor, chunk)
                left = calls - before
                slow = events.load(cursor, chunk, library=True)
                calls = before + left  # the library's own folds are not fallbacks
                assert len(fast) == len(slow) == len(chunk)
                assert [_state(t) for t in fast] == [_state(t) for t in slow]
                assert store.rows_for(fast) == store.rows_for(slow)
                total += len(fast)
    finally:
        stored_tickets._by_library = by_library  # type: ignore[assignment]
        store.close()
    return total, calls


def test_sample_store_folds_the_same_both_ways(store_url: str, cli: Cli) -> None:
    cli.run("ingest", str(EVENTS))
    tickets, left = _compare_all(store_url, page=7)
    assert tickets > 5
    assert left == 0


def test_old_release_store_folds_the_same_both_ways(tmp_path: Path) -> None:
    shutil.copy(OLD / "store.db", tmp_path / "store.db")
    tickets, left = _compare_all(f"sqlite:///{tmp_path / 'store.db'}", OLD / "slaclock.toml")
    assert tickets > 0
    assert left == 0  # old topics (``domain.ticket:Ticket...``) are known shapes too


@pytest.mark.postgres
def test_old_release_postgres_store_folds_the_same_both_ways(
    request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue("old_postgres_store")  # the old release's dump, restored
    tickets, left = _compare_all(url, OLD / "slaclock.toml")
    assert tickets > 0
    assert left == 0


@pytest.mark.parametrize("stream", ["plain", "varied", "replies"])
def test_bench_streams_fold_the_same_both_ways(stream: str, tmp_path: Path) -> None:
    config = ROOT / "bench" / {"plain": "bench.toml"}.get(stream, f"bench-{stream}.toml")
    path = tmp_path / "events.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "generate.py"), "--events", "6000", "--seed", "3",
         "--format", "jsonl", "--out", str(path), "--stream", stream, "--config", str(config)],
        check=True, capture_output=True,
    )  # fmt: skip
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Cli(config, url, tmp_path).run("ingest", str(path), "--clock", "event")
    tickets, left = _compare_all(url, config)
    assert tickets > 500
    assert left == 0


def _rewrite_first(url: str, change: Any) -> None:
    """Rewrite the stored state of the first ticket's creation with ``change``."""
    store = TicketStore(url, read_policy(CONFIG).policy)
    events = EventPages(store)
    try:
        with store.write() as cursor:
            cursor.execute(
                events.sql(
                    "SELECT originator_id, originator_version, state FROM {events}"
                    " WHERE topic LIKE ? ORDER BY originator_id LIMIT 1"
                ),
                ["%Registered"],
            )
            row = cursor.fetchall()[0]
            state = json.loads(bytes(row["state"]))
            change(state)
            cursor.execute(
                events.sql(
                    "UPDATE {events} SET state = ? WHERE originator_id = ?"
                    " AND originator_version = ?"
                ),
                [json.dumps(state).encode(), row["originator_id"], row["originator_version"]],
            )
    finally:
        store.close()


def _class_version(state: dict[str, Any]) -> None:
    state["class_version"] = 1  # a stored version: upcasters would apply, the library's job


def _decimal_detail(state: dict[str, Any]) -> None:
    details = state["facts"][0]["_data_"].setdefault("details", {})
    details["actor"] = {"_type_": "decimal_str", "_data_": "1.5"}  # not a shape it decodes


@pytest.mark.parametrize("change", [_class_version, _decimal_detail])
def test_shapes_it_does_not_know_go_to_the_library(change: Any, store_url: str, cli: Cli) -> None:
    cli.run("ingest", str(EVENTS))
    _rewrite_first(store_url, change)
    tickets, left = _compare_all(store_url)
    assert tickets > 5
    assert left == 1
