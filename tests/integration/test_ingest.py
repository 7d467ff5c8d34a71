"""Ingest through the command line: pending events, voiding, Avro, stdin, as-of answers."""

from __future__ import annotations

import json
from datetime import datetime

import fastavro

from slaclock.consumers.avro import current_schema, to_record
from tests.conftest import AS_OF, BAD_EVENTS, EVENTS, Cli, normalise, subset


def _write(path, events) -> str:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(path)


def _event(event_id, kind, ticket, when, **extra):
    return {
        "event_id": event_id,
        "type": f"ticket.{kind}",
        "ticket_id": ticket,
        "occurred_at": when,
        **extra,
    }


def test_pending_events_wait_for_their_creation_in_a_later_run(cli: Cli, tmp_path) -> None:
    early = _write(
        tmp_path / "early.jsonl",
        [
            _event("a1", "acknowledged", "T-1", "2025-09-01T10:30:00+02:00"),
            _event("a2", "resolved", "T-1", "2025-09-01T11:00:00+02:00"),
        ],
    )
    assert cli.json("ingest", early) == {
        "read": 2,
        "accepted": 2,
        "duplicates": 0,
        "pending": 2,
        "rejected": 0,
    }
    assert cli.run("ticket", "T-1", "--as-of", AS_OF).returncode == 1
    late = _write(
        tmp_path / "late.jsonl",
        [
            _event(
                "c1",
                "created",
                "T-1",
                "2025-09-01T10:00:00+02:00",
                customer_id="initech",
                priority=1,
            ),
        ],
    )
    assert cli.json("ingest", late)["pending"] == 0
    ticket = cli.json("ticket", "T-1", "--as-of", AS_OF)
    assert ticket["clocks"]["response"]["status"] == "met"
    assert normalise(ticket["clocks"]["response"]["stopped_at"]) == normalise(
        "2025-09-01T10:30:00+02:00"
    )


def test_pending_event_before_its_late_creation_is_voided_and_dead_lettered(cli: Cli, tmp_path):
    dead = tmp_path / "dead.jsonl"
    events = [
        _event("x1", "acknowledged", "T-2", "2025-09-01T09:00:00+02:00"),
        _event("x2", "acknowledged", "T-2", "2025-09-01T12:00:00+02:00", customer_id="acme"),
        _event("x3", "created", "T-2", "2025-09-01T10:00:00+02:00", customer_id="initech"),
    ]
    got = cli.json("ingest", _write(tmp_path / "e.jsonl", events), "--dead-letter", str(dead))
    assert got["accepted"] == 3 and got["voided"] == 2 and got["rejected"] == 0
    reasons = [json.loads(line)["reason"] for line in dead.read_text().splitlines()]
    assert reasons[0].startswith("occurred_at:") and reasons[1].startswith("customer_id:")
    ticket = cli.json("ticket", "T-2", "--as-of", AS_OF)
    assert ticket["clocks"]["response"]["status"] == "breached"  # no valid acknowledgement


def test_avro_and_stdin_give_the_same_answers_as_jsonl(cli: Cli, tmp_path) -> None:
    events = [json.loads(line) for line in EVENTS.read_text().splitlines()]
    avro = tmp_path / "events.avro"
    with avro.open("wb") as out:
        fastavro.writer(out, current_schema(), [to_record(e) for e in events])
    counts = cli.json("ingest", str(avro))
    assert subset(
        {"read": 31, "accepted": 30, "duplicates": 1, "pending": 0, "rejected": 0}, counts
    )
    from_avro = cli.json("tickets", "--as-of", AS_OF)

    other = Cli(cli.config, f"sqlite:///{tmp_path / 'json.db'}", tmp_path)
    done = other.run("ingest", "-", "--json", stdin=EVENTS.read_text())
    assert json.loads(done.stdout)["accepted"] == 30
    from_json = other.json("tickets", "--as-of", AS_OF)
    assert normalise(from_avro) == normalise(from_json)
    # the original UTC offset survives the Avro round trip
    assert from_avro[0]["clocks"]["response"]["started_at"].endswith("+02:00")


def test_damaged_avro_file_is_one_rejection_not_a_crash(cli: Cli, tmp_path) -> None:
    bad = tmp_path / "bad.avro"
    bad.write_bytes(b"Obj\x01" + b"\x00" * 40)
    done = cli.run("ingest", str(bad), "--json")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert json.loads(done.stdout)["rejected"] == 1


def test_as_of_in_the_past_equals_a_store_that_only_saw_the_past(cli: Cli, tmp_path) -> None:
    """Rows answer the present; tickets with later facts are re-evaluated for the past."""
    cut = "2025-09-10T10:40:00+02:00"
    cli.json("ingest", str(EVENTS))
    lines = EVENTS.read_text().splitlines()
    past = [
        line
        for line in lines
        if datetime.fromisoformat(json.loads(line)["occurred_at"]) <= datetime.fromisoformat(cut)
    ]
    assert 0 < len(past) < len(lines)
    other = Cli(cli.config, f"sqlite:///{tmp_path / 'past.db'}", tmp_path)
    other.json("ingest", _write(tmp_path / "past.jsonl", [json.loads(p) for p in past]))
    for argv in (
        ["tickets"],
        ["report", "compliance", "--month", "2025-09"],
        ["report", "credits", "--month", "2025-09"],
        ["ticket", "T-2001"],
    ):
        assert cli.json(*argv, "--as-of", cut) == other.json(*argv, "--as-of", cut), argv


def test_a_changed_configuration_recomputes_stored_clocks(cli: Cli, tmp_path) -> None:
    cli.json("ingest", str(EVENTS))
    before = cli.json("report", "compliance", "--month", "2025-09", "--as-of", AS_OF)
    assert {
        "customer_id": "initech",
        "metric": "response",
        "priority": 1,
        "met": 1,
        "breached": 0,
        "attainment": 1.0,
    } in before["rows"]
    # initech's P1 target becomes 30 minutes: T-3002 (acknowledged after 45 min) now breaches
    stricter = tmp_path / "stricter.toml"
    stricter.write_text(
        cli.config.read_text().replace(
            '{ 1 = "3h", 2 = "6h", 3 = "9h" }', '{ 1 = "30m", 2 = "6h", 3 = "9h" }'
        )
    )
    changed = Cli(stricter, cli.store, tmp_path)
    done = changed.run("report", "compliance", "--month", "2025-09", "--as-of", AS_OF, "--json")
    assert "plan 'professional' targets changed -> recomputed 2 tickets" in done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert {
        "customer_id": "initech",
        "metric": "response",
        "priority": 1,
        "met": 0,
        "breached": 1,
        "attainment": 0.0,
    } in rows
    again = changed.run("tickets", "--as-of", AS_OF)
    assert "recomputed" not in again.stderr  # only once per configuration change


def test_a_decoding_process_gives_the_same_store_as_decoding_inline(cli: Cli, tmp_path) -> None:
    """``--decoder process`` (a second process reads and validates) and ``inline`` store
    the same: counts, dead letters in the same order, tickets, reports, ledger."""
    events = [json.loads(line) for line in EVENTS.read_text().splitlines()]
    bad = [line for line in BAD_EVENTS.read_text().splitlines() if line.strip()]
    late = [  # a pending event voided by its late creation, and a conflict in one batch
        _event("v1", "acknowledged", "T-7", "2025-09-01T09:00:00+02:00"),
        _event("v2", "created", "T-7", "2025-09-01T10:00:00+02:00", customer_id="acme"),
        _event("v3", "created", "T-7", "2025-09-01T10:30:00+02:00", customer_id="acme"),
    ]
    lines = [json.dumps(e) for e in events[:12]] + bad + [json.dumps(e) for e in events[12:]]
    lines += [json.dumps(e) for e in late]
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join(lines) + "\n")
    avro = tmp_path / "mixed.avro"
    with avro.open("wb") as out:
        fastavro.writer(out, current_schema(), [to_record(e) for e in events + late])
    outputs = {}
    for decoder in ("inline", "process"):
        store = Cli(cli.config, f"sqlite:///{tmp_path / decoder}.db", tmp_path)
        dead = tmp_path / f"{decoder}.dead.jsonl"
        counts = [
            store.json("ingest", str(path), "--decoder", decoder, "--batch-size", "7",
                       "--dead-letter", str(dead))
            for path in (source, avro)
        ]  # fmt: skip
        outputs[decoder] = (
            counts,
            dead.read_text(),
            store.json("tickets", "--as-of", AS_OF),
            store.json("report", "credits", "--month", "2025-09", "--as-of", AS_OF),
        )
    inline, process = outputs["inline"], outputs["process"]
    assert inline[0][0]["rejected"] >= len(bad) and inline[0][0]["voided"] == 1
    assert inline[0][1]["duplicates"] == len(events) + len(late) - 1  # all seen before
    assert process == inline
