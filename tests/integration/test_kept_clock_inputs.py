"""A configuration change recomputes resolved tickets from the clock inputs their rows keep
(``projections.clock_inputs``), not from their events: the rows equal a serial recompute's,
a spoilt input is what ``replay --verify`` finds, and rows without any (a store from before
they were kept) are folded from events and get them (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import shutil
import time
from functools import partial
from pathlib import Path

from slaclock.bootstrap import changes_from, policy_factory
from slaclock.config import LoadedPolicy, parse_policy
from slaclock.projections.policy_versions import Runner, adopt_policy
from slaclock.projections.store import TicketStore
from slaclock.projections.verify import verify
from tests.conftest import CONFIG, EVENTS, Cli

OLD = Path(__file__).parents[1] / "fixtures" / "old_release"
# plan 'advanced' (T-2001 to T-2003, resolved in the sample): faster P2 targets
FASTER = ('2 = "3h", 3 = "6h" }', '2 = "2h", 3 = "6h" }')
KEPT = "SELECT ticket_id FROM {p}sla_tickets WHERE clock_inputs IS NOT NULL ORDER BY ticket_id"


DEFAULT = ("default_priority = 3", "default_priority = 1")  # every ticket
PLAN_OF_GLOBEX = (
    'customer = "globex"\nplan = "advanced"',
    'customer = "globex"\nplan = "business"',
)


def _changed(tmp_path: Path, change: tuple[str, str] = FASTER) -> LoadedPolicy:
    text = CONFIG.read_text()
    assert text.count(change[0]) == 1
    return parse_policy(text.replace(*change), str(tmp_path / "changed.toml"))


def _recompute_in_workers(store: TicketStore, loaded: LoadedPolicy, tickets: int = 3) -> None:
    runner = Runner(
        policy_factory=policy_factory(loaded, "changed.toml"), workers=2, beside_from=0, shard=1
    )
    now, compare = int(time.time()), partial(changes_from, loaded)
    adoption = adopt_policy(store, loaded.version, loaded.text, now, compare, runner)
    assert adoption.workers == 2 and adoption.recomputed == tickets  # 3: the plan's


def test_a_change_of_every_ticket_equals_a_serial_recompute(store_url: str, tmp_path: Path) -> None:
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    loaded = _changed(tmp_path, DEFAULT)
    store = TicketStore(store_url, loaded.policy)
    try:
        assert len(store.query(KEPT)) == 4
        _recompute_in_workers(store, loaded, len(store.ticket_ids()))
        result = verify(store)  # every row against tickets folded from their events
        assert result.ok and result.policy_version == loaded.version
    finally:
        store.close()


def test_a_contract_change_moves_the_rows_of_resolved_tickets(
    store_url: str, tmp_path: Path
) -> None:
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    loaded = _changed(tmp_path, PLAN_OF_GLOBEX)
    store = TicketStore(store_url, loaded.policy)
    plans = "SELECT DISTINCT plan FROM {p}sla_tickets WHERE customer_id = 'globex'"
    try:
        assert [row["plan"] for row in store.query(plans)] == ["advanced"]
        _recompute_in_workers(store, loaded)  # T-2001 to T-2003, all resolved
        assert [row["plan"] for row in store.query(plans)] == ["business"]
        assert verify(store).ok  # clocks too, against tickets folded from their events
    finally:
        store.close()


def test_a_change_reads_the_kept_inputs(store_url: str, tmp_path: Path) -> None:
    Cli(CONFIG, store_url, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    loaded = _changed(tmp_path)
    store = TicketStore(store_url, loaded.policy)
    try:
        assert [row["ticket_id"] for row in store.query(KEPT)] == [
            "T-1003", "T-2001", "T-2002", "T-2003"
        ]  # the resolved tickets  # fmt: skip
        with store.write() as cursor:  # T-2002 now keeps T-2001's inputs
            cursor.execute(
                store.dialect.sql(
                    "UPDATE {p}sla_tickets SET clock_inputs = (SELECT clock_inputs FROM"
                    " {p}sla_tickets WHERE ticket_id = 'T-2001') WHERE ticket_id = 'T-2002'"
                )
            )
        _recompute_in_workers(store, loaded)
        result = verify(store)
        spoilt = {(d.table, d.column) for d in result.differences}
        assert {d.ticket_id for d in result.differences} == {"T-2002"}
        # its clocks were computed from the inputs it kept (T-2001's), not its events
        assert ("sla_tickets", "clock_inputs") in spoilt and ("sla_clocks", "deadline") in spoilt
        shown = json.loads(json.dumps([d.as_dict() for d in result.differences]))
        inputs = next(d for d in shown if d["column"] == "clock_inputs")
        assert isinstance(inputs["live"], str) and inputs["live"] != inputs["rebuilt"]  # hex
    finally:
        store.close()


def test_rows_from_before_inputs_were_kept_are_folded_from_events(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copy(OLD / "store.db", db)  # written by an older release: no clock inputs
    loaded = _changed(tmp_path)
    store = TicketStore(f"sqlite:///{db}", parse_policy(CONFIG.read_text(), "old").policy)
    try:
        assert store.query(KEPT) == []
        assert verify(store).ok  # rows without inputs are not a difference
        resolved = store.query("SELECT ticket_id FROM {p}sla_tickets WHERE resolved_at > 0")
        store.policy = loaded.policy
        _recompute_in_workers(store, loaded)
        assert verify(store).ok
        kept = {row["ticket_id"] for row in store.query(KEPT)}
        plan = store.query("SELECT ticket_id FROM {p}sla_tickets WHERE plan = 'advanced'")
        moved = {row["ticket_id"] for row in plan} & {row["ticket_id"] for row in resolved}
        assert moved and kept == moved  # the recomputed resolved tickets keep them now
    finally:
        store.close()
