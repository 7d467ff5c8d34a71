"""Hostile input through the command line: files read by the decoding process and stdin
reject every mutant with its reason and store what the good lines store; arguments that are
not UTF-8 are refused naming the option."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import given, settings

from tests.conftest import CONFIG
from tests.hostile import (
    POLICY,
    SETTINGS,
    HostileSet,
    assert_accounted,
    check_dead_letters,
    hostile_sets,
    run_ingest,
    stored,
)

CREATED = {
    "event_id": "av-1",
    "type": "ticket.created",
    "ticket_id": "AV-1",
    "occurred_at": "2025-10-06T12:00:00+02:00",
    "customer_id": "acme",
    "priority": 2,
}


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
