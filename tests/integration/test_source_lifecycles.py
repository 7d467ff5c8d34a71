"""Webhook lifecycles per source kind, through the command line, down to the clocks.

Each ``tests/fixtures/sources/hooks/<kind>/payloads.jsonl`` is one ticket's life as the desk sends
it (its README says what every line is): creation, acknowledgement by a comment, a priority
change, pause and resume by status, resolution, a redelivered body, reopen, resolution again, and
one body that cannot be mapped. The four lifecycles follow the same business timeline in four
weeks of November 2025, so the clocks below are worked out once, by hand, on the office calendar
of ``hooks/slaclock.toml`` (Mon-Fri 09:00-17:00 Berlin time, CET = UTC+1, no holidays).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from slaclock.domain.facts import (
    ACKNOWLEDGED,
    CREATED,
    PAUSED,
    REOPENED,
    REPRIORITISED,
    RESOLVED,
    RESUMED,
)
from tests.conftest import FIXTURES, Cli

HOOKS = FIXTURES / "sources" / "hooks"
EVENTS = [CREATED, ACKNOWLEDGED, REPRIORITISED, PAUSED, RESUMED, RESOLVED, REOPENED, RESOLVED]
# (day after Monday, Berlin time, milliseconds) of each event above; the fixtures use these times
TIMELINE = [
    (0, "09:20:00", 120),
    (0, "09:50:00", 560),
    (0, "10:10:00", 705),
    (0, "11:10:00", 310),
    (1, "10:40:00", 50),
    (1, "12:30:00", 290),
    (2, "09:30:00", 100),
    (2, "10:15:00", 400),
]


@dataclass(frozen=True)
class Lifecycle:
    kind: str
    source: str
    ticket: str
    customer: str
    monday: str  # the Monday the ticket is created on
    millis: bool  # whether the desk sends milliseconds (Jira, Zammad) or whole seconds
    bad_line: int  # the unmappable body
    bad_path: str  # what its rejection reason must name
    paused_change: str  # the change id rule 8 derives the ticket.paused event id from

    @property
    def payloads(self) -> Path:
        return HOOKS / self.kind / "payloads.jsonl"

    def at(self, days: int, clock: str, ms: int = 0) -> datetime:
        day = datetime.fromisoformat(f"{self.monday}T{clock}+01:00") + timedelta(days=days)
        return day + timedelta(milliseconds=ms if self.millis else 0)

    def line(self, number: int) -> str:
        return self.payloads.read_text(encoding="utf-8").splitlines()[number - 1]


def _body_hash(lifecycle: Lifecycle, number: int) -> str:
    """Rule 8's change id of a body without an id of its own: SHA-256 of the canonical JSON."""
    canonical = json.dumps(
        json.loads(lifecycle.line(number)),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


LIFECYCLES = [
    Lifecycle(
        "jira",
        "jsd",
        "SUP-481",
        "acme",
        "2025-11-03",
        True,
        11,
        "fields.customfield_10010.value",
        "31882",
    ),  # changelog.id
    Lifecycle(
        "zendesk",
        "zd",
        "48213",
        "globex",
        "2025-11-10",
        False,
        14,
        "organization_id",
        "9c1f4a86-7d3b-4b5e-a0c2-6e8f2d4b7a68",
    ),  # the event's id
    Lifecycle("zammad", "zm", "91007", "initech", "2025-11-17", True, 12, "priority.name", ""),
    Lifecycle("glpi", "gl", "5120", "umbrella", "2025-11-24", False, 12, "parent_item", ""),
]
PAUSED_LINE = {"zammad": 5, "glpi": 5}  # snapshot kinds: the body of the pause


def _cli(lifecycle: Lifecycle, store_url: str, tmp_path: Path) -> Cli:
    config = tmp_path / "slaclock.toml"
    config.write_text(
        (HOOKS / "slaclock.toml").read_text()
        + "\n"
        + (HOOKS / lifecycle.kind / "source.toml").read_text()
    )
    return Cli(config, store_url, tmp_path)


def _instant(value: str | None) -> int | None:
    """Whole seconds since the epoch: clocks drop sub-second parts."""
    return None if value is None else int(datetime.fromisoformat(value).timestamp())


def _as_of(lifecycle: Lifecycle) -> str:
    return lifecycle.at(7, "12:00:00").isoformat()  # the next Monday: every clock has stopped


kinds = pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=[x.kind for x in LIFECYCLES])


@kinds
def test_lifecycle_ends_with_the_clocks_worked_out_by_hand(lifecycle, store_url, tmp_path):
    cli = _cli(lifecycle, store_url, tmp_path)
    got = cli.json("ingest", "--source", lifecycle.source, str(lifecycle.payloads))
    # eight distinct events; the redelivered resolution is the one duplicate; one body rejected
    assert (got["accepted"], got["duplicates"], got["pending"], got["rejected"]) == (8, 1, 0, 1)

    ticket = cli.json("ticket", lifecycle.ticket, "--as-of", _as_of(lifecycle))
    assert (ticket["customer_id"], ticket["plan"], ticket["priority"]) == (
        lifecycle.customer,
        "desk",
        1,
    )
    response, resolution = ticket["clocks"]["response"], ticket["clocks"]["resolution"]
    mon = lifecycle.at
    # Response: created Mon 09:20, first public agent comment Mon 09:50 -> 30 min = 1800 s.
    # It stopped before the priority change, so it keeps P2's 4 h = 14400 s: deadline Mon 13:20,
    # 14400 - 1800 = 12600 s left.
    assert response["status"] == "met"
    assert (response["priority"], response["target_seconds"]) == (2, 14400)
    assert (response["elapsed_seconds"], response["remaining_seconds"]) == (1800, 12600)
    assert _instant(response["started_at"]) == _instant(mon(0, "09:20:00").isoformat())
    assert _instant(response["stopped_at"]) == _instant(mon(0, "09:50:00").isoformat())
    assert _instant(response["deadline"]) == _instant(mon(0, "13:20:00").isoformat())
    # Resolution: recalculated as P1 (8 h = 28800 s) at Mon 10:10. Counted:
    #   Mon 09:20-11:10 (paused)           110 min
    #   Tue 10:40 (resumed)-12:30 (solved) 110 min   (Mon 11:10 - Tue 10:40 paused, not counted)
    #   Wed 09:30 (reopened)-10:15 (solved) 45 min   (Tue 12:30 - Wed 09:30 resolved, not counted)
    #   = 265 min = 15900 s; 28800 - 15900 = 12900 s = 3 h 35 min left: deadline Wed 13:50.
    assert resolution["status"] == "met"
    assert (resolution["priority"], resolution["target_seconds"]) == (1, 28800)
    assert (resolution["elapsed_seconds"], resolution["remaining_seconds"]) == (15900, 12900)
    assert _instant(resolution["stopped_at"]) == _instant(mon(2, "10:15:00").isoformat())
    assert _instant(resolution["deadline"]) == _instant(mon(2, "13:50:00").isoformat())

    report = cli.json("report", "compliance", "--month", "2025-11", "--as-of", _as_of(lifecycle))
    rows = {
        (r["metric"], r["priority"]): (r["met"], r["breached"])
        for r in report["rows"]
        if r["customer_id"] == lifecycle.customer
    }
    assert rows == {("response", 2): (1, 0), ("resolution", 1): (1, 0)}


@kinds
def test_delivering_everything_again_adds_only_duplicates(lifecycle, store_url, tmp_path):
    cli = _cli(lifecycle, store_url, tmp_path)
    cli.json("ingest", "--source", lifecycle.source, str(lifecycle.payloads))
    again = cli.json("ingest", "--source", lifecycle.source, str(lifecycle.payloads))
    # a second run, with snapshots and first-only markers read back from the store: the nine
    # events of the first run (eight plus the redelivery's) come again with the same ids
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 9, 1)
    ticket = cli.json("ticket", lifecycle.ticket, "--as-of", _as_of(lifecycle))
    assert ticket["clocks"]["resolution"]["elapsed_seconds"] == 15900


@kinds
def test_unmappable_body_is_dead_lettered_with_a_reason_naming_the_path(
    lifecycle, store_url, tmp_path
):
    cli = _cli(lifecycle, store_url, tmp_path)
    dead = tmp_path / "dead.jsonl"
    got = cli.json(
        "ingest", "--source", lifecycle.source, str(lifecycle.payloads), "--dead-letter", str(dead)
    )
    assert got["rejected"] == 1
    records = [json.loads(line) for line in dead.read_text().splitlines()]
    assert len(records) == 1, records
    assert records[0]["raw"] == lifecycle.line(lifecycle.bad_line)
    assert records[0]["source"].endswith(f":{lifecycle.bad_line}")
    assert lifecycle.bad_path in records[0]["reason"], records[0]["reason"]


@kinds
def test_translate_prints_each_event_once_with_rule_8_ids(lifecycle, tmp_path):
    cli = _cli(lifecycle, f"sqlite:///{tmp_path / 'unused.db'}", tmp_path)
    done = cli.run("translate", lifecycle.source, str(lifecycle.payloads), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    lines = len(lifecycle.payloads.read_text().splitlines())
    assert summary == {"read": lines, "emitted": 8, "rejected": 1}

    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["type"] for e in events] == EVENTS
    assert {e["ticket_id"] for e in events} == {lifecycle.ticket}
    assert [_instant(e["occurred_at"]) for e in events] == [
        _instant(lifecycle.at(*when).isoformat()) for when in TIMELINE
    ]
    if lifecycle.millis:  # kept exactly, milliseconds included
        exact = [datetime.fromisoformat(e["occurred_at"]) for e in events]
        assert exact == [lifecycle.at(*when) for when in TIMELINE]
    assert (events[0]["customer_id"], events[0]["priority"], events[2]["priority"]) == (
        lifecycle.customer,
        2,
        1,
    )
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == 8
    assert all(re.fullmatch(rf"{lifecycle.source}:[0-9a-f]{{40}}", i) for i in ids), ids
    change = lifecycle.paused_change or _body_hash(lifecycle, PAUSED_LINE[lifecycle.kind])
    digest = hashlib.sha256(f"{lifecycle.ticket}\n{change}\n{PAUSED}".encode()).hexdigest()
    assert events[3]["event_id"] == f"{lifecycle.source}:{digest[:40]}"


def test_jira_comment_created_acknowledges_a_known_ticket(store_url, tmp_path):
    """Jira's ``comment_created`` carries a trimmed issue (no customer field, no ``created``, no
    reporter): on a ticket slaclock already knows, the comment still acknowledges it."""
    jira = LIFECYCLES[0]
    cli = _cli(jira, store_url, tmp_path)
    dead = tmp_path / "dead.jsonl"
    path = HOOKS / "jira" / "comment_created.jsonl"
    got = cli.json("ingest", "--source", "jsd", str(path), "--dead-letter", str(dead))
    assert (got["accepted"], got["rejected"]) == (2, 0), dead.read_text()
    ticket = cli.json("ticket", jira.ticket, "--as-of", _as_of(jira))
    # created Mon 09:20, comment_created's timestamp Mon 09:50: 30 min = 1800 s, within P2's 4 h
    assert ticket["clocks"]["response"]["status"] == "met"
    assert ticket["clocks"]["response"]["elapsed_seconds"] == 1800
