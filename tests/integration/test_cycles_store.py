"""Cycles in the store, on SQLite and PostgreSQL: the service-levels sample ingested by the
command line answers as the reference does (``sla_cycles``), ``replay --verify`` recomputes
the same cycles, and a change of ownership targets recomputes only the plan's tickets with
ownership cycles, leaving the store equal to one ingested under the new configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slaclock.bootstrap import adopt
from slaclock.config import parse_policy
from slaclock.projections.verify import verify
from tests.conftest import Cli
from tests.contract_compare import differences

SAMPLE = Path(__file__).parent.parent / "fixtures" / "service_levels"
CONFIG = SAMPLE / "slaclock.toml"
AS_OF = "2025-11-20T00:00:00Z"


@pytest.fixture
def sample(store_url: str, tmp_path: Path) -> Cli:
    cli = Cli(CONFIG, store_url, tmp_path)
    assert cli.json("ingest", str(SAMPLE / "events.jsonl"), "--clock", "event")["accepted"] == 111
    return cli


def _expected(name: str):
    return json.loads((SAMPLE / "expected" / name).read_text())


def test_tickets_and_reports_agree_and_verify_recomputes_the_cycles(sample: Cli) -> None:
    tickets = sample.json("tickets", "--as-of", AS_OF)
    assert differences(_expected("tickets_as_of_2025-11-20T00-00.json"), tickets) == []
    for month in ("2025-04", "2025-10"):
        got = sample.json("report", "ownership", "--month", month, "--as-of", AS_OF)
        assert differences(_expected(f"ownership_{month}.json"), got) == []
    l1 = sample.json("report", "ownership", "--month", "2025-04", "--group", "L1", "--as-of", AS_OF)
    assert {row["group"] for row in l1["rows"]} == {"L1"}
    checked = sample.json("replay", "--verify")
    assert checked["ok"] and checked["rows"]["sla_cycles"] == 23


def test_new_ownership_targets_move_only_tickets_with_ownership_cycles(
    sample: Cli, tmp_path: Path
) -> None:
    text = CONFIG.read_text().replace('L2 = { "*" = "8h" }', 'L2 = { "*" = "2h" }')
    assert text != CONFIG.read_text()
    changed = tmp_path / "changed.toml"
    changed.write_text(text)
    owned = {
        t["ticket_id"]
        for t in sample.json("tickets", "--as-of", AS_OF)
        if t["plan"] == "desk" and t["clocks"]["ownership"].get("cycles")
    }
    opened, adoption = adopt(sample.store, parse_policy(text, str(changed)))
    try:
        (touched,) = adoption.changes
        assert touched.what == "plan 'desk' ownership targets changed"
        assert set(touched.tickets) == owned and 0 < len(owned) < 24
        assert verify(opened).ok
    finally:
        opened.close()
    after = Cli(changed, sample.store, tmp_path).json("tickets", "--as-of", AS_OF)
    fresh = Cli(changed, f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    fresh.json("ingest", str(SAMPLE / "events.jsonl"), "--clock", "event")
    assert after == fresh.json("tickets", "--as-of", AS_OF)
    l2 = [
        cycle["target_seconds"]
        for t in after
        for cycle in t["clocks"]["ownership"].get("cycles", [])
        if cycle.get("group") == "L2" and t["plan"] == "desk"
    ]
    assert l2 and set(l2) == {7200}
