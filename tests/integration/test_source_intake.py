"""Sources into a real store (SQLite and PostgreSQL): ``ingest --source`` of each sample gives
its clocks and counts the redelivered line as duplicates; kept snapshots and first-only
markers survive a restart; the kept state is written in the batch's transaction."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from slaclock.config import parse_policy
from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.source_intake import Payload, SourceIntake
from slaclock.projections.schema_version import KEY, STORE_SCHEMA_VERSION
from slaclock.projections.store import TicketStore
from tests.conftest import Cli
from tests.integration.test_old_release import OLD, old_postgres_store  # noqa: F401
from tests.unit.test_source_samples import NAMES, SAMPLES, config_text, lines

# kind -> (ticket, response clock status, elapsed seconds): worked out by hand from the
# sample's creation and acknowledgement on the plan's calendar.
CLOCKS = {
    "jira": ("NWS-2291", "met", 2077),  # 09:12:33 -> 09:47:10 on office hours
    "zendesk": ("20931", "met", 282),  # restarted at 07:58:30 (priority 1), ack 08:03:12
    "zammad": ("73014", "met", 1909),  # 08:20:14.527 -> 08:52:03.118
    "glpi": ("3318", "met", 988),  # 10:02:37 -> 10:19:05
    "debezium": ("HD-50917", "met", 972),  # 13:04:55.418 -> 13:21:07.902
}
AS_OF = "2025-12-01T00:00:00Z"


def cli_for(kind: str, store_url: str, tmp_path: Path) -> Cli:
    config = tmp_path / f"{kind}.toml"
    config.write_text(config_text(kind))
    return Cli(config, store_url, tmp_path)


@pytest.mark.parametrize("kind", list(CLOCKS))
def test_ingest_source_gives_the_clocks_and_counts_redelivery_as_duplicates(
    kind: str, store_url: str, tmp_path: Path
) -> None:
    cli = cli_for(kind, store_url, tmp_path)
    payloads = str(SAMPLES / kind / "payloads.jsonl")
    events = len((SAMPLES / kind / "expected_events.jsonl").read_text().splitlines())
    first = cli.json("ingest", "--source", NAMES[kind], payloads)
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (events, 1, 0)
    again = cli.json("ingest", "--source", NAMES[kind], payloads)
    assert (again["accepted"], again["rejected"]) == (0, 0)
    assert again["duplicates"] == again["read"] == first["read"]
    ticket, status, elapsed = CLOCKS[kind]
    clock = cli.json("ticket", ticket, "--as-of", AS_OF)["clocks"]["response"]
    assert (clock["status"], clock["elapsed_seconds"]) == (status, elapsed)
    explained = cli.json("explain", ticket, "--as-of", AS_OF)
    assert len(explained["events"]) == events
    assert all(e["source"].startswith(f"{NAMES[kind]}: ") for e in explained["events"])


def test_first_only_markers_and_snapshots_survive_a_restart(store_url: str, tmp_path: Path) -> None:
    """GLPI: status 2 acknowledges once; re-entering it in a later run (a new process, the
    state read back from the store) acknowledges nothing, and the snapshot before it is
    known, so the return from Pending is a resumption."""
    cli = cli_for("glpi", store_url, tmp_path)
    glpi = lines("glpi")
    (tmp_path / "one.jsonl").write_bytes(b"\n".join(glpi[:4]) + b"\n")
    (tmp_path / "two.jsonl").write_bytes(b"\n".join(glpi[4:]) + b"\n")
    assert cli.json("ingest", "--source", "glpi", "one.jsonl")["accepted"] == 4
    second = cli.json("ingest", "--source", "glpi", "two.jsonl")
    assert (second["accepted"], second["duplicates"]) == (2, 1)
    events = cli.json("explain", "3318", "--as-of", AS_OF)["events"]
    assert [e["type"] for e in events] == [
        "ticket.created",
        "ticket.acknowledged",
        "ticket.reprioritised",
        "ticket.paused",
        "ticket.resumed",
        "ticket.resolved",
    ]


def test_a_late_snapshot_after_a_restart_adds_the_transitions_it_reveals(
    store_url: str, tmp_path: Path
) -> None:
    """Zammad line 4 (waiting for reply) arrives in a later run than line 6 (open again):
    the late snapshot adds the pause, and line 6 compared with it again adds the resumption."""
    cli = cli_for("zammad", store_url, tmp_path)
    zammad = lines("zammad")
    (tmp_path / "early.jsonl").write_bytes(b"\n".join([*zammad[:3], zammad[5]]) + b"\n")
    (tmp_path / "late.jsonl").write_bytes(zammad[3] + b"\n" + zammad[6] + b"\n")
    assert cli.json("ingest", "--source", "zam", "early.jsonl")["accepted"] == 3
    assert cli.json("ingest", "--source", "zam", "late.jsonl")["accepted"] == 3
    types = [e["type"] for e in cli.json("explain", "73014", "--as-of", AS_OF)["events"]]
    assert types[-3:] == ["ticket.paused", "ticket.resumed", "ticket.resolved"]


def test_source_intake_take_stores_state_with_the_events_and_reports_per_payload(
    store_url: str,
) -> None:
    loaded = parse_policy(config_text("zammad"), "zammad.toml")
    store = TicketStore(store_url, loaded.policy)
    try:
        sink = DeadLetterList()
        intake = SourceIntake(loaded.sources["zam"], Ingestor(store, loaded.policy, sink))
        bodies = [Payload(body, f"POST /hooks/zam #{n}") for n, body in enumerate(lines("zammad"))]
        bad = Payload(b'{"ticket": {"number": "1"}}', "POST /hooks/zam bad")
        result = intake.take([*bodies[:2], bad])
        assert result.as_dict() == {
            "read": 3, "emitted": 2, "accepted": 2, "duplicates": 0, "rejected": 1,
        }  # fmt: skip
        assert result.reasons == {2: "ticket.updated_at: change time missing"}
        assert [source for source, _, _ in sink.records] == ["POST /hooks/zam bad"]
        rows = store.query("SELECT source_name, ticket_id, state FROM {p}sla_source_state")
        assert [(r["source_name"], r["ticket_id"]) for r in rows] == [("zam", "73014")]
        assert len(json.loads(rows[0]["state"])["snapshots"]) == 2
        again = intake.take(bodies[1:2])
        assert (again.accepted, again.duplicates) == (0, 1)
    finally:
        store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store written by an earlier release (schema version 1, no sources table)."""
    if request.param == "sqlite":
        shutil.copy(OLD / "store.db", tmp_path / "store.db")
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("old_postgres_store")


def test_an_older_store_is_upgraded_in_place_and_takes_sources(
    old_store: str, tmp_path: Path
) -> None:
    cli = cli_for("zendesk", old_store, tmp_path)
    done = cli.json("ingest", "--source", "zen", str(SAMPLES / "zendesk" / "payloads.jsonl"))
    assert (done["accepted"], done["duplicates"]) == (6, 1)
    store = TicketStore(old_store, parse_policy(config_text("zendesk"), "z").policy)
    try:
        version = store.query("SELECT value FROM {p}sla_meta WHERE key = ?", [KEY])
        assert version[0]["value"] == str(STORE_SCHEMA_VERSION)
        assert len(store.query("SELECT ticket_id FROM {p}sla_source_state")) == 1
        kept = store.query("SELECT ticket_id, clock_inputs FROM {p}sla_tickets")  # 2 -> 3
        assert any(row["clock_inputs"] is None for row in kept)  # the old release's rows
        credits = store.query("SELECT attainment FROM {p}sla_ledger")  # 3 -> 4
        assert credits and all(row["attainment"] is None for row in credits)
    finally:
        store.close()
    assert cli.json("replay", "--verify")["ok"] is True


def test_small_batches_from_stdin_see_the_state_earlier_batches_kept(
    store_url: str, tmp_path: Path
) -> None:
    """Two payloads per transaction: each batch's kept snapshots are read back by the next."""
    cli = cli_for("zammad", store_url, tmp_path)
    payloads = (SAMPLES / "zammad" / "payloads.jsonl").read_text()
    done = cli.run("ingest", "--source", "zam", "-", "--batch-size", "2", "--json", stdin=payloads)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "read": 7, "accepted": 6, "duplicates": 1, "pending": 0, "rejected": 0,
    }  # fmt: skip
    events = cli.json("explain", "73014", "--as-of", AS_OF)["events"]
    assert [e["type"] for e in events] == [
        "ticket.created",
        "ticket.acknowledged",
        "ticket.reprioritised",
        "ticket.paused",
        "ticket.resumed",
        "ticket.resolved",
    ]
