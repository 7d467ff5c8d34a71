"""Smoke tests for the external services the integration tests rely on.

Start them first:  services/kafka/kafka.sh start  and  scripts/postgres.sh start.
These tests FAIL (never skip) when a service is missing, so CI cannot go green without them.

Environment:
    SLACLOCK_TEST_KAFKA_BOOTSTRAP  default 127.0.0.1:${KAFKA_PORT:-9092}
    SLACLOCK_TEST_POSTGRES_URL     default postgresql://slaclock@127.0.0.1:${PGPORT:-55432}/slaclock
"""

from __future__ import annotations

import os
import socket
import uuid

import pytest

KAFKA_BOOTSTRAP = os.environ.get(
    "SLACLOCK_TEST_KAFKA_BOOTSTRAP", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
)
POSTGRES_URL = os.environ.get(
    "SLACLOCK_TEST_POSTGRES_URL",
    f"postgresql://slaclock@127.0.0.1:{os.environ.get('PGPORT', '55432')}/slaclock",
)


def _require_port(host_port: str, how_to_start: str) -> None:
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"nothing listens on {host_port} ({exc}); run {how_to_start}", pytrace=False)


@pytest.mark.kafka
def test_kafka_produce_and_consume_roundtrip() -> None:
    from kafka import KafkaConsumer, KafkaProducer

    _require_port(KAFKA_BOOTSTRAP, "services/kafka/kafka.sh start")
    topic = f"smoke-{uuid.uuid4().hex[:12]}"
    payload = f"hello {uuid.uuid4()}".encode()

    producer = KafkaProducer(
        bootstrap_servers=KAFKA_BOOTSTRAP, bootstrap_timeout_ms=10_000, max_block_ms=30_000
    )
    try:
        # The topic does not exist yet: auto.create.topics.enable creates it on first use.
        meta = producer.send(topic, key=b"k", value=payload).get(timeout=30)
    finally:
        producer.close(timeout=10)
    assert meta.topic == topic

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        group_id=f"smoke-{uuid.uuid4().hex[:12]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        bootstrap_timeout_ms=10_000,
        consumer_timeout_ms=30_000,
    )
    try:
        received = None
        for record in consumer:  # stops after consumer_timeout_ms without records
            received = record
            break
        assert received is not None, f"no record consumed from {topic} within 30 s"
        assert (received.key, received.value) == (b"k", payload)
        consumer.commit()  # exercises the group coordinator / __consumer_offsets
    finally:
        consumer.close()


@pytest.mark.postgres
def test_postgres_select_one() -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
