"""``slaclock consume``: ticket events from a Kafka topic into the store, exactly once in effect.

How a crash at any moment neither loses nor duplicates an effect:

* Offsets live in the store, not in Kafka. Each polled batch (at most ``max_poll_records``
  messages, any of the consumer's partitions) is decoded, validated, deduplicated and applied,
  and its tickets, read-model rows and one eventsourcing ``Tracking`` record per partition
  (name ``kafka:TOPIC:PARTITION``, value = next offset to read) are written in ONE transaction
  (``Ingestor.prepare`` then ``Ingestor.save``, see ``KafkaIngest`` for how batches overlap). A
  crash before the commit leaves nothing, and the messages are read again; a crash after it is
  remembered by the tracking records.
* Whenever the consumer is given partitions (start, rebalance, recovery from an error) it seeks
  each one to the offset stored for it (the beginning if none), before processing anything
  from it. Records fetched before that seek are dropped, never processed. The rebalance
  listener runs on kafka-python's I/O thread, so it only notes that the assignment changed;
  the main loop does the database reads and the seeks.
* Offsets are committed to Kafka as well, asynchronously after each stored batch, only so that
  lag monitoring works; they are never read back.
* Two consumers that briefly process the same partition (a rebalance during a batch) cannot
  both store it: the tracking row only moves forward, event ids are unique and ticket versions
  are checked, so the second transaction fails, and its consumer re-seeks from the store.

Messages that fail decoding or validation are dead letters: stored in the store's outbox
(``projections.dead_letters``) in their batch's transaction, so they exist exactly when the
batch does, then relayed to the dead-letter topic (original key and bytes as value, headers
``reason``, ``source`` = ``topic/partition/offset``, ``source_topic``, ``source_partition``,
``source_offset`` and ``dead_letter_id``) and marked relayed once the broker acknowledged them
(``consumers.dead_letter_relay``). The relay runs after each batch and at start-up, so a
consumer killed between the commit and the acknowledgement relays them when it restarts;
such a repeat carries the same ``dead_letter_id``. Without a dead-letter topic they are logged
and stay in the outbox (``slaclock dead-letters`` lists them). The consumer keeps going.
An unavailable database, broker or schema registry is retried with exponential backoff,
logged and shown in the health file; nothing is skipped. Errors that retrying cannot cure (a
missing compression codec, refused credentials or permissions, a topic that does not exist after
``topic_grace`` seconds, client settings Kafka rejects) stop the loop with
:class:`~consumers.errors.FatalSourceError` (see ``consumers.kafka_errors``).
``request_stop`` (SIGTERM/SIGINT) lets the current batch finish.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from eventsourcing.persistence import PersistenceError, RecordConflictError, Tracking
from kafka import ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaConfigurationError, KafkaError
from kafka.partitioner.default import murmur2

from slaclock.consumers.alert_sink import AlertFile
from slaclock.consumers.dead_letter_relay import DeadLetterRelay, dead_letter_of
from slaclock.consumers.decode_worker import (
    DecodeWorkerError,
    InlineWireDecoding,
    WireDecodeProcess,
)
from slaclock.consumers.errors import FatalSourceError
from slaclock.consumers.health import HealthFile
from slaclock.consumers.ingest import Decoded, Ingestor, IngestStats, Prepared, Rejection
from slaclock.consumers.kafka_errors import fatal_kafka_error, missing_topic
from slaclock.consumers.kafka_wire import RegistryUnavailable
from slaclock.consumers.schema_registry import RegistryAccess
from slaclock.domain.policy import Policy
from slaclock.projections.dead_letters import DeadLetter, last_seq
from slaclock.projections.meta import end_offset_key
from slaclock.projections.store import TicketStore

log = logging.getLogger("slaclock.kafka.consume")


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


FAULT_VARIABLE = "SLACLOCK_TEST_FAULT"
"""For tests only: ``exit-after-store`` makes the process exit (code :data:`FAULT_EXIT`, no
cleanup) right after the first batch with dead letters is committed, before they are relayed:
the moment a crash would have lost them without the outbox; ``exit-after-relay`` right after
the broker acknowledged dead letters, before they are marked relayed (the next start sends
them again, with the same ids)."""
FAULT_EXIT = 86


def tracking_name(topic: str, partition: int) -> str:
    """The eventsourcing tracking name that holds one partition's next offset."""
    return f"kafka:{topic}:{partition}"


def partition_of(ticket_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (kafka-python's and the Java client's:
    murmur2 of the key) picks for a message keyed by ``ticket_id``."""
    return (murmur2(ticket_id.encode("utf-8")) & 0x7FFFFFFF) % partitions


def source_of(topic: str, partition: int, offset: int) -> str:
    return f"{topic}/{partition}/{offset}"


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
    """Messages per batch = per transaction: 50,000 stores 10 % more per second than 20,000
    into PostgreSQL (1M events; a ticket's events in one batch are stored as one event) at
    the price of memory (about 700 MB with the decoding process, against 450 MB). A live
    stream's batches hold what has arrived, so small traffic is not delayed by this."""
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


# ------------------------------------------------------------------------- dead letters
class LoggedDeadLetters:
    """Without a dead-letter topic: each rejection is logged once (never silently dropped);
    the letters themselves stay in the store's outbox (``slaclock dead-letters``)."""

    def __init__(self) -> None:
        self.sent = 0
        self._pending: list[tuple[str, str]] = []

    def send(self, source: str, reason: str, raw: str, raw_bytes: bytes | None = None) -> None:
        self._pending.append((source, reason))

    def flush(self) -> None:
        for source, reason in self._pending:
            log.warning("rejected %s: %s", source, reason)
        self.sent += len(self._pending)
        self._pending.clear()

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------- consumer
class _AssignmentListener(ConsumerRebalanceListener):
    """Rebalance listener: runs on kafka-python's I/O thread, so it only counts changes
    (database reads and seeks there would block heartbeats; the main loop does them)."""

    def __init__(self) -> None:
        self.generation = 0
        self._lock = threading.Lock()

    def _changed(self) -> None:
        with self._lock:
            self.generation += 1

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._changed()

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._changed()

    def on_partitions_lost(self, lost: Any) -> None:
        self._changed()


@dataclass
class BatchInfo:
    """What one stored batch covered: partition -> (first offset, next offset)."""

    ranges: dict[int, tuple[int, int]]
    read: int
    accepted: int
    duplicates: int
    rejected: int


@dataclass
class _Polled:
    """A polled batch handed to the decoding step, not yet applied."""

    records: dict[str, Any]  # by source string, for the dead letters
    first: dict[tuple[str, int], int]
    last: dict[tuple[str, int], int]


@dataclass
class _Saving:
    """A batch whose transaction runs on the store thread while the next one is read."""

    future: Future[None]
    prepared: Prepared
    read: int
    polled: _Polled


class KafkaIngest:
    """The consume loop. ``run`` returns the counts when stopped (signal or idle).

    Three steps overlap: the transaction of batch N runs on a store thread (the database
    works without holding Python's GIL), while the main thread applies batch N+1 and the
    decoding step (a second process, see ``consumers.decode_worker``) already decodes batch
    N+2. The main thread waits for the transaction before anything that reads the store
    (applying the next batch, seeking after a rebalance, the idle check, stopping); if it
    failed, the batches polled meanwhile are dropped and every partition re-seeks from the
    store. So at most one transaction is in flight, and nothing is applied on top of a batch
    that was not stored.
    """

    def __init__(
        self,
        settings: ConsumerSettings,
        store: TicketStore,
        policy: Policy,
        *,
        consumer_factory: Callable[[dict[str, Any]], Any] | None = None,
        producer_factory: Callable[[dict[str, Any]], Any] | None = None,
        on_batch: Callable[[BatchInfo], None] | None = None,
        decoding: InlineWireDecoding | WireDecodeProcess | None = None,
    ) -> None:
        """``decoding``: what turns message values into facts (default: in this process;
        the command line gives a :class:`WireDecodeProcess` on a machine with two cores)."""
        self.settings = settings
        self.store = store
        self._stop = threading.Event()
        self._force = threading.Event()
        self._consumer_factory = consumer_factory or _kafka_consumer
        producer_factory = producer_factory or _kafka_producer
        self.backoff = Backoff(settings.backoff_initial, settings.backoff_max, self._stop)
        self.dead_letters: DeadLetterRelay | LoggedDeadLetters
        if settings.dead_letter_topic:
            self.dead_letters = DeadLetterRelay(
                store,
                settings.dead_letter_topic,
                lambda: producer_factory(settings.producer_config()),
                Backoff(settings.backoff_initial, settings.backoff_max, self._force),
                self._force,
                delivered=partial(self._inject, "exit-after-relay"),
            )
        else:
            self.dead_letters = LoggedDeadLetters()
        self._records: dict[str, Any] = {}  # the batch being prepared, by source string
        self._seq = last_seq(store)  # the last number given to a dead letter
        self._relay_pending = True  # at start-up: what a previous run stored and did not relay
        self.ingestor = Ingestor(
            store,
            policy,
            self.dead_letters,
            clock=settings.clock,
            alert_sink=AlertFile(settings.alerts_path) if settings.alerts_path else None,
            policy_version=store.policy_version(),
            owns=self._owns,
            outbox=self._outbox,
        )
        self.decoding = decoding or InlineWireDecoding(policy, settings.schema_registry)
        self.on_batch = on_batch
        self.batches = 0
        self.health = HealthFile(settings.health_file)
        self._consumer: Any = None
        self._listener = _AssignmentListener()
        # (assignment generation, the topic's partitions, those assigned here): see _owns
        self._ownership: tuple[int, list[int], set[int]] = (-1, [], set())
        self._seen_generation = 0
        self._positions: dict[Any, int | None] = {}
        self._need_seek: set[Any] = set()
        self._last_activity = time.monotonic()
        self._last_progress = time.monotonic()
        self._topic_since: float | None = None  # when the wait for a missing topic began
        self._last_topic_check = 0.0
        self._last_tick = time.monotonic()
        self._committed: dict[Any, int] = {}
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="slaclock-store")
        self._saving: _Saving | None = None
        self._polled: deque[_Polled] = deque()
        self._decoding_results = 0  # submitted to the decoding step, result not taken yet

    # ------------------------------------------------------------------ control
    @property
    def stats(self) -> IngestStats:
        return self.ingestor.stats

    def request_stop(self) -> None:
        """First call: finish the current batch, then stop. Second call: stop retrying too."""
        if self._stop.is_set():
            self._force.set()
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def forced(self) -> bool:
        """A second stop request came (retries were abandoned)."""
        return self._force.is_set()

    # --------------------------------------------------------------------- loop
    def run(self) -> IngestStats:
        settings = self.settings
        self._consumer = self._connect()
        if self._consumer is None:
            self.decoding.close()
            return self.stats
        self._relay()  # what a previous run stored and did not relay (it died first)
        self._consumer.subscribe([settings.topic], listener=self._listener)
        log.info(
            "consuming %s as group %s (max %d records per batch)",
            settings.topic,
            settings.group,
            settings.max_poll_records,
        )
        self._topic_since = time.monotonic()
        try:
            while not self._stop.is_set():
                self._step()
        except FatalSourceError as exc:
            self.health.fatal(str(exc))
            raise
        finally:
            self._close()
        return self.stats

    def _raise_if_fatal(self, exc: BaseException) -> None:
        """Stop for good (health file first) if ``exc`` is one that retrying cannot cure."""
        fatal = fatal_kafka_error(exc, self.settings.topic, self.settings.group)
        if fatal is not None:
            self.health.fatal(str(fatal))
            raise fatal from None

    def _retrying(self, reason: str) -> None:
        self.health.retrying(reason)

    def _step(self) -> None:
        changed = self._listener.generation != self._seen_generation
        if changed or self._need_seek:
            self._drop_polled()  # read under the old assignment or before a failure
            if not self._settle():
                return
        if changed:
            self._on_assignment_change()
        if self._need_seek and not self._seek_from_store():
            self.backoff.wait()
            self._poll_idle()  # keep the group membership alive while waiting
            return
        generation = self._listener.generation
        try:
            records = self._consumer.poll(
                timeout_ms=self.settings.poll_timeout_ms,
                max_records=self.settings.max_poll_records,
            )
        except (KafkaError, OSError) as exc:  # broker trouble surfacing from poll: retry
            self._raise_if_fatal(exc)
            log.warning("poll failed (%s: %s); retrying", type(exc).__name__, exc)
            self._retrying(f"poll failed: {type(exc).__name__}: {exc}")
            self._need_seek = set(self._consumer.assignment())  # positions are in doubt
            self._positions.clear()
            self.backoff.wait()
            return
        if self._topic_since is not None:
            self._check_topic()
        if self._listener.generation != generation:
            return  # the assignment changed during poll: re-seek before using any record
        batch = self._usable(records)
        if batch:
            self._last_activity = time.monotonic()
            self._submit(batch)
            if len(self._polled) > 1:  # one batch keeps decoding while the oldest is applied
                self._apply_oldest()
            self._after_step()
            return
        while self._polled and not self._need_seek:  # nothing new: finish what was read
            self._apply_oldest()
        if not self._settle() or self._need_seek:
            return
        self._maybe_tick()
        self._relay()  # only if an earlier relay failed
        if self._idle_done():
            log.info("caught up and idle for %ss: stopping", self.settings.exit_when_idle)
            self._stop.set()
        self._after_step()

    def _after_step(self) -> None:
        if not self._need_seek:  # nothing failed in this step
            self._alive()
        self._maybe_progress()

    def _maybe_tick(self) -> None:
        """Quiet partitions: raise (and store) the alerts that the wall clock made due, for
        this consumer's tickets, like ``slaclock tick``; a failure is retried next time."""
        every = self.settings.tick_every
        if self.settings.clock != "wall" or every <= 0:
            return
        now = time.monotonic()
        if now - self._last_tick < every:
            return
        self._last_tick = now
        raised = self.ingestor.stats.alerts
        self._records = {}
        try:
            self.ingestor.process([])  # an empty batch: what ``slaclock tick`` stores
        except TRANSIENT as exc:
            log.warning("raising due alerts failed (%s); retrying later", exc)
            return
        if (moved := self.ingestor.stats.alerts - raised) > 0:
            log.info("%d alert(s) raised or withdrawn while idle", moved)

    def _alive(self) -> None:
        self.health.ok()

    def _check_topic(self) -> None:
        """Until the topic is seen (at most once a second): stop once it has been missing for
        ``topic_grace`` seconds since start."""
        now = time.monotonic()
        if now - self._last_topic_check < 1.0 or self._topic_since is None:
            return
        self._last_topic_check = now
        topic = self.settings.topic
        try:
            found = bool(self._consumer.assignment()) or bool(
                self._consumer.partitions_for_topic(topic)
            )
        except (KafkaError, OSError) as exc:
            self._raise_if_fatal(exc)
            return  # broker trouble: the poll reports it
        if found:
            self._topic_since = None
            return
        waited = now - self._topic_since
        if waited >= self.settings.topic_grace:
            raise missing_topic(topic, self.settings.topic_grace)
        reason = f"topic {topic} does not exist (yet)"
        if self.health.reason != reason:
            log.warning("%s; waiting up to %gs", reason, self.settings.topic_grace)
        self._retrying(reason)

    def _poll_idle(self) -> None:
        try:
            self._consumer.poll(timeout_ms=0)
        except Exception as exc:
            log.debug("poll while paused: %s", exc)

    def _on_assignment_change(self) -> None:
        self._seen_generation = self._listener.generation
        assigned = set(self._consumer.assignment())
        self._positions = {tp: p for tp, p in self._positions.items() if tp in assigned}
        self._need_seek = set(assigned)
        self._last_activity = time.monotonic()
        # Tickets cached while we owned other partitions may have changed since: forget them
        # (a stale one would only fail its version check and cost a retry).
        self.store.forget_cached_tickets()
        log.info("assigned partitions: %s", sorted(tp.partition for tp in assigned) or "none")

    def _seek_from_store(self) -> bool:
        """Seek every partition waiting for it to its stored offset; False if the store failed."""
        consumer = self._consumer
        pending = sorted(self._need_seek)
        try:
            consumer.pause(*pending)
        except Exception:  # a partition revoked meanwhile: the next assignment change redoes it
            self._seen_generation = -1
            return True
        try:
            stored = {
                tp: self.store.max_tracking_id(tracking_name(tp.topic, tp.partition))
                for tp in pending
            }
        except TRANSIENT as exc:
            log.warning("store unavailable while reading offsets (%s); retrying", exc)
            self._retrying(f"store unavailable: {exc}")
            return False
        try:
            for tp in pending:
                offset = stored[tp]
                if offset is None:
                    consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, offset)
                self._positions[tp] = offset
            consumer.resume(*pending)
        except Exception as exc:  # revoked during the seek: redo on the next change
            log.info("seek interrupted by a rebalance (%s)", exc)
            self._seen_generation = -1
            return True
        for tp in pending:
            where = "the beginning" if stored[tp] is None else f"offset {stored[tp]}"
            log.info("partition %d: resuming from %s (stored)", tp.partition, where)
        self._need_seek.clear()
        self.backoff.reset()
        return True

    def _usable(self, records: dict[Any, list[Any]]) -> list[Any]:
        """The polled records that may be processed, in partition order; drops anything
        before the stored position and anything of a partition not yet seeked."""
        batch: list[Any] = []
        for tp in sorted(records):
            items = records[tp]
            if tp in self._need_seek or tp not in self._positions:
                self._need_seek.add(tp)
                continue
            position = self._positions[tp]
            if position is not None:
                if items and items[0].offset < position:
                    before = len(items)
                    items = [r for r in items if r.offset >= position]
                    log.warning(
                        "partition %d: dropped %d record(s) before the stored offset %d",
                        tp.partition,
                        before - len(items),
                        position,
                    )
                if items and items[0].offset > position:
                    log.info(
                        "partition %d: offsets %d-%d are gone from the log (retention or "
                        "compaction); continuing at %d",
                        tp.partition,
                        position,
                        items[0].offset - 1,
                        items[0].offset,
                    )
            batch.extend(items)
        return batch

    def _submit(self, records: Sequence[Any]) -> None:
        """Hand a polled batch's values to the decoding step; the next poll goes on after
        it (a failure later re-seeks every partition from the store anyway)."""
        first: dict[tuple[str, int], int] = {}
        last: dict[tuple[str, int], int] = {}
        by_source: dict[str, Any] = {}
        for record in records:
            tp = (record.topic, record.partition)
            first.setdefault(tp, record.offset)
            last[tp] = record.offset
            by_source[source_of(record.topic, record.partition, record.offset)] = record
        self.decoding.submit([r.value for r in records], list(by_source))
        self._decoding_results += 1
        self._polled.append(_Polled(by_source, first, last))
        for (topic, partition), offset in last.items():
            self._positions[TopicPartition(topic, partition)] = offset + 1

    def _decoded(self) -> Decoded:
        self._decoding_results -= 1
        return self.decoding.result()

    def _drop_polled(self) -> None:
        """Forget the batches polled but not applied (their results too): they are read
        again from the stored offsets."""
        self._polled.clear()
        while self._decoding_results:
            with contextlib.suppress(RegistryUnavailable, FatalSourceError):
                self._decoded()

    def _apply_oldest(self) -> None:
        """Wait for the oldest polled batch to be decoded and for the batch before it to be
        stored; apply it and hand its transaction to the store thread."""
        polled = self._polled.popleft()
        try:
            decoded = self._decoded()
        except RegistryUnavailable as exc:
            if self._settle():
                self._failed(exc)
            return
        if not self._settle():
            return  # the batch before was not stored: this one was dropped with the rest
        tracking = [
            Tracking(tracking_name(topic, partition), offset + 1)
            for (topic, partition), offset in sorted(polled.last.items())
        ]
        self._records = polled.records
        try:
            prepared = self.ingestor.prepare(
                decoded.facts, decoded.rejected, tracking, meta=self._end_offsets(polled.last)
            )
        except TRANSIENT as exc:
            self._failed(exc)
            return
        future = self._store_thread.submit(self.ingestor.save, prepared)
        self._saving = _Saving(future, prepared, decoded.read, polled)

    def _settle(self) -> bool:
        """Wait for the batch in flight (if any) to be stored, then count it, send its
        alerts and dead letters and tell Kafka. False if it failed: then every partition
        re-seeks from the store (``_failed``)."""
        saving, self._saving = self._saving, None
        if saving is None:
            return True
        try:
            saving.future.result()
        except TRANSIENT as exc:
            self._failed(exc)
            return False
        prepared, polled = saving.prepared, saving.polled
        if prepared.dead_letters:
            self._inject("exit-after-store")
        self.ingestor.stats.read += saving.read
        self.ingestor.finish(prepared)
        if prepared.dead_letters:
            self._relay_pending = True
            self._relay()
        self.backoff.reset()
        self.batches += 1
        offsets = {
            TopicPartition(topic, partition): OffsetAndMetadata(offset + 1, "", -1)
            for (topic, partition), offset in polled.last.items()
        }
        self._commit_hint(offsets)
        info = BatchInfo(
            ranges={p: (polled.first[(t, p)], o + 1) for (t, p), o in sorted(polled.last.items())},
            read=saving.read,
            accepted=len(prepared.event_ids),
            duplicates=prepared.duplicates,
            rejected=len(prepared.rejected) - prepared.voided,
        )
        log.debug(
            "stored batch %s read=%d accepted=%d duplicates=%d rejected=%d",
            " ".join(f"p{p}:{a}-{b}" for p, (a, b) in info.ranges.items()),
            info.read,
            info.accepted,
            info.duplicates,
            info.rejected,
        )
        if self.on_batch:
            self.on_batch(info)
        return True

    @staticmethod
    def _inject(fault: str) -> None:
        """Tests only: exit here, without cleanup, if ``SLACLOCK_TEST_FAULT`` asks for it."""
        if os.environ.get(FAULT_VARIABLE) == fault:
            log.error("%s=%s: exiting", FAULT_VARIABLE, fault)
            sys.stderr.flush()
            os._exit(FAULT_EXIT)

    def _outbox(self, rejected: Sequence[Rejection]) -> list[DeadLetter]:
        """The batch's rejections as the dead letters stored in its transaction."""
        now, first = int(time.time()), self._seq + 1
        self._seq += len(rejected)
        return [
            dead_letter_of(self._records.get(source), source, reason, text, now, seq)
            for seq, (_, source, reason, text, _) in enumerate(rejected, start=first)
        ]

    def _relay(self) -> None:
        """Relay the outbox to the dead-letter topic when something may wait there (at
        start-up, after a batch with dead letters, after a failed relay)."""
        if not self._relay_pending or not isinstance(self.dead_letters, DeadLetterRelay):
            return
        try:
            self.dead_letters.relay()
        except TRANSIENT as exc:
            log.warning("dead letters not relayed yet (store: %s); retrying later", exc)
            return
        self._relay_pending = self._force.is_set()

    def _owns(self, ticket_id: str) -> bool:
        """Whether this consumer's partitions carry ``ticket_id`` (the producer's default
        partitioner on the ticket id, as ``slaclock publish`` and Kafka's Java client do):
        only then does it raise the ticket's time-driven alerts. With another partitioner a
        ticket's alerts are still raised exactly once, by the owner of the partition computed
        here; a stored conflict with the ticket's other writer is retried like any other."""
        generation = self._listener.generation
        if self._ownership[0] != generation:
            topic = self.settings.topic
            partitions = sorted(self._consumer.partitions_for_topic(topic) or ())
            assigned = {tp.partition for tp in self._consumer.assignment() if tp.topic == topic}
            if not partitions:
                return True  # no metadata yet: ask again next time
            self._ownership = (generation, partitions, assigned)
        _, partitions, assigned = self._ownership
        if not partitions:
            return True
        return partitions[partition_of(ticket_id, len(partitions))] in assigned

    def _end_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[str, str]:
        """The batch's partitions' end offsets as last fetched, stored with the batch so the
        API's ``/metrics`` can tell the lag per partition (see ``projections.store``)."""
        now = int(time.time())
        ends: dict[str, str] = {}
        for topic, partition in partitions:
            try:
                end = self._consumer.highwater(TopicPartition(topic, partition))
            except Exception:  # not assigned any more (a rebalance): nothing to tell
                continue
            if end is not None:
                ends[end_offset_key(tracking_name(topic, partition))] = f"{end} {now}"
        return ends

    def _failed(self, exc: BaseException) -> None:
        """A batch could not be stored: forget positions, re-seek from the store, back off."""
        self._drop_polled()
        conflict = isinstance(exc, RecordConflictError)
        if conflict:
            # Someone else stored these offsets or tickets first (a rebalance raced us), or a
            # cached ticket was stale: re-read the store; no need to wait long.
            log.info("batch conflicted with the store (%s); re-seeking from stored offsets", exc)
            self.backoff.reset()
        else:
            why = " ".join(str(exc).split())  # one line: driver messages span several
            log.warning(
                "batch not stored (%s: %s); retrying from the stored offsets",
                type(exc).__name__,
                why,
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            self._retrying(f"batch not stored: {type(exc).__name__}: {why}")
        assigned = set(self._consumer.assignment())
        self._need_seek = set(assigned)
        self._positions.clear()
        if not conflict:
            try:
                self._consumer.pause(*assigned)
            except Exception:
                self._seen_generation = -1
            self.backoff.wait()

    def _commit_hint(self, offsets: dict[Any, Any]) -> None:
        """Commit to Kafka for lag monitoring only (the store holds the real offsets)."""
        self._committed.update(offsets)

        def done(_offsets: Any, response: Any) -> None:
            if isinstance(response, Exception):
                log.debug("offset commit (lag hint only) failed: %s", response)

        try:
            self._consumer.commit_async(offsets=offsets, callback=done)
        except Exception as exc:
            log.debug("offset commit (lag hint only) failed: %s", exc)

    # ------------------------------------------------------------------- idling
    def _idle_done(self) -> bool:
        limit = self.settings.exit_when_idle
        if limit is None or self._need_seek or self._topic_since is not None:
            return False  # (a topic not seen yet is not caught up: see _check_topic)
        if time.monotonic() - self._last_activity < limit:
            return False
        if self._caught_up():
            return True
        self._last_activity = time.monotonic() - limit + 1.0  # look again in a second
        return False

    def _caught_up(self) -> bool:
        """Every partition of the topic is stored up to its end (ours or another member's)."""
        consumer = self._consumer
        topic = self.settings.topic
        try:
            partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            if not tps:
                return True
            ends = consumer.end_offsets(tps)
            assigned = set(consumer.assignment())
            for tp in tps:
                end = ends.get(tp)
                if end is None:
                    return False
                if tp in assigned:
                    position = consumer.position(tp, timeout_ms=5000)
                    if position is not None and position >= end:
                        continue
                stored = self.store.max_tracking_id(tracking_name(topic, tp.partition))
                if (stored or 0) < end:
                    return False
            return True
        except Exception as exc:
            log.debug("caught-up check failed: %s", exc)
            return False

    def _maybe_progress(self) -> None:
        now = time.monotonic()
        if now - self._last_progress < self.settings.progress_every:
            return
        self._last_progress = now
        s = self.stats
        log.info(
            "progress: read %d, accepted %d, duplicates %d, rejected %d, dead-lettered %d",
            s.read,
            s.accepted,
            s.duplicates,
            s.rejected + s.voided,
            self.dead_letters.sent,
        )

    # ------------------------------------------------------------- connections
    def _connect(self) -> Any:
        config = self.settings.consumer_config()
        while not self._stop.is_set():
            try:
                consumer = self._consumer_factory(config)
            except KafkaConfigurationError:
                raise  # kafka-python checks its settings before connecting: a usage error
            except (TypeError, ValueError) as exc:  # a setting of the wrong type, e.g. -X
                raise KafkaConfigurationError(
                    f"a value kafka-python cannot use ({type(exc).__name__}: {exc}); check "
                    "the --kafka-option (-X) values"
                ) from None
            except (KafkaError, OSError) as exc:  # no broker reachable (yet)
                self._raise_if_fatal(exc)
                log.warning("Kafka not reachable (%s: %s); retrying", type(exc).__name__, exc)
                self._retrying(f"Kafka not reachable: {type(exc).__name__}: {exc}")
                self.backoff.wait()
                continue
            self.backoff.reset()
            return consumer
        return None

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._drop_polled()  # not applied yet: read again on restart
            except DecodeWorkerError:  # the decoding process is gone: nothing to drain
                self._polled.clear()
                self._decoding_results = 0
            self._settle()
            self._relay()
        self._store_thread.shutdown(wait=True)
        self.decoding.close()
        consumer, self._consumer = self._consumer, None
        self.dead_letters.close()
        if consumer is None:
            return
        if self._committed:
            try:
                consumer.commit(offsets=dict(self._committed), timeout_ms=5000)
            except Exception as exc:
                log.debug("final offset commit (lag hint only) failed: %s", exc)
        try:
            consumer.close(autocommit=False, timeout_ms=10_000)
        except Exception as exc:
            log.warning("closing the consumer: %s", exc)


def _kafka_consumer(config: dict[str, Any]) -> Any:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(**config)
    # kafka-python 3.0 does not hand allow_auto_create_topics on to its cluster metadata, whose
    # requests then let the broker create whatever topic is subscribed to: set it there.
    cluster = getattr(consumer, "_cluster", None)
    if cluster is not None and "allow_auto_create_topics" in config:
        cluster.config["allow_auto_create_topics"] = config["allow_auto_create_topics"]
    return consumer


def _kafka_producer(config: dict[str, Any]) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(**config)
