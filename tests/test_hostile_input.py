"""One bad event never takes its batch down: mutated events through ``ingest``.

Property: whatever the mix of good events and mutants (see ``tests/hostile.py``), ingesting
it raises nothing, accounts for every line (read = accepted + duplicates + rejected), rejects
every mutant with its reason (dead letter with the exact bytes when they are not UTF-8), and
stores exactly what ingesting only the good lines stores. In-process (the ``Ingestor`` that
``slaclock ingest`` runs) for many drawn sets, then through the command line for a few:
a file read by the decoding process, and stdin. Last, an Avro record that decodes but
cannot be an event is rejected alone, in a file and on Kafka.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import fastavro
from hypothesis import HealthCheck, given, settings

from slaclock.consumers.avro import CURRENT_SCHEMA_ID, current_schema, to_record
from slaclock.consumers.dead_letter import DeadLetterFile
from slaclock.consumers.ingest import Ingestor, IngestStats
from slaclock.consumers.kafka_wire import WireDecoder, encode_record
from slaclock.consumers.sources import read_events
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG
from tests.helpers import contract_policy
from tests.hostile import HostileSet, hostile_sets, stored

POLICY = contract_policy()
SETTINGS = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
}


def ingest(path: Path, store_url: str, dead_letter: Path) -> IngestStats:
    store = TicketStore(store_url, POLICY)
    try:
        sink = DeadLetterFile(dead_letter)
        return Ingestor(store, POLICY, sink, batch_size=5, clock="event").run(
            read_events(str(path))
        )
    finally:
        store.close()


def check_dead_letters(drawn: HostileSet, dead_letter: Path, name: str) -> None:
    """One dead letter per mutant, in order, with its reason, its line number and, for
    bytes that are not UTF-8, those exact bytes."""
    text = dead_letter.read_text(encoding="utf-8") if dead_letter.exists() else ""
    letters = [json.loads(line) for line in text.splitlines()]
    mutants = [
        (number, line, reason)
        for number, (line, reason) in enumerate(zip(drawn.lines, drawn.expected, strict=True), 1)
        if reason is not None
    ]
    assert len(letters) == len(mutants)
    for letter, (number, line, reason) in zip(letters, mutants, strict=True):
        assert letter["source"] == f"{name}:{number}"
        assert letter["reason"].startswith(reason), (letter["reason"], reason)
        if reason.startswith("not valid UTF-8"):
            assert base64.b64decode(letter["raw_base64"]) == line
            assert letter["raw"] == line.decode("utf-8", errors="replace")
        else:
            assert "raw_base64" not in letter
            assert letter["raw"] == line.decode()


def assert_accounted(got: dict[str, int], good: dict[str, int], drawn: HostileSet) -> None:
    assert got["read"] == len(drawn.lines)
    assert got["read"] == got["accepted"] + got["duplicates"] + got["rejected"]
    assert got["rejected"] == good["rejected"] + drawn.mutants
    assert (got["accepted"], got["duplicates"]) == (good["accepted"], good["duplicates"])


@settings(max_examples=40, **SETTINGS)
@given(drawn=hostile_sets())
def test_mutated_events_are_rejected_one_by_one(drawn: HostileSet) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "all.jsonl").write_bytes(drawn.jsonl())
        (base / "good.jsonl").write_bytes(drawn.jsonl(drawn.good_lines))
        got = ingest(base / "all.jsonl", f"sqlite:///{base / 'all.db'}", base / "all-dl.jsonl")
        good = ingest(base / "good.jsonl", f"sqlite:///{base / 'good.db'}", base / "good-dl.jsonl")
        assert good.rejected == 0, (base / "good-dl.jsonl").read_text()
        assert_accounted(got.as_dict(), good.as_dict(), drawn)
        check_dead_letters(drawn, base / "all-dl.jsonl", str(base / "all.jsonl"))
        assert stored(f"sqlite:///{base / 'all.db'}", POLICY) == stored(
            f"sqlite:///{base / 'good.db'}", POLICY
        )


def run_ingest(store_url: str, cwd: Path, *argv: str, stdin: bytes | None = None) -> Any:
    command = [sys.executable, "-m", "slaclock", "--config", str(CONFIG), "--store", store_url]
    done = subprocess.run(
        [*command, "ingest", *argv, "--clock", "event", "--json"],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=300,
    )
    assert "Traceback" not in done.stderr.decode(errors="replace"), done.stderr
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@settings(max_examples=2, **SETTINGS)
@given(drawn=hostile_sets(every_kind=True))
def test_the_command_line_on_files_and_stdin(drawn: HostileSet) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "all.jsonl").write_bytes(drawn.jsonl())
        (base / "good.jsonl").write_bytes(drawn.jsonl(drawn.good_lines))
        good_store = f"sqlite:///{base / 'good.db'}"
        good = run_ingest(good_store, base, str(base / "good.jsonl"))
        expected = stored(good_store, POLICY)
        for name, store, argv, stdin in [
            ("file", "file.db", [str(base / "all.jsonl"), "--decoder", "process"], None),
            ("stdin", "stdin.db", ["-"], drawn.jsonl()),
        ]:
            letters = base / f"{name}-dl.jsonl"
            store_url = f"sqlite:///{base / store}"
            got = run_ingest(store_url, base, *argv, "--dead-letter", str(letters), stdin=stdin)
            assert_accounted(got, good, drawn)
            source = str(base / "all.jsonl") if name == "file" else "stdin"
            check_dead_letters(drawn, letters, source)
            assert stored(store_url, POLICY) == expected


# --------------------------------------------------------------------------------- Avro
CREATED = {
    "event_id": "av-1",
    "type": "ticket.created",
    "ticket_id": "AV-1",
    "occurred_at": "2025-10-06T12:00:00+02:00",
    "customer_id": "acme",
    "priority": 2,
}


def far_offset(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An Avro record whose offset cannot be one (more than a day)."""
    name, record = to_record(event)
    return name, {**record, "occurred_at_offset_minutes": 5000}


def test_an_avro_record_whose_offset_is_not_one_is_rejected_alone(tmp_path: Path) -> None:
    events = [
        to_record(CREATED),
        far_offset(dict(CREATED, event_id="av-2", ticket_id="AV-2")),
        to_record(dict(CREATED, event_id="av-3", ticket_id="AV-3")),
    ]
    path = tmp_path / "events.avro"
    with path.open("wb") as out:
        fastavro.writer(out, current_schema(), events)
    letters = tmp_path / "dead.jsonl"
    stats = ingest(path, f"sqlite:///{tmp_path / 'store.db'}", letters)
    assert (stats.read, stats.accepted, stats.rejected) == (3, 2, 1)
    letter = json.loads(letters.read_text())
    assert letter["source"] == f"{path}:#2"
    assert letter["reason"] == "occurred_at_offset_minutes: 5000 is not a UTC offset"
    assert json.loads(letter["raw"])["event_id"] == "av-2"

    value = encode_record(current_schema(), CURRENT_SCHEMA_ID, far_offset(CREATED))
    raw = WireDecoder().decode(value, "t/0/7")  # the same on Kafka: rejected, not raised
    assert raw.error == "occurred_at_offset_minutes: 5000 is not a UTC offset"


# ------------------------------------------------------------------------- command line
def test_arguments_that_are_not_utf8_are_refused_naming_the_option(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    base = [sys.executable, "-m", "slaclock", "--config", str(CONFIG), "--store", store]
    for argv, message in [
        (["ticket", b"T-\xff1"], "ticket_id: not valid UTF-8: byte 0xff at offset 2"),
        (
            ["report", "compliance", "--month", "2025-09", "--customer", b"\xed\xa0\x80"],
            "customer: not valid UTF-8: byte 0xed at offset 0",
        ),
    ]:
        done = subprocess.run([*base, *argv], capture_output=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr.decode() == f"slaclock: error: {message}\n"
    # a file name is any bytes: such a file is read
    events = tmp_path / os.fsdecode(b"events-\xff.jsonl")
    events.write_text(json.dumps(CREATED) + "\n")
    done = subprocess.run(
        [*base, "ingest", os.fsencode(events), "--json"], capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["accepted"] == 1
