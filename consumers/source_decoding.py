"""A source's raw Kafka messages (e.g. a Debezium topic) as validated slaclock events.

``slaclock consume --source NAME`` reads a topic that carries what the source emits, not
slaclock events: each message value is one :class:`~slaclock.consumers.source_intake.Payload`
(origin ``topic/partition/offset``), translated by the source's
:class:`~slaclock.consumers.source_intake.Translator` exactly as ``translate`` and webhooks
do. :class:`SourceDecoding` makes the same calls as the consumer's other decodings
(``consumers.decode_worker``), so batches, offsets and dead letters go the one way
``consumers.kafka_batches`` gives them; the state translation keeps (snapshots, first-only
markers) rides along in :attr:`Decoded.source_state` and is written in the transaction of
the batch that produced it, with its events and offsets.

Translation runs in this process: it reads the kept state from the store. A batch may be
translated while the one before is still in its transaction, so the states read or kept are
remembered across batches; :meth:`SourceDecoding.reset` forgets them when a batch failed or
the assignment changed (the consumer then re-reads everything from the stored offsets).
Beyond :data:`MAX_REMEMBERED` tickets it forgets all but those of the last batch (the only
ones that may not be stored yet), so memory stays bounded on a long run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from slaclock.consumers.events import Decoded
from slaclock.consumers.source_config import SourceConfig
from slaclock.consumers.source_intake import (
    Known,
    Payload,
    StoreKeeper,
    Translator,
    translate_batch,
)
from slaclock.domain.policy import Policy
from slaclock.projections.store import TicketStore

MAX_REMEMBERED = 100_000


class SourceDecoding:
    """Batches of one source's message values translated and validated in this process."""

    def __init__(self, config: SourceConfig, policy: Policy, store: TicketStore) -> None:
        self.config = config
        self.policy = policy
        self.store = store
        self._known: Known = {}
        self._last: set[str] = set()  # tickets the last batch changed (maybe not stored yet)
        self._batches: deque[tuple[Sequence[bytes | None], Sequence[str]]] = deque()

    def submit(self, values: Sequence[bytes | None], sources: Sequence[str]) -> None:
        self._batches.append((values, sources))

    def result(self) -> Decoded:
        """The oldest submitted batch, translated now. A tombstone (null value: a deleted
        row's compaction marker) emits nothing."""
        values, sources = self._batches.popleft()
        payloads = [
            Payload(body=value, origin=source)
            for value, source in zip(values, sources, strict=True)
            if value is not None
        ]
        if len(self._known) > MAX_REMEMBERED:
            self._known = {t: self._known[t] for t in self._last if t in self._known}
        keeper = StoreKeeper(self.store, self.config.name, self._known)
        batch = translate_batch(Translator(self.config, keeper), payloads, self.policy)
        rows = keeper.rows()
        self._last = {row[1] for row in rows}
        batch.decoded.source_state = rows
        return batch.decoded

    def reset(self) -> None:
        """Forget the remembered states: read them from the store again."""
        self._known.clear()
        self._last.clear()

    def close(self) -> None:
        self._batches.clear()
