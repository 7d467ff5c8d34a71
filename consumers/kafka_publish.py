"""``slaclock publish``: JSON Lines or Avro container files onto a Kafka topic.

For backfills, and for upstream teams to test against. Every message is keyed by its
``ticket_id``, so a ticket's events land in one partition, in file order. ``--format json``
sends lines as they are (poison included, on purpose); ``--format avro`` sends Confluent wire
format with the current schema id and skips, reporting them, events Avro cannot carry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from slaclock.consumers.avro import CURRENT_SCHEMA_ID, to_json_text
from slaclock.consumers.input_limits import load_json
from slaclock.consumers.kafka_wire import encode_avro
from slaclock.consumers.sources import RawEvent, read_events
from slaclock.domain.instants import InstantError, parse_instant

log = logging.getLogger("slaclock.kafka.publish")

FORMATS = ("avro", "json")


@dataclass
class PublishStats:
    read: int = 0
    published: int = 0
    skipped: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        counts = asdict(self)
        counts.pop("problems")
        return counts


class Unpublishable(Exception):
    """An event that cannot be sent in the requested format."""


def message(raw: RawEvent, fmt: str) -> tuple[bytes | None, bytes]:
    """(key, value) of one event in ``fmt``; :class:`Unpublishable` when it cannot be."""
    if raw.raw_bytes is not None and fmt == "json":  # not UTF-8: sent as is, as poison
        return None, raw.raw_bytes
    if raw.error is not None:
        raise Unpublishable(raw.error)
    data: Any = raw.data
    if data is None:
        try:
            data = load_json(raw.raw)
        except ValueError as exc:  # not JSON, or beyond consumers.input_limits
            if fmt == "json":
                return None, raw.raw.encode("utf-8")
            raise Unpublishable(f"not valid JSON: {exc}") from None
    ticket_id = data.get("ticket_id") if isinstance(data, dict) else None
    key = _utf8(ticket_id) if isinstance(ticket_id, str) else None
    if fmt == "json":
        value = raw.raw if raw.data is None else to_json_text(data)
        return key, value.encode("utf-8")
    if not isinstance(data, dict):
        raise Unpublishable(f"not a JSON object: {type(data).__name__}")
    occurred = data.get("occurred_at")
    if isinstance(occurred, str):
        try:
            parse_instant(occurred)
        except InstantError as exc:
            raise Unpublishable(f"occurred_at: {exc}") from None
    try:
        return key, encode_avro(data, CURRENT_SCHEMA_ID)
    except Exception as exc:  # to_record / fastavro: missing keys, wrong types, unknown type
        raise Unpublishable(f"cannot encode as Avro: {type(exc).__name__}: {exc}") from None


def _utf8(text: str) -> bytes | None:
    """``text`` as UTF-8, None when it is not valid Unicode (a lone surrogate): no key."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def publish_events(
    events: Iterable[RawEvent],
    topic: str,
    producer: Any,
    *,
    fmt: str = "avro",
    stats: PublishStats | None = None,
    progress: Callable[[int], None] | None = None,
) -> PublishStats:
    """Send ``events`` to ``topic`` with an open ``KafkaProducer``; flushes before returning."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {FORMATS}")
    stats = stats or PublishStats()

    def failed(source: str, exc: BaseException) -> None:
        stats.failed += 1
        stats.published -= 1
        stats.problems.append(f"{source}: not delivered: {exc}")

    for raw in events:
        stats.read += 1
        try:
            key, value = message(raw, fmt)
        except Unpublishable as exc:
            stats.skipped += 1
            stats.problems.append(f"{raw.source}: skipped: {exc}")
            continue
        future = producer.send(topic, key=key, value=value)
        stats.published += 1
        future.add_errback(failed, raw.source)
        if progress:
            progress(1)
    producer.flush()
    return stats


def publish_files(
    paths: Sequence[str],
    topic: str,
    client_config: dict[str, Any],
    *,
    fmt: str = "avro",
    progress: Callable[[int], None] | None = None,
) -> PublishStats:
    """Publish every event of ``paths`` (JSON Lines or Avro container files, ``-`` = stdin)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**producer_config(client_config))
    stats = PublishStats()
    try:
        for path in paths:
            publish_events(
                read_events(path), topic, producer, fmt=fmt, stats=stats, progress=progress
            )
    finally:
        producer.close(timeout=30)
    for problem in stats.problems:
        log.warning("%s", problem)
    return stats


def producer_config(client_config: dict[str, Any]) -> dict[str, Any]:
    """Producer settings: idempotent, acks from all in-sync replicas, small batching delay."""
    config: dict[str, Any] = {
        "acks": "all",
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "max_block_ms": 60_000,
    }
    config.update(client_config)
    return config
