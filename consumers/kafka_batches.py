"""Polled Kafka batches through decoding, applying and storing, overlapped.

The transaction of batch N runs on a store thread while the main thread applies batch N+1
and the decoding step (``consumers.decode_worker``) decodes batch N+2. Anything that reads
the store first waits for the transaction in flight (:meth:`BatchPipeline.settle`); if it
failed, the batches polled meanwhile are dropped and the consume loop re-seeks every
partition from the store. So at most one transaction is in flight, and nothing is applied on
top of a batch that was not stored (docs/kafka.md, "How a batch flows").
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from slaclock.consumers.dead_letter_relay import dead_letter_of
from slaclock.consumers.decode_worker import InlineWireDecoding, WireDecodeProcess
from slaclock.consumers.errors import FatalSourceError
from slaclock.consumers.events import Decoded, Rejection
from slaclock.consumers.faults import inject
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.ingest_records import Prepared
from slaclock.consumers.kafka_settings import TRANSIENT
from slaclock.consumers.partitions import Partitions, tracking_name
from slaclock.consumers.schema_registry import RegistryUnavailable
from slaclock.consumers.source_decoding import SourceDecoding
from slaclock.projections.dead_letters import DeadLetter, last_seq
from slaclock.projections.store import TicketStore

log = logging.getLogger("slaclock.kafka.consume")


def source_of(topic: str, partition: int, offset: int) -> str:
    return f"{topic}/{partition}/{offset}"


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


class BatchPipeline:
    """Decodes, applies and stores polled batches for the consume loop.

    ``failed(exc)`` is called when a batch could not be decoded or stored (the loop then
    re-seeks from the store); ``stored(prepared)`` once a batch's transaction committed and
    its alerts and dead letters went out."""

    def __init__(
        self,
        store: TicketStore,
        partitions: Partitions,
        decoding: InlineWireDecoding | WireDecodeProcess | SourceDecoding,
        make_ingestor: Callable[[Callable[[Sequence[Rejection]], list[DeadLetter]]], Ingestor],
        *,
        failed: Callable[[BaseException], None],
        stored: Callable[[Prepared], None],
        on_batch: Callable[[BatchInfo], None] | None = None,
    ) -> None:
        """``make_ingestor(outbox)``: the ingestor, given the hook that turns a batch's
        rejections into the dead letters stored with it."""
        self.partitions = partitions
        self.decoding = decoding
        self._seq = last_seq(store)  # the last number given to a dead letter
        self.ingestor = make_ingestor(self._outbox)
        self.failed = failed
        self.stored = stored
        self.on_batch = on_batch
        self.batches = 0
        self._records: dict[str, Any] = {}  # the batch being prepared, by source string
        self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="slaclock-store")
        self._saving: _Saving | None = None
        self._polled: deque[_Polled] = deque()
        self._decoding_results = 0  # submitted to the decoding step, result not taken yet

    @property
    def polled(self) -> int:
        """Batches polled and not applied yet."""
        return len(self._polled)

    def submit(self, records: Sequence[Any]) -> None:
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
        self.partitions.advance(last)

    def _decoded(self) -> Decoded:
        self._decoding_results -= 1
        return self.decoding.result()

    def drop(self) -> None:
        """Forget the batches polled but not applied (their results too): they are read
        again from the stored offsets."""
        self._polled.clear()
        while self._decoding_results:
            with contextlib.suppress(RegistryUnavailable, FatalSourceError):
                self._decoded()
        self.decoding.reset()  # what it remembers may stem from a batch not stored

    def forget(self) -> None:
        """The decoding step is gone: forget what it held without asking it."""
        self._polled.clear()
        self._decoding_results = 0

    def apply_oldest(self) -> None:
        """Wait for the oldest polled batch to be decoded and for the batch before it to be
        stored; apply it and hand its transaction to the store thread."""
        polled = self._polled.popleft()
        try:
            decoded = self._decoded()
        except RegistryUnavailable as exc:
            if self.settle():
                self.failed(exc)
            return
        if not self.settle():
            return  # the batch before was not stored: this one was dropped with the rest
        tracking = [
            Tracking(tracking_name(topic, partition), offset + 1)
            for (topic, partition), offset in sorted(polled.last.items())
        ]
        self._records = polled.records
        try:
            prepared = self.ingestor.prepare(
                decoded.facts,
                decoded.rejected,
                tracking,
                meta=self.partitions.end_offsets(polled.last),
                source_state=decoded.source_state,
            )
        except TRANSIENT as exc:
            self.failed(exc)
            return
        future = self._store_thread.submit(self.ingestor.save, prepared)
        self._saving = _Saving(future, prepared, decoded.read, polled)

    def settle(self) -> bool:
        """Wait for the batch in flight (if any) to be stored, then count it, send its
        alerts and dead letters and tell Kafka. False if it failed (``failed`` was told)."""
        saving, self._saving = self._saving, None
        if saving is None:
            return True
        try:
            saving.future.result()
        except TRANSIENT as exc:
            self.failed(exc)
            return False
        prepared, polled = saving.prepared, saving.polled
        if prepared.dead_letters:
            inject("exit-after-store")
        self.ingestor.stats.read += saving.read
        self.ingestor.finish(prepared)
        self.stored(prepared)
        self.batches += 1
        self.partitions.commit_hint(polled.last)
        self._report(saving)
        return True

    def _report(self, saving: _Saving) -> None:
        prepared, polled = saving.prepared, saving.polled
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

    def tick(self) -> None:
        """Store an empty batch: the alerts that time alone made due (``slaclock tick``)."""
        self._records = {}
        self.ingestor.process([])

    def _outbox(self, rejected: Sequence[Rejection]) -> list[DeadLetter]:
        """The batch's rejections as the dead letters stored in its transaction."""
        now, first = int(time.time()), self._seq + 1
        self._seq += len(rejected)
        return [
            dead_letter_of(self._records.get(source), source, reason, text, now, seq)
            for seq, (_, source, reason, text, _) in enumerate(rejected, start=first)
        ]

    def close(self) -> None:
        self._store_thread.shutdown(wait=True)
        self.decoding.close()
