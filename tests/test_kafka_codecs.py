"""Topics as real deployments write them, and the failures ``consume`` must not retry forever.

The compressed topics are written by the Apache Kafka Java client (``tests/java/JsonProducer.java``,
run from source with the jars the test broker resolved), not by kafka-python: each codec the
Java producer offers must be read, and give what a file ingest of the same events gives. Errors
that retrying cannot cure (a codec library that is missing, a topic that does not exist, client
settings kafka-python rejects) end ``consume`` with one message and their exit code; transient
ones are retried and shown in the health file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import errors as kafka_errors

from slaclock import exit_codes
from slaclock.consumers.kafka_errors import fatal_kafka_error
from tests.kafka_helpers import (
    CONFIG,
    EVENTS,
    KAFKA_BOOTSTRAP,
    REPO,
    assert_same_reports,
    consume_args,
    create_topic,
    partitions_of,
    reports,
    require_kafka,
    slaclock,
    sqlite_store,
    tracked_offsets,
    unique,
)

pytestmark = pytest.mark.kafka

KAFKA_VAR = Path(os.environ.get("KAFKA_VAR_DIR", REPO / "var" / "kafka"))
"""Where services/kafka/kafka.sh keeps the broker's jars (libs/) and its log dir (data/)."""
JAVA_PRODUCER = REPO / "tests" / "java" / "JsonProducer.java"
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
"""Kafka's compression ids: the low three bits of a record batch's attributes."""


@pytest.fixture(autouse=True)
def _broker() -> None:
    require_kafka()


def java_produce(topic: str, codec: str, events: Path) -> int:
    """Send every line of ``events`` with the Java client, keyed by ticket_id; the count."""
    java = shutil.which("java")
    libs = KAFKA_VAR / "libs"
    assert java, "java is not installed (services/kafka/kafka.sh needs it too)"
    assert any(libs.glob("kafka-clients-*.jar")), f"no kafka-clients jar in {libs}"
    done = subprocess.run(
        [java, "-cp", f"{libs}/*", str(JAVA_PRODUCER), KAFKA_BOOTSTRAP, topic, codec, str(events)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.strip().splitlines()[-1])


def stored_codecs(topic: str) -> set[int]:
    """The compression ids of the record batches the broker stored for partition 0 of
    ``topic`` (read from its log segment: base offset 8 bytes, length 4, leader epoch 4,
    magic 1, CRC 4, then the attributes, 2)."""
    segment = KAFKA_VAR / "data" / f"{topic}-0" / "00000000000000000000.log"
    data = segment.read_bytes()
    codecs, at = set(), 0
    while at + 23 <= len(data):
        (length,) = struct.unpack_from(">i", data, at + 8)
        (attributes,) = struct.unpack_from(">h", data, at + 21)
        codecs.add(attributes & 0x07)
        at += 12 + length
    return codecs


@pytest.fixture(scope="module")
def file_ingest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What a file ingest of the events gives: the outputs each topic must match."""
    store = sqlite_store(tmp_path_factory.mktemp("file-ingest"))
    counts = slaclock(store, "ingest", str(EVENTS), "--json")
    return {"counts": counts, "reports": reports(store)}


def consume(store: str, topic: str, *extra: str, hide: str | None = None) -> Any:
    """``slaclock consume`` in a subprocess; ``hide`` makes a module impossible to import
    in it (as if that package were not installed)."""
    command = [sys.executable, "-m", "slaclock"]
    if hide:
        command = [
            sys.executable,
            "-c",
            f"import sys; sys.modules[{hide!r}] = None\n"
            "from slaclock.cli import main; sys.exit(main())",
        ]
    return subprocess.run(
        [*command, "--config", str(CONFIG), "--store", store, *consume_args(topic, *extra)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def health(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


# ------------------------------------------------------------------------------ codecs
@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_a_topic_the_java_producer_compressed_is_consumed_like_a_file_ingest(
    codec: str, tmp_path: Path, file_ingest: dict[str, Any]
) -> None:
    topic = create_topic(unique(f"java-{codec}"))
    assert java_produce(topic, codec, EVENTS) == 31
    assert stored_codecs(topic) == {CODEC_IDS[codec]}  # the broker really holds it compressed

    store = sqlite_store(tmp_path)
    alive = tmp_path / "health.json"
    args = ("--exit-when-idle", "1", "--health-file", str(alive))
    done = consume(store, topic, unique("g"), *args)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = json.loads(done.stdout)
    counted = ("read", "accepted", "duplicates", "pending", "rejected")  # alerts: by the clock
    assert {k: counts[k] for k in counted} == {k: file_ingest["counts"][k] for k in counted}
    assert_same_reports(file_ingest["reports"], reports(store))
    assert health(alive)["status"] == "ok"


# ------------------------------------------------------------------------------- fatal
def test_a_missing_codec_library_ends_consume_with_exit_4_and_one_message(
    tmp_path: Path, file_ingest: dict[str, Any]
) -> None:
    topic = create_topic(unique("java-zstd-missing"))
    java_produce(topic, "zstd", EVENTS)
    store = sqlite_store(tmp_path)
    alive = tmp_path / "health.json"
    group = unique("g")
    started = time.monotonic()
    done = consume(store, topic, group, "--health-file", str(alive), hide="zstandard")
    assert time.monotonic() - started < 30
    assert done.returncode == exit_codes.SOURCE_FATAL, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("slaclock: error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert "zstd" in errors[0] and "zstandard" in errors[0] and topic in errors[0]
    assert "Traceback" not in done.stderr
    assert health(alive)["status"] == "fatal"
    assert "zstd" in health(alive)["reason"]

    # Nothing was skipped: with the library back, the same group reads every event.
    done = consume(store, topic, group, "--exit-when-idle", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["read"] == 31
    assert_same_reports(file_ingest["reports"], reports(store))


def test_a_topic_that_does_not_appear_within_the_grace_period_ends_consume_with_exit_4(
    tmp_path: Path,
) -> None:
    topic = unique("never-created")
    alive = tmp_path / "health.json"
    started = time.monotonic()
    store = sqlite_store(tmp_path)
    done = consume(store, topic, unique("g"), "--topic-grace", "2", "--health-file", str(alive))
    waited = time.monotonic() - started
    assert done.returncode == exit_codes.SOURCE_FATAL, done.stderr[-3000:]
    assert 2 <= waited < 30
    assert f"slaclock: error: topic {topic} does not exist (waited 2s" in done.stderr
    assert "Traceback" not in done.stderr
    assert health(alive)["status"] == "fatal"
    assert partitions_of(topic) == set()  # the consumer did not create it


def test_a_topic_created_within_the_grace_period_is_consumed(tmp_path: Path) -> None:
    topic = unique("late")
    store = sqlite_store(tmp_path)
    args = consume_args(topic, unique("g"), "--topic-grace", "60")
    proc = subprocess.Popen(
        [sys.executable, "-m", "slaclock", "--config", str(CONFIG), "--store", store, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        time.sleep(3)
        assert proc.poll() is None  # still waiting for the topic
        java_produce(topic, "lz4", EVENTS)  # the broker creates the topic for the producer
        deadline = time.monotonic() + 60
        while tracked_offsets(store, topic, {0})[0] != 31 and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert json.loads(out)["read"] == 31
    assert "does not exist (yet)" in err


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("no_such_setting=1", "Unrecognized configs"),
        ("request_timeout_ms=soon", "--kafka-option request_timeout_ms: expected a whole"),
        ("api_version=four", "check the --kafka-option (-X) values"),
    ],
)
def test_client_settings_kafka_python_rejects_are_a_usage_error(
    tmp_path: Path, option: str, says: str
) -> None:
    topic = create_topic(unique("settings"))
    done = consume(sqlite_store(tmp_path), topic, unique("g"), "-X", option)
    assert done.returncode == exit_codes.USAGE, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].startswith("slaclock: error: ")
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_errors_retrying_cannot_cure_are_told_from_transient_ones() -> None:
    """Authentication and authorisation cannot be refused by the test broker (it has no
    security): the classification itself, on the exceptions kafka-python raises for them."""
    fatal = [
        kafka_errors.TopicAuthorizationFailedError({"t"}),
        kafka_errors.GroupAuthorizationFailedError(),
        kafka_errors.SaslAuthenticationFailedError("bad password for user u"),
        kafka_errors.UnsupportedCodecError("Libraries for zstd compression codec not found"),
        kafka_errors.KafkaConfigurationError("Unrecognized configs"),
    ]
    transient = [
        kafka_errors.KafkaConnectionError(),
        kafka_errors.NodeNotReadyError(),
        kafka_errors.KafkaTimeoutError("Unable to bootstrap"),
        kafka_errors.RebalanceInProgressError(),
        kafka_errors.NotLeaderForPartitionError(),
        ConnectionRefusedError(),
    ]
    for exc in fatal:
        error = fatal_kafka_error(exc, "events", "slaclock")
        assert error is not None, exc
        assert "events" in str(error) or "Kafka" in str(error)
    for exc in transient:
        assert fatal_kafka_error(exc, "events", "slaclock") is None, exc


# --------------------------------------------------------------------------- transient
def test_an_unreachable_broker_is_retried_and_the_health_file_says_why(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    alive = tmp_path / "health.json"
    args = [
        *consume_args(unique("retry"), unique("g"), "--health-file", str(alive)),
        *("--bootstrap-servers", f"127.0.0.1:{port}", "-X", "bootstrap_timeout_ms=1000"),
    ]
    command = [sys.executable, "-m", "slaclock", "--config", str(CONFIG)]
    proc = subprocess.Popen(
        [*command, "--store", sqlite_store(tmp_path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 30
        while not alive.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        status = health(alive)
        assert status["status"] == "retrying"
        assert status["reason"].startswith("Kafka not reachable")
        time.sleep(2.5)  # more retries: still retrying, never fatal
        assert health(alive)["status"] == "retrying"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == exit_codes.OK, err[-3000:]  # stopped while retrying: not fatal
    assert "Kafka not reachable" in err and "retrying" in err
