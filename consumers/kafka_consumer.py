"""``slaclock consume``: ticket events from a Kafka topic into the store, exactly once in effect.

The loop only decides what happens next: poll, hand batches to the pipeline
(``consumers.kafka_batches``), re-seek from the store after a rebalance or a failure
(``consumers.partitions``), back off and report health while Kafka, the store or the registry
is away, and stop on a signal, when idle, or on an error retrying cannot cure. Why it is
exactly once in effect, and what happens to dead letters: docs/kafka.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from eventsourcing.persistence import RecordConflictError
from kafka.errors import KafkaConfigurationError, KafkaError

from slaclock.consumers.alert_sink import AlertFile
from slaclock.consumers.dead_letter_relay import consumer_dead_letters
from slaclock.consumers.decode_worker import (
    DecodeWorkerError,
    InlineWireDecoding,
    WireDecodeProcess,
)
from slaclock.consumers.errors import FatalSourceError
from slaclock.consumers.health import HealthFile
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.ingest_records import IngestStats, Prepared
from slaclock.consumers.kafka_batches import BatchInfo, BatchPipeline
from slaclock.consumers.kafka_errors import fatal_kafka_error
from slaclock.consumers.kafka_settings import (
    TRANSIENT,
    Backoff,
    ConsumerSettings,
    kafka_consumer,
    kafka_producer,
)
from slaclock.consumers.partitions import Partitions, TopicWatch
from slaclock.consumers.source_decoding import SourceDecoding
from slaclock.consumers.tick_schedule import TickSchedule
from slaclock.domain.policy import Policy
from slaclock.projections.store import TicketStore

log = logging.getLogger("slaclock.kafka.consume")


class _Timers:
    """When the loop last saw records and logged progress."""

    def __init__(self) -> None:
        self.activity = self.progress = time.monotonic()


class KafkaIngest:
    """The consume loop. ``run`` returns the counts when stopped (signal or idle)."""

    def __init__(
        self,
        settings: ConsumerSettings,
        store: TicketStore,
        policy: Policy,
        *,
        consumer_factory: Callable[[dict[str, Any]], Any] | None = None,
        producer_factory: Callable[[dict[str, Any]], Any] | None = None,
        on_batch: Callable[[BatchInfo], None] | None = None,
        decoding: InlineWireDecoding | WireDecodeProcess | SourceDecoding | None = None,
        wake_delivery: Callable[[], None] | None = None,
    ) -> None:
        """``decoding``: what turns message values into facts (default: in this process;
        the command line gives a :class:`WireDecodeProcess` on a machine with two cores,
        and a :class:`SourceDecoding` for a source's own messages, ``consume --source``).
        ``wake_delivery``: called when a batch or tick with outbox rows committed (the
        delivery thread of this process then sends them at once)."""
        self.settings = settings
        self.store = store
        self._wake_delivery = wake_delivery
        self._stop, self._force = threading.Event(), threading.Event()
        self._consumer_factory = consumer_factory or kafka_consumer
        self.backoff = Backoff(settings.backoff_initial, settings.backoff_max, self._stop)
        self.dead_letters = consumer_dead_letters(
            settings, store, producer_factory or kafka_producer, self._force
        )
        self.health = HealthFile(settings.health_file)
        self.partitions = Partitions(settings.topic, store)
        self.batches = BatchPipeline(
            store,
            self.partitions,
            decoding or InlineWireDecoding(policy, settings.schema_registry),
            partial(self._ingestor, policy),
            failed=self._failed,
            stored=self._stored,
            on_batch=on_batch,
        )
        self._timers = _Timers()
        self._topic = TopicWatch(settings.topic_grace)
        self._ticks: TickSchedule | None = None
        if settings.clock == "wall" and settings.tick_every > 0:
            self._ticks = TickSchedule(settings.tick_every, time.monotonic())

    def _ingestor(self, policy: Policy, outbox: Any) -> Ingestor:
        settings = self.settings
        return Ingestor(
            self.store,
            policy,
            self.dead_letters,
            clock=settings.clock,
            alert_sink=AlertFile(settings.alerts_path) if settings.alerts_path else None,
            policy_version=self.store.policy_version(),
            owns=self.partitions.owns,
            outbox=outbox,
            on_deliveries=self._wake_delivery,
        )

    @property
    def stats(self) -> IngestStats:
        return self.batches.ingestor.stats

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

    def run(self) -> IngestStats:
        settings = self.settings
        consumer = self.partitions.consumer = self._connect()
        if consumer is None:
            self.batches.decoding.close()
            return self.stats
        self._relay()  # what a previous run stored and did not relay (it died first)
        consumer.subscribe([settings.topic], listener=self.partitions.listener)
        log.info(
            "consuming %s as group %s (max %d records per batch)",
            settings.topic,
            settings.group,
            settings.max_poll_records,
        )
        self._topic.start()
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

    def _step(self) -> None:
        if not self._ready():
            return
        partitions = self.partitions
        generation = partitions.generation
        try:
            records = partitions.consumer.poll(
                timeout_ms=self._poll_timeout_ms(),
                max_records=self.settings.max_poll_records,
            )
        except (KafkaError, OSError) as exc:  # broker trouble surfacing from poll: retry
            self._raise_if_fatal(exc)
            log.warning("poll failed (%s: %s); retrying", type(exc).__name__, exc)
            self.health.retrying(f"poll failed: {type(exc).__name__}: {exc}")
            partitions.in_doubt()
            self.backoff.wait()
            return
        self._check_topic()
        if partitions.generation != generation:
            return  # the assignment changed during poll: re-seek before using any record
        batch = partitions.usable(records)
        if batch:
            self._timers.activity = time.monotonic()
            self.batches.submit(batch)
            if self.batches.polled > 1:  # one batch keeps decoding while the oldest is applied
                self.batches.apply_oldest()
        elif not self._quiet():
            return
        self._after_step()

    def _ready(self) -> bool:
        """Before a poll: take a new assignment and seek from the store where needed."""
        partitions = self.partitions
        changed = partitions.changed
        if changed or partitions.need_seek:
            self.batches.drop()  # read under the old assignment or before a failure
            if not self.batches.settle():
                return False
        if changed:
            partitions.adopt_assignment()
            self._timers.activity = time.monotonic()
            # Tickets cached while we owned other partitions may have changed since: forget
            # them (a stale one would only fail its version check and cost a retry).
            self.store.forget_cached_tickets()
        if partitions.need_seek and not self._seek():
            self.backoff.wait()
            self._poll_idle()  # keep the group membership alive while waiting
            return False
        return True

    def _seek(self) -> bool:
        """Seek from the stored offsets; False if the store failed."""
        try:
            self.partitions.seek_from_store()
        except TRANSIENT as exc:
            log.warning("store unavailable while reading offsets (%s); retrying", exc)
            self.health.retrying(f"store unavailable: {exc}")
            return False
        if not self.partitions.need_seek:
            self.backoff.reset()
        return True

    def _quiet(self) -> bool:
        """Nothing new was polled: finish what was read, then the idle chores. False if a
        batch failed (the partitions wait for their seek)."""
        batches, partitions = self.batches, self.partitions
        while batches.polled and not partitions.need_seek:
            batches.apply_oldest()
        if not batches.settle() or partitions.need_seek:
            return False
        self._maybe_tick()
        self._relay()  # only if an earlier relay failed
        if self._idle_done():
            log.info("caught up and idle for %ss: stopping", self.settings.exit_when_idle)
            self._stop.set()
        return True

    def _after_step(self) -> None:
        if not self.partitions.need_seek:  # nothing failed in this step
            self.health.ok()
        self._maybe_progress()

    def _poll_timeout_ms(self) -> int:
        """A poll waits for records at most until the next alert falls due."""
        longest = self.settings.poll_timeout_ms
        if self._ticks is None:
            return longest
        return self._ticks.poll_timeout_ms(time.time(), longest)

    def _maybe_tick(self) -> None:
        """Quiet partitions: raise (and store) the alerts that the wall clock made due, for
        this consumer's tickets, like ``slaclock tick``, when the next one falls due and at
        least every ``tick_every`` seconds (``consumers.tick_schedule``); a failure is
        retried after the period."""
        ticks = self._ticks
        if ticks is None:
            return
        if ticks.stale:
            self._read_next_alert()
        backlog = self.batches.ingestor.due_left > 0
        if not ticks.due(time.monotonic(), time.time(), backlog):
            return
        raised = self.stats.alerts
        try:
            self.batches.tick()
        except TRANSIENT as exc:
            log.warning("raising due alerts failed (%s); retrying later", exc)
            ticks.ticked(time.monotonic())
            return
        ticks.ticked(time.monotonic())
        self._read_next_alert()
        if (moved := self.stats.alerts - raised) > 0:
            log.info("%d alert(s) raised or withdrawn while idle", moved)

    def _read_next_alert(self) -> None:
        """Learn from the store when its next alert falls due (a failure: tick by period).
        After the watermark of the last batch or tick, stored or not: what fell due before
        it was raised then, or is another consumer's (not stored when nothing changed, so
        it is the store's own watermark that may lag)."""
        ticks = self._ticks
        if ticks is None:
            return
        reached = self.batches.ingestor.watermark or self.store.watermark() or 0
        try:
            ticks.learn(self.store.next_alert_at(reached))
        except TRANSIENT as exc:
            log.debug("reading the next alert instant failed (%s)", exc)
            ticks.forget()

    def _check_topic(self) -> None:
        """Until the topic is seen: report it missing, stop once the grace is over."""
        try:
            reason = self._topic.check(self.partitions)
        except (KafkaError, OSError) as exc:
            self._raise_if_fatal(exc)
            return  # broker trouble: the poll reports it
        if reason is None:
            return
        if self.health.reason != reason:
            log.warning("%s; waiting up to %gs", reason, self.settings.topic_grace)
        self.health.retrying(reason)

    def _poll_idle(self) -> None:
        try:
            self.partitions.consumer.poll(timeout_ms=0)
        except Exception as exc:
            log.debug("poll while paused: %s", exc)

    def _stored(self, prepared: Prepared) -> None:
        """A batch committed: relay its dead letters; the store answers again."""
        if prepared.dead_letters:
            self.dead_letters.waiting = True
            self._relay()
        if prepared.tickets:
            self._read_next_alert()  # its tickets may have an earlier next alert
        self.backoff.reset()

    def _failed(self, exc: BaseException) -> None:
        """A batch could not be stored: forget positions, re-seek from the store, back off."""
        self.batches.drop()
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
            self.health.retrying(f"batch not stored: {type(exc).__name__}: {why}")
        self.partitions.in_doubt()
        if not conflict:
            self.partitions.pause_all()
            self.backoff.wait()

    def _relay(self) -> None:
        """Relay the outbox to the dead-letter topic when something may wait there (at
        start-up, after a batch with dead letters, after a failed relay)."""
        try:
            self.dead_letters.relay_waiting()
        except TRANSIENT as exc:
            log.warning("dead letters not relayed yet (store: %s); retrying later", exc)

    def _idle_done(self) -> bool:
        limit, timers = self.settings.exit_when_idle, self._timers
        if limit is None or self.partitions.need_seek or self._topic.since is not None:
            return False  # (a topic not seen yet is not caught up: see _check_topic)
        if time.monotonic() - timers.activity < limit:
            return False
        if self.partitions.caught_up():
            return True
        timers.activity = time.monotonic() - limit + 1.0  # look again in a second
        return False

    def _maybe_progress(self) -> None:
        now = time.monotonic()
        if now - self._timers.progress < self.settings.progress_every:
            return
        self._timers.progress = now
        s = self.stats
        log.info(
            "progress: read %d, accepted %d, duplicates %d, rejected %d, dead-lettered %d",
            s.read,
            s.accepted,
            s.duplicates,
            s.rejected + s.voided,
            self.dead_letters.sent,
        )

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
                self.health.retrying(f"Kafka not reachable: {type(exc).__name__}: {exc}")
                self.backoff.wait()
                continue
            self.backoff.reset()
            return consumer
        return None

    def _close(self) -> None:
        consumer = self.partitions.consumer
        if consumer is not None:
            try:
                self.batches.drop()  # not applied yet: read again on restart
            except DecodeWorkerError:  # the decoding process is gone: nothing to drain
                self.batches.forget()
            self.batches.settle()
            self._relay()
        self.batches.close()
        self.partitions.consumer = None
        self.dead_letters.close()
        if consumer is None:
            return
        self.partitions.commit_last(consumer)
        try:
            consumer.close(autocommit=False, timeout_ms=10_000)
        except Exception as exc:
            log.warning("closing the consumer: %s", exc)
