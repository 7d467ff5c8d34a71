"""``replay`` takes part in the recompute lease: while another process applies a
configuration change it refuses (exit 6, one line) or waits ``--wait`` seconds, never
computing rows under one version and labelling them with another; and while it holds the
lease no other process recomputes (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from slaclock import exit_codes
from slaclock.config import parse_policy
from slaclock.projections.recompute_lease import acquire, release
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG, EVENTS, Cli
from tests.integration.test_recompute_readers import _changed, _start_held


def test_replay_during_another_process_recompute_refuses_or_waits(
    store_url: str, tmp_path: Path
) -> None:
    old = Cli(CONFIG, store_url, tmp_path)
    old.json("ingest", str(EVENTS), "--clock", "event")
    old_version = old.json("policy", "status")["policy_version"]
    changed = _changed(tmp_path)
    new = Cli(changed, store_url, tmp_path)
    process, hold = _start_held(changed, store_url, tmp_path)
    try:
        for argv in (("replay", "--verify"), ("replay",)):
            done = new.run(*argv)
            assert done.returncode == exit_codes.RECOMPUTE_BUSY, done.stdout + done.stderr
            line = done.stderr.strip().splitlines()[-1]
            assert line.startswith(f"slaclock: {argv[-1] if len(argv) == 1 else 'replay --verify'}")
            assert "holds the recompute lease" in line and "--wait" in line
            assert done.stdout == "" and "Traceback" not in done.stderr
        assert old.json("policy", "status")["policy_version"] == old_version  # nothing switched
        threading.Timer(1.0, hold.unlink).start()  # the recompute goes on after a second
        waited = new.run("replay", "--verify", "--wait", "120", "--json")
        assert waited.returncode == 0, waited.stdout + waited.stderr
        result = json.loads(waited.stdout)
        assert (
            result["ok"]
            and result["policy_version"] == parse_policy(changed.read_text(), "x").version
        )
    finally:
        hold.unlink(missing_ok=True)
        process.communicate(timeout=120)
    assert process.returncode == 0


def test_no_recompute_starts_while_a_replay_holds_the_lease(store_url: str, tmp_path: Path) -> None:
    old = Cli(CONFIG, store_url, tmp_path)
    old.json("ingest", str(EVENTS), "--clock", "event")
    loaded = parse_policy(CONFIG.read_text(), str(CONFIG))
    store = TicketStore(store_url, loaded.policy)
    try:  # as `replay` holds it: the read model's own version
        assert acquire(store, "replaying", loaded.version, 60) is None
        new = Cli(_changed(tmp_path), store_url, tmp_path)
        done = new.run("policy", "status", "--json")
        assert done.returncode == 0, done.stderr
        assert "rebuilding or verifying the read model" in done.stderr
        assert json.loads(done.stdout)["policy_version"] == loaded.version  # not recomputed
        busy = new.run("replay", "--verify")
        assert busy.returncode == exit_codes.RECOMPUTE_BUSY, busy.stderr
        release(store, "replaying")
        done = new.run("replay", "--verify", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "configuration changed" in done.stderr  # applied first, then verified
        assert json.loads(done.stdout)["ok"]
    finally:
        store.close()
