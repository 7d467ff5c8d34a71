"""A configuration change recomputes only the tickets it can move, and the result equals a
store ingested under the new configuration from the start (SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from slaclock.bootstrap import adopt
from slaclock.config import parse_policy
from slaclock.domain.policy_version import legacy_version
from slaclock.projections.policy_versions import last_change
from slaclock.projections.verify import verify
from tests.conftest import AS_OF, CONFIG, EVENTS, Cli

NEWCO = """
[[contracts]]
customer = "newco"
plan = "business"
from = "2025-01-01"
monthly_fee = "100.00"
"""
OFFICE_CLOSED = 'closed = ["2025-12-24", "2025-12-31"]'

# name, edit of the sample configuration, the change reported, the tickets recomputed
CASES = [
    ("comment", lambda text: text + "\n# a comment\n", None, set()),
    ("new customer", lambda text: text + NEWCO, "contract for 'newco' added", set()),
    (
        "one plan's target",
        lambda text: text.replace('{ 1 = "3h", 2 = "6h"', '{ 1 = "30m", 2 = "6h"'),
        "plan 'professional' targets changed",
        {"T-3001", "T-3002"},
    ),
    (
        "one calendar's hours",
        lambda text: text.replace('"mon-sun" = "07:00-19:00"', '"mon-sun" = "07:00-20:00"'),
        "calendar 'faults-lu' hours changed",
        {"T-4001"},
    ),
    (
        "one added closed date",
        lambda text: text.replace(OFFICE_CLOSED, OFFICE_CLOSED.replace("[", '["2025-09-18", ')),
        "calendar 'office' closed dates 2025-09-18 changed",
        {"T-2003"},
    ),
    (
        "credit terms",
        lambda text: text.replace('per_breach = "5%"', 'per_breach = "7%"'),
        "plan 'advanced' credit or hour terms changed (ledger)",
        set(),
    ),
]  # fmt: skip


def _unversioned(tickets: list[dict]) -> list[dict]:
    return [{k: v for k, v in t.items() if k != "policy_version"} for t in tickets]


def _answers(cli: Cli) -> dict:
    return {
        "tickets": cli.json("tickets", "--as-of", AS_OF),
        "compliance": cli.json("report", "compliance", "--month", "2025-09", "--as-of", AS_OF),
    }


@pytest.mark.parametrize(("name", "edit", "what", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_change_recomputes_exactly_what_it_can_move(tmp_path: Path, name, edit, what, expected):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    Cli(CONFIG, store, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    new_text = edit(CONFIG.read_text())
    assert new_text != CONFIG.read_text()
    changed = tmp_path / "changed.toml"
    changed.write_text(new_text)

    before = Cli(CONFIG, store, tmp_path).json("tickets", "--as-of", AS_OF)
    opened, adoption = adopt(store, parse_policy(new_text, str(changed)))
    recomputed = {ticket for touched in adoption.changes for ticket in touched.tickets}
    assert recomputed == expected and adoption.recomputed == len(expected)
    assert not adoption.full
    if what is None:  # same canonical policy: same version, nothing to adopt
        assert not adoption.changed and adoption.changes == []
    else:
        assert [touched.what for touched in adoption.changes] == [what]
        assert last_change(opened)["changes"] == [{"what": what, "tickets": len(expected)}]
    assert verify(opened).ok  # the read model equals a recompute of every ticket

    fresh = Cli(changed, f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    fresh.json("ingest", str(EVENTS), "--clock", "event")
    after = _answers(Cli(changed, store, tmp_path))
    assert after == _answers(fresh)
    moved = {t["ticket_id"] for t in _unversioned(after["tickets"])} - {
        t["ticket_id"] for t in _unversioned(before) if t in _unversioned(after["tickets"])
    }
    assert moved <= expected  # what was not recomputed answers as before
    if name in ("one plan's target", "one added closed date"):
        assert moved  # and the change did move something


def test_the_change_is_said_on_stderr_with_the_tickets_it_touched(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    Cli(CONFIG, store, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    changed = tmp_path / "changed.toml"
    changed.write_text(CONFIG.read_text() + NEWCO)
    done = Cli(changed, store, tmp_path).run("tickets", "--as-of", AS_OF)
    assert done.returncode == 0, done.stderr
    assert "contract for 'newco' added -> 0 tickets" in done.stderr
    assert "0 tickets recomputed" in done.stderr


def test_a_holidays_package_upgrade_recomputes_the_calendars_with_holidays(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    Cli(CONFIG, store, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    text = CONFIG.read_text()
    installed = parse_policy(text, "installed")
    upgraded = parse_policy(text, "upgraded", holidays_version="999.0")
    assert upgraded.version != installed.version  # same text, another holidays version

    opened, adoption = adopt(store, upgraded)
    assert adoption.changed and not adoption.full
    moved = {touched.what: touched.tickets for touched in adoption.changes}
    office = "calendar 'office' holidays (the holidays package changed version) changed"
    assert moved[office] == {"T-2003", "T-3001", "T-3002"}  # T-2001/2 count on 'always' (P1)
    assert not any("'always'" in what for what in moved)  # no holiday rule: nothing moves
    # T-2001/2 (on 'always' only) and T-5001 (its customer has no contract) stay as they are
    assert adoption.recomputed == 8
    assert verify(opened).ok


def test_a_store_of_an_earlier_release_adopts_the_new_version_without_recomputing(
    tmp_path: Path,
) -> None:
    """Earlier releases hashed the text: the first open notices another version, finds the
    same parsed policy and recomputes nothing."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    Cli(CONFIG, store, tmp_path).json("ingest", str(EVENTS), "--clock", "event")
    text = CONFIG.read_text()
    loaded = parse_policy(text, str(CONFIG))
    with sqlite3.connect(tmp_path / "store.db") as db:  # as an earlier release left it
        for table, column in (("sla_meta", "value"), ("sla_policies", "version")):
            db.execute(
                f"UPDATE {table} SET {column} = ? WHERE {column} = ?",
                [legacy_version(text), loaded.version],
            )
        db.execute("UPDATE sla_policy_log SET version = ?", [legacy_version(text)])
    opened, adoption = adopt(store, loaded)
    assert adoption.previous == legacy_version(text) and adoption.version == loaded.version
    assert adoption.recomputed == 0 and adoption.changes == [] and not adoption.full
    assert opened.policy_version() == loaded.version
