"""How ``slaclock consume`` talks to Kafka: its settings, the clients they make, what it
retries and how long it waits between tries.

Kept apart from the consume loop so that the command line can build and check settings
without the loop, and the loop reads as steps rather than configuration.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import PersistenceError, RecordConflictError

from slaclock.consumers.schema_registry import RegistryAccess, RegistryUnavailable


def _transient_errors() -> tuple[type[BaseException], ...]:
    import psycopg

    from slaclock.projections.event_store import StoreUnavailable

    return (
        PersistenceError,
        RecordConflictError,
        StoreUnavailable,
        sqlite3.Error,
        psycopg.Error,
        OSError,
        RegistryUnavailable,
    )


TRANSIENT: tuple[type[BaseException], ...] = _transient_errors()
"""Errors of an unavailable or conflicting database or registry: retried, never skipped.
Anything else is a bug: it propagates (the process exits; a restart resumes from the store)."""


@dataclass
class ConsumerSettings:
    topic: str
    group: str
    client_config: dict[str, Any] = field(default_factory=dict)
    """kafka-python settings shared by consumer and dead-letter producer (bootstrap
    servers, security, passthrough options)."""
    dead_letter_topic: str | None = None
    schema_registry: RegistryAccess | str | None = None
    """A registry's URL (user info allowed) or :class:`RegistryAccess` with credentials."""
    max_poll_records: int = 50_000
    """Messages per batch = per transaction: more per batch stores faster at the price of
    memory (see bench/RESULTS-kafka.md). A live stream's batches hold what has arrived, so small
    traffic is not delayed by this."""
    exit_when_idle: float | None = None
    instance_id: str | None = None
    session_timeout_ms: int | None = None
    poll_timeout_ms: int = 1000
    clock: str = "wall"
    """What moves time for alerts: ``wall`` (live) or ``event`` (backfills)."""
    alerts_path: str | None = None
    """Where raised and withdrawn alerts are appended (JSON Lines), if anywhere."""
    tick_every: float = 5.0
    """With the wall clock, a consumer with nothing to read raises the alerts that time alone
    made due this often (seconds; 0: only with the next message), as ``slaclock tick``."""
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    progress_every: float = 10.0
    health_file: str | None = None
    """A small JSON status (``ok``, ``retrying`` with the reason, ``fatal``; see
    ``consumers.health``), rewritten every few seconds while the loop is healthy: polling
    works and the last batch was stored. A container health check can watch its age."""
    topic_grace: float = 30.0
    """How long (seconds) the topic may be missing after start before the consumer stops
    (the consumer never creates it)."""

    def consumer_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "group_id": self.group,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "isolation_level": "read_committed",
            "max_poll_records": self.max_poll_records,
            "bootstrap_timeout_ms": 10_000,
            "allow_auto_create_topics": False,  # a mistyped topic must not be created
        }
        if self.instance_id:
            config["group_instance_id"] = self.instance_id
        if self.session_timeout_ms:
            config["session_timeout_ms"] = self.session_timeout_ms
            config["heartbeat_interval_ms"] = max(500, self.session_timeout_ms // 5)
        config.update(self.client_config)
        return config

    def producer_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "acks": "all",
            "linger_ms": 5,
            "max_block_ms": 10_000,
            "bootstrap_timeout_ms": 10_000,
        }
        # Passthrough settings the producer does not know are the consumer's (fetch sizes,
        # ...): left out here, so that they never make the dead-letter producer fail.
        from kafka import KafkaProducer

        known = KafkaProducer.DEFAULT_CONFIG
        config.update({k: v for k, v in self.client_config.items() if k in known})
        return config


class Backoff:
    """Exponential backoff with jitter, waited on an event so that a stop request wakes it."""

    def __init__(self, initial: float, maximum: float, wake: threading.Event) -> None:
        self.initial = initial
        self.maximum = maximum
        self.wake = wake
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    def wait(self) -> float:
        delay = min(self.maximum, self.initial * 2**self.attempt)
        delay *= random.uniform(0.8, 1.2)
        self.attempt += 1
        self.wake.wait(delay)
        return delay


def kafka_consumer(config: dict[str, Any]) -> Any:
    """A kafka-python consumer with ``config`` (the default consumer factory)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(**config)
    # kafka-python 3.0 does not hand allow_auto_create_topics on to its cluster metadata, whose
    # requests then let the broker create whatever topic is subscribed to: set it there.
    cluster = getattr(consumer, "_cluster", None)
    if cluster is not None and "allow_auto_create_topics" in config:
        cluster.config["allow_auto_create_topics"] = config["allow_auto_create_topics"]
    return consumer


def kafka_producer(config: dict[str, Any]) -> Any:
    """A kafka-python producer with ``config`` (the default dead-letter producer factory)."""
    from kafka import KafkaProducer

    return KafkaProducer(**config)
