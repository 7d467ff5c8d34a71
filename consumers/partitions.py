"""Which partitions this consumer owns and where it reads each one from.

One small object for everything that follows the group's assignment: the rebalance listener,
seeking from the offsets stored in the store, dropping records fetched before that seek,
which tickets this consumer owns, end offsets and the commit hints for lag monitoring. The
store holds the real offsets; Kafka's are never read back (docs/kafka.md, "Exactly once in
effect").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from kafka import ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition
from kafka.partitioner.default import murmur2

from slaclock.consumers.kafka_errors import missing_topic
from slaclock.projections.meta import end_offset_key
from slaclock.projections.store import TicketStore

log = logging.getLogger("slaclock.kafka.consume")


def tracking_name(topic: str, partition: int) -> str:
    """The eventsourcing tracking name that holds one partition's next offset."""
    return f"kafka:{topic}:{partition}"


def partition_of(ticket_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (kafka-python's and the Java client's:
    murmur2 of the key) picks for a message keyed by ``ticket_id``."""
    return (murmur2(ticket_id.encode("utf-8")) & 0x7FFFFFFF) % partitions


class AssignmentListener(ConsumerRebalanceListener):
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


class Partitions:
    """The consumer's partitions of ``topic``: assignment, positions, ownership, hints.

    ``need_seek`` holds the partitions to seek from the store before any of their records
    is used; ``positions`` the next offset expected of each seeked one (None: from the
    beginning)."""

    def __init__(self, topic: str, store: TicketStore) -> None:
        self.topic = topic
        self.store = store
        self.listener = AssignmentListener()
        self.consumer: Any = None
        self.need_seek: set[Any] = set()
        self._seen_generation = 0
        self._positions: dict[Any, int | None] = {}
        # (assignment generation, the topic's partitions, those assigned here): see owns
        self._ownership: tuple[int, list[int], set[int]] = (-1, [], set())
        self._committed: dict[Any, int] = {}

    # ------------------------------------------------------------- assignment
    @property
    def generation(self) -> int:
        return self.listener.generation

    @property
    def changed(self) -> bool:
        """The assignment changed since :meth:`adopt_assignment` last looked."""
        return self.listener.generation != self._seen_generation

    def adopt_assignment(self) -> None:
        """Take the new assignment: every assigned partition waits for its seek."""
        self._seen_generation = self.listener.generation
        assigned = set(self.consumer.assignment())
        self._positions = {tp: p for tp, p in self._positions.items() if tp in assigned}
        self.need_seek = set(assigned)
        log.info("assigned partitions: %s", sorted(tp.partition for tp in assigned) or "none")

    def in_doubt(self) -> None:
        """Positions are no longer known (a failed poll or batch): seek all from the store."""
        self.need_seek = set(self.consumer.assignment())
        self._positions.clear()

    def pause_all(self) -> None:
        """Stop fetching while the store is away (the group membership stays alive)."""
        try:
            self.consumer.pause(*self.need_seek)
        except Exception:
            self._seen_generation = -1

    def seek_from_store(self) -> None:
        """Seek every partition waiting for it to its stored offset. Errors of the store
        propagate (nothing changed); a rebalance meanwhile leaves it for the next change."""
        consumer = self.consumer
        pending = sorted(self.need_seek)
        try:
            consumer.pause(*pending)
        except Exception:  # a partition revoked meanwhile: the next assignment change redoes it
            self._seen_generation = -1
            return
        stored = {
            tp: self.store.max_tracking_id(tracking_name(tp.topic, tp.partition)) for tp in pending
        }
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
            return
        for tp in pending:
            where = "the beginning" if stored[tp] is None else f"offset {stored[tp]}"
            log.info("partition %d: resuming from %s (stored)", tp.partition, where)
        self.need_seek.clear()

    # -------------------------------------------------------------- positions
    def usable(self, records: dict[Any, list[Any]]) -> list[Any]:
        """The polled records that may be processed, in partition order; drops anything
        before the stored position and anything of a partition not yet seeked."""
        batch: list[Any] = []
        for tp in sorted(records):
            if tp in self.need_seek or tp not in self._positions:
                self.need_seek.add(tp)
                continue
            batch.extend(self._from_position(tp, records[tp]))
        return batch

    def _from_position(self, tp: Any, items: list[Any]) -> list[Any]:
        position = self._positions[tp]
        if position is None:
            return items
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
        return items

    def advance(self, last: dict[tuple[str, int], int]) -> None:
        """A batch up to these offsets was taken: the next poll continues after them."""
        for (topic, partition), offset in last.items():
            self._positions[TopicPartition(topic, partition)] = offset + 1

    def end_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[str, str]:
        """The batch's partitions' end offsets as last fetched, stored with the batch so the
        API's ``/metrics`` can tell the lag per partition (see ``projections.store``)."""
        now = int(time.time())
        ends: dict[str, str] = {}
        for topic, partition in partitions:
            try:
                end = self.consumer.highwater(TopicPartition(topic, partition))
            except Exception:  # not assigned any more (a rebalance): nothing to tell
                continue
            if end is not None:
                ends[end_offset_key(tracking_name(topic, partition))] = f"{end} {now}"
        return ends

    # -------------------------------------------------------------- ownership
    def owns(self, ticket_id: str) -> bool:
        """Whether this consumer's partitions carry ``ticket_id`` (the producer's default
        partitioner on the ticket id, as ``slaclock publish`` and Kafka's Java client do):
        only then does it raise the ticket's time-driven alerts. With another partitioner a
        ticket's alerts are still raised exactly once, by the owner of the partition computed
        here; a stored conflict with the ticket's other writer is retried like any other."""
        generation = self.listener.generation
        if self._ownership[0] != generation:
            partitions = sorted(self.consumer.partitions_for_topic(self.topic) or ())
            assigned = {tp.partition for tp in self.consumer.assignment() if tp.topic == self.topic}
            if not partitions:
                return True  # no metadata yet: ask again next time
            self._ownership = (generation, partitions, assigned)
        _, partitions, assigned = self._ownership
        if not partitions:
            return True
        return partitions[partition_of(ticket_id, len(partitions))] in assigned

    def topic_exists(self) -> bool:
        """Whether the broker knows the topic (or has already assigned some of it)."""
        consumer = self.consumer
        return bool(consumer.assignment()) or bool(consumer.partitions_for_topic(self.topic))

    def caught_up(self) -> bool:
        """Every partition of the topic is stored up to its end (ours or another member's)."""
        consumer = self.consumer
        try:
            partitions = consumer.partitions_for_topic(self.topic) or set()
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
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
                stored = self.store.max_tracking_id(tracking_name(self.topic, tp.partition))
                if (stored or 0) < end:
                    return False
            return True
        except Exception as exc:
            log.debug("caught-up check failed: %s", exc)
            return False

    # ----------------------------------------------------------- commit hints
    def commit_hint(self, last: dict[tuple[str, int], int]) -> None:
        """Commit a stored batch's offsets to Kafka, for lag monitoring only."""
        offsets = {
            TopicPartition(topic, partition): OffsetAndMetadata(offset + 1, "", -1)
            for (topic, partition), offset in last.items()
        }
        self._committed.update(offsets)

        def done(_offsets: Any, response: Any) -> None:
            if isinstance(response, Exception):
                log.debug("offset commit (lag hint only) failed: %s", response)

        try:
            self.consumer.commit_async(offsets=offsets, callback=done)
        except Exception as exc:
            log.debug("offset commit (lag hint only) failed: %s", exc)

    def commit_last(self, consumer: Any) -> None:
        """At close: the last hints, synchronously."""
        if not self._committed:
            return
        try:
            consumer.commit(offsets=dict(self._committed), timeout_ms=5000)
        except Exception as exc:
            log.debug("final offset commit (lag hint only) failed: %s", exc)


class TopicWatch:
    """From start until the topic is seen: how long it has been missing. The consumer never
    creates it, and stops once it has been missing for ``grace`` seconds."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.since: float | None = None  # when the wait began (None: seen, or not started)
        self._checked = 0.0

    def start(self) -> None:
        self.since = time.monotonic()

    def check(self, partitions: Partitions) -> str | None:
        """At most once a second: the reason to report while the topic is missing (None: seen
        or not looked); :class:`FatalSourceError` once the grace is over. Errors of the
        broker propagate."""
        now = time.monotonic()
        if now - self._checked < 1.0 or self.since is None:
            return None
        self._checked = now
        if partitions.topic_exists():
            self.since = None
            return None
        if now - self.since >= self.grace:
            raise missing_topic(partitions.topic, self.grace)
        return f"topic {partitions.topic} does not exist (yet)"
