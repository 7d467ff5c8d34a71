"""A large recompute runs in worker processes beside the live read model: its result equals
a serial recompute, readers in other processes answer of exactly one version meanwhile,
events stored meanwhile reach the new model, and two processes never recompute at once
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slaclock.bootstrap import adopt_into, policy_factory
from slaclock.config import parse_policy
from slaclock.domain.facts import Fact
from slaclock.domain.policy_diff import Change, Scope
from slaclock.domain.ticket import Ticket
from slaclock.projections import row_workers
from slaclock.projections.batch import PolicyMoved
from slaclock.projections.event_pages import EventPages
from slaclock.projections.policy_versions import (
    Adoption,
    Runner,
    Touched,
    _recompute,
    adopt_policy,
    last_change,
)
from slaclock.projections.recompute import select_tickets
from slaclock.projections.recompute_lease import acquire, renew
from slaclock.projections.store import TicketStore
from slaclock.projections.verify import verify
from tests.conftest import AS_OF, CONFIG, EVENTS, Cli

FASTER_P1 = ('{ 1 = "3h", 2 = "6h"', '{ 1 = "30m", 2 = "6h"')  # plan 'professional'
# a ticket of that plan stored while the recompute runs: met under 3h, breached under 30m
LATE_TICKET = [
    {"event_id": "evt-9001", "type": "ticket.created", "ticket_id": "T-3999",
     "occurred_at": "2025-09-10T10:00:00+02:00", "customer_id": "initech", "priority": 1,
     "channel": "phone"},
    {"event_id": "evt-9002", "type": "ticket.acknowledged", "ticket_id": "T-3999",
     "occurred_at": "2025-09-10T11:00:00+02:00"},
]  # fmt: skip
WORK_LOG = {"event_id": "w1", "type": "ticket.work_logged", "ticket_id": "T-2001",
            "occurred_at": "2025-09-10T10:00:00+02:00", "minutes": 25, "mode": "remote",
            "actor": "ann"}  # fmt: skip
REPORT = ("report", "compliance", "--month", "2025-09", "--as-of", AS_OF, "--json")


def _changed(tmp_path: Path) -> Path:
    path = tmp_path / "changed.toml"
    path.write_text(CONFIG.read_text().replace(*FASTER_P1))
    return path


def _late_events(tmp_path: Path) -> Path:
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in LATE_TICKET))
    return path


def _unversioned(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("policy_version", "policy_pending")}


def _start_held(config: Path, store: str, tmp_path: Path, **env: str) -> tuple:
    """A command under ``config`` whose recompute stops after its first shard until the
    hold file is deleted; returns (process, hold file) once it got there."""
    hold = tmp_path / "hold"
    hold.touch()
    environment = {
        **os.environ,
        "SLACLOCK_TEST_FAULT": "recompute-hold",
        "SLACLOCK_TEST_HOLD": str(hold),
        "SLACLOCK_RECOMPUTE_BESIDE_FROM": "0",  # the sample's few tickets go beside too
        **env,
    }
    command = [sys.executable, "-m", "slaclock", "--config", str(config), "--store", store]
    process = subprocess.Popen(
        [*command, *REPORT], cwd=tmp_path, env=environment, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not Path(f"{hold}.reached").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the recompute never reached the hold"
        time.sleep(0.05)
    return process, hold


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_parallel_full_recompute_equals_a_serial_one(
    store_url: str, tmp_path: Path, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(row_workers, "start_method", lambda: method)
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    changed = _changed(tmp_path)
    loaded = parse_policy(changed.read_text(), str(changed))
    store = TicketStore(store_url, loaded.policy)
    try:
        runner = Runner(  # every ticket (no comparison), two workers, two tickets a shard
            policy_factory=policy_factory(loaded, str(changed)), workers=2, beside_from=0, shard=2
        )
        adoption = adopt_policy(store, loaded.version, loaded.text, int(time.time()), None, runner)
        assert adoption.full and adoption.workers == 2
        assert adoption.recomputed == len(store.ticket_ids()) > 10
        assert last_change(store)["workers"] == 2
        result = verify(store)  # every row of every ticket against a serial recompute
        assert result.ok and result.policy_version == loaded.version
        tables = store.query(
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name LIKE ?",
            ["sla_%_next"],
        ) if "postgres" in store_url else store.query(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE name LIKE ?", ["sla_%_next"]
        )  # fmt: skip
        assert tables[0]["n"] == 0  # the shadow tables are gone
    finally:
        store.close()
    fresh = Cli(changed, f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    fresh.json("ingest", str(EVENTS), "--clock", "event")
    mine = Cli(changed, store_url, tmp_path)
    assert mine.json(*REPORT[:-1]) == fresh.json(*REPORT[:-1])
    assert mine.json("tickets", "--as-of", AS_OF) == fresh.json("tickets", "--as-of", AS_OF)


def test_a_parallel_recompute_deletes_the_rows_a_change_removes(
    store_url: str, tmp_path: Path
) -> None:
    work = tmp_path / "work.jsonl"  # a work log, whose row is then spoilt by hand
    work.write_text(json.dumps(WORK_LOG) + "\n")  # (T-2001: resolved, it keeps clock inputs)
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), str(work), "--clock", "event")
    changed = tmp_path / "no-p3.toml"  # plan 'professional' loses its P3 response target
    changed.write_text(CONFIG.read_text().replace('2 = "6h", 3 = "9h" }', '2 = "6h" }', 1))
    loaded = parse_policy(changed.read_text(), str(changed))
    store = TicketStore(store_url, loaded.policy)
    p3 = (
        "SELECT COUNT(*) AS n FROM {p}sla_clocks c JOIN {p}sla_tickets t"
        " ON t.ticket_id = c.ticket_id WHERE t.plan = 'professional' AND c.priority = 3"
        " AND c.metric = 'response'"
    )
    minutes = "SELECT minutes FROM {p}sla_work_logs WHERE event_id = 'w1'"
    try:
        before = store.query(p3)[0]["n"]
        with store.write() as cursor:
            cursor.execute(store.dialect.sql("UPDATE {p}sla_work_logs SET minutes = 250"))
        runner = Runner(
            policy_factory=policy_factory(loaded, str(changed)), workers=2, beside_from=0, shard=3
        )
        adoption = adopt_policy(store, loaded.version, loaded.text, int(time.time()), None, runner)
        assert adoption.workers == 2 and adoption.recomputed > 0
        assert before > 0 and store.query(p3)[0]["n"] == 0  # those rows are gone
        # no policy moves a work log, so a recompute from kept clock inputs leaves it:
        # finding and mending a spoilt row is replay's work, not a recompute's
        assert store.query(minutes)[0]["minutes"] == 250
        result = verify(store)  # every other row equals a serial recompute's
        assert [(d.table, d.column) for d in result.differences] == [("sla_work_logs", "minutes")]
    finally:
        store.close()


def test_a_small_recompute_selects_again_if_events_arrived_after_its_selection(
    store_url: str, tmp_path: Path
) -> None:
    old = Cli(CONFIG, store_url, tmp_path)
    old.json("ingest", str(EVENTS), "--clock", "event")
    changed = _changed(tmp_path)
    loaded = parse_policy(changed.read_text(), str(changed))
    store = TicketStore(store_url, loaded.policy)
    try:
        change = Change(
            "plan 'professional' targets changed", Scope(plans=frozenset({"professional"}))
        )
        events = EventPages(store)
        with store.read() as cursor:  # the selection, as adopt_policy makes it
            mark = events.last_position(cursor)
            selected = select_tickets(cursor, store, change.scope)
        old.json("ingest", str(_late_events(tmp_path)), "--clock", "event")  # then T-3999
        adoption = Adoption(loaded.version, store.policy_version())
        adoption.changes = [Touched(change.what, frozenset(selected))]
        _recompute(store, loaded.text, int(time.time()), adoption, [change], mark)
        assert "T-3999" not in selected and "T-3999" in adoption.changes[0].tickets
        assert verify(store).ok and store.policy_version() == loaded.version
    finally:
        store.close()


def test_a_batch_computed_under_another_policy_version_is_not_stored(
    store_url: str, tmp_path: Path
) -> None:
    old = Cli(CONFIG, store_url, tmp_path)
    old.json("ingest", str(EVENTS), "--clock", "event")
    loaded_old = parse_policy(CONFIG.read_text(), str(CONFIG))
    writer = TicketStore(store_url, loaded_old.policy)
    writer.version = loaded_old.version  # as a long-running writer under the old version
    try:
        Cli(_changed(tmp_path), store_url, tmp_path).json("policy", "status")  # switches
        count = "SELECT COUNT(*) AS n FROM {p}sla_tickets"
        before = writer.query(count)[0]["n"]
        created = Fact(
            "evt-9101", "ticket.created", datetime(2025, 9, 10, 8, tzinfo=UTC), "initech", 1
        )
        ticket, _ = Ticket.register("T-3998", [created], datetime.now(UTC))
        with pytest.raises(PolicyMoved) as refused:
            writer.save([ticket], [("evt-9101", "T-3998")])
        assert refused.value.expected == loaded_old.version != refused.value.stored
        assert writer.query(count)[0]["n"] == before  # nothing of the batch was written
        assert writer.load_ticket("T-3998") is None
    finally:
        writer.close()


def test_readers_answer_of_one_version_while_a_recompute_runs(
    store_url: str, tmp_path: Path
) -> None:
    old = Cli(CONFIG, store_url, tmp_path)
    old.json("ingest", str(EVENTS), "--clock", "event")
    changed = _changed(tmp_path)
    new_version = parse_policy(changed.read_text(), "x").version
    fresh = Cli(changed, f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    fresh.json("ingest", str(EVENTS), "--clock", "event")
    fresh.json("ingest", str(_late_events(tmp_path)), "--clock", "event")
    before = old.json(*REPORT[:-1])
    old_version = before["policy_version"]

    process, hold = _start_held(changed, store_url, tmp_path)
    try:
        # a reader under the old configuration: the old rows, a newer version pending
        during = old.json(*REPORT[:-1])
        assert _unversioned(during) == _unversioned(before)
        assert during["policy_version"] == old_version
        assert during["policy_pending"] == new_version
        # a second process under the new configuration does not recompute: it answers under
        # its version from the events, and says who is applying it
        second = Cli(changed, store_url, tmp_path).run("policy", "status", "--json")
        assert second.returncode == 0, second.stderr
        assert "another process" in second.stderr and "configuration changed" not in second.stderr
        status = json.loads(second.stdout)
        assert status["policy_version"] == old_version
        assert status["recompute"]["policy_version"] == new_version
        # a consumer keeps storing events (under the old configuration) meanwhile
        old.json("ingest", str(_late_events(tmp_path)), "--clock", "event")
        assert process.poll() is None  # still held: nothing switched yet
        assert old.json(*REPORT[:-1])["policy_version"] == old_version
    finally:
        hold.unlink()
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "configuration changed" in err and "again (events stored meanwhile)" in err
    assert _unversioned(json.loads(out)) == _unversioned(fresh.json(*REPORT[:-1]))

    after = Cli(changed, store_url, tmp_path)
    assert after.json(*REPORT[:-1]) == fresh.json(*REPORT[:-1])  # the late ticket included
    assert after.json("policy", "status")["policy_pending"] is None
    assert after.json("policy", "status")["last_change"]["caught_up"] >= 1
    store = TicketStore(store_url, parse_policy(changed.read_text(), "x").policy)
    try:
        assert verify(store).ok
    finally:
        store.close()


def test_a_crashed_recompute_blocks_others_until_its_lease_expires(
    store_url: str, tmp_path: Path
) -> None:
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    changed = _changed(tmp_path)
    lease = 10.0
    process, hold = _start_held(changed, store_url, tmp_path, SLACLOCK_RECOMPUTE_LEASE=str(lease))
    started = time.monotonic()
    process.send_signal(signal.SIGKILL)  # a crash in the middle: the lease stays behind
    process.communicate(timeout=30)
    hold.unlink()

    second = Cli(changed, store_url, tmp_path).run("policy", "status", "--json")
    assert second.returncode == 0, second.stderr
    assert "another process" in second.stderr and "configuration changed" not in second.stderr
    assert time.monotonic() - started < lease  # the lease was still live

    time.sleep(max(0.0, lease + 0.2 - (time.monotonic() - started)))
    third = Cli(changed, store_url, tmp_path).run("policy", "status", "--json")
    assert third.returncode == 0, third.stderr
    assert "configuration changed" in third.stderr  # the expired lease did not stop it
    status = json.loads(third.stdout)
    assert status["policy_version"] == status["config_version"]
    assert status["recompute"] is None
    store = TicketStore(store_url, parse_policy(changed.read_text(), "x").policy)
    try:
        assert verify(store).ok
    finally:
        store.close()


def test_the_lease_has_one_owner_and_an_expired_one_is_taken_over(
    store_url: str, tmp_path: Path
) -> None:
    seconds = 60.0
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    store = TicketStore(store_url, parse_policy(CONFIG.read_text(), "x").policy)
    try:
        assert acquire(store, "first", "v2", seconds) is None
        held = acquire(store, "second", "v2", seconds)
        assert held is not None and held.owner == "first"
        assert renew(store, "first", "v2", 0.2)
        time.sleep(0.3)  # first's lease expires
        assert acquire(store, "second", "v3", seconds) is None
        assert not renew(store, "first", "v2", seconds)  # first lost it: it must not switch
    finally:
        store.close()


def test_a_command_whose_lease_was_taken_over_ends_with_one_line_and_code_6(
    store_url: str, tmp_path: Path
) -> None:
    """A one-shot command stalled beyond its lease while applying a change: another process
    took the lease over; the command stops with exit code 6, one line, no traceback."""
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    changed = _changed(tmp_path)
    process, hold = _start_held(changed, store_url, tmp_path, SLACLOCK_RECOMPUTE_LEASE="1")
    _take_over_once_expired(store_url, "intruder", 1.0)
    hold.unlink()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 6, err
    assert "Traceback" not in err and "lease" in err
    assert err.strip().splitlines()[-1].startswith("slaclock: applying policy version ")


def test_a_lost_lease_during_adoption_lets_serve_and_consume_go_on(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``go_on`` (serve, consume): a lease taken over while adopting is looked at again: the
    adoption is then busy with the other process's recompute, answered from the old version."""
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    changed = _changed(tmp_path)
    loaded = parse_policy(changed.read_text(), str(changed))
    hold = tmp_path / "hold"
    hold.touch()
    for name, value in (("SLACLOCK_TEST_FAULT", "recompute-hold"), ("SLACLOCK_TEST_HOLD",
        str(hold)), ("SLACLOCK_RECOMPUTE_BESIDE_FROM", "0"), ("SLACLOCK_RECOMPUTE_WORKERS",
        "0"), ("SLACLOCK_RECOMPUTE_LEASE", "1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    store = TicketStore(store_url, loaded.policy)
    result: list = []
    adopting = threading.Thread(target=lambda: result.append(adopt_into(store, loaded, True)))
    try:
        adopting.start()
        deadline = time.monotonic() + 60
        while not Path(f"{hold}.reached").exists():
            assert adopting.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        _take_over_once_expired(store_url, "intruder", 1.0)
        hold.unlink()
        adopting.join(60)
        assert result, "the adoption did not return"
        adoption = result[0]
        assert adoption.busy is not None and adoption.busy.owner == "intruder"
        assert store.policy_version() == parse_policy(CONFIG.read_text(), "x").version
    finally:
        store.close()


def _take_over_once_expired(store_url: str, owner: str, seconds: float) -> None:
    """Wait for a lease of ``seconds`` to expire, then take it for ``owner`` (a minute)."""
    store = TicketStore(store_url, parse_policy(CONFIG.read_text(), "x").policy)
    try:
        time.sleep(seconds + 0.3)
        assert acquire(store, owner, "v-other", 60) is None
    finally:
        store.close()
