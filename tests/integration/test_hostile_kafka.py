"""One bad message never stops a partition: mutated events through ``slaclock consume``.

Each drawn set (good events and one mutant of every kind at least, see ``tests/hostile.py``)
is published message by message, bytes as they are, to a fresh topic on the real broker;
``slaclock consume`` runs until idle. It must exit 0 without a traceback, count every
message (read = accepted + duplicates + rejected), dead-letter every mutant with its reason
and its original bytes, and store exactly what ingesting only the good lines stores.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings

from tests.hostile import (
    POLICY,
    SETTINGS,
    HostileSet,
    assert_accounted,
    hostile_sets,
    run_ingest,
    stored,
)
from tests.kafka_helpers import (
    CONFIG,
    REPO,
    SLACLOCK,
    consume_args,
    create_topic,
    read_topic,
    require_kafka,
    send_all,
    unique,
)

pytestmark = pytest.mark.kafka


@pytest.fixture(autouse=True, scope="module")
def _kafka() -> None:
    require_kafka()


@settings(max_examples=2, **SETTINGS)
@given(drawn=hostile_sets(every_kind=True))
def test_mutated_messages_are_dead_lettered_and_the_rest_consumed(drawn: HostileSet) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "good.jsonl").write_bytes(drawn.jsonl(drawn.good_lines))
        good_store = f"sqlite:///{base / 'good.db'}"
        good = run_ingest(good_store, base, str(base / "good.jsonl"))

        topic = create_topic(unique("hostile"))
        dlq = unique("hostile-dlq")
        send_all([(b"hostile", line) for line in drawn.lines], topic)
        store = f"sqlite:///{base / 'kafka.db'}"
        args = consume_args(topic, unique("g"), "--exit-when-idle", "1", "--clock", "event")
        done = subprocess.run(
            [
                *SLACLOCK,
                "--config",
                str(CONFIG),
                "--store",
                store,
                *args,
                "--dead-letter-topic",
                dlq,
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        assert done.returncode == 0, done.stderr[-3000:]
        got = json.loads(done.stdout)
        assert_accounted(got, good, drawn)
        assert got["dead_lettered"] == drawn.mutants
        assert stored(store, POLICY) == stored(good_store, POLICY)

        letters = read_topic(dlq, expect=drawn.mutants)
        mutants = [
            (offset, line, reason)
            for offset, (line, reason) in enumerate(zip(drawn.lines, drawn.expected, strict=True))
            if reason is not None
        ]
        assert len(letters) == len(mutants)
        for letter, (offset, line, reason) in zip(letters, mutants, strict=True):
            headers = {key: value.decode() for key, value in letter.headers}
            assert headers["source"] == f"{topic}/0/{offset}"
            assert headers["reason"].startswith(reason), (headers["reason"], reason)
            assert letter.value == line  # the original bytes, untouched
