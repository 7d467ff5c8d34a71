"""Dead letters from the store's outbox to the dead-letter topic, at least once.

The Kafka consumer stores each batch's dead letters with the batch (``projections.
dead_letters``); :class:`DeadLetterRelay` then sends the unrelayed ones (original key and
bytes, the ``reason``/``source`` headers and ``dead_letter_id``), waits until the broker has
acknowledged every one, and only then marks them relayed. It runs after each stored batch
and when the consumer starts, so dead letters a crashed consumer had stored but not sent
are sent by its next start. A crash after the send and before the mark sends them again,
with the same ``dead_letter_id``: readers drop repeats by that header.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from slaclock.projections.dead_letters import DeadLetter, dead_letter_id, mark_relayed, unrelayed
from slaclock.projections.store import TicketStore

log = logging.getLogger("slaclock.kafka.dead_letters")

ID_HEADER = "dead_letter_id"


class Waiter(Protocol):
    def wait(self) -> float: ...

    def reset(self) -> None: ...


def dead_letter_of(
    record: Any, source: str, reason: str, text: str, created_at: int, seq: int
) -> DeadLetter:
    """The dead letter of a rejected Kafka ``record`` (None: not a message of the batch,
    e.g. a stored event voided by a late creation, whose ``text`` becomes the value)."""
    headers = [("reason", reason), ("source", source)]
    if record is not None:
        key, value = record.key, record.value if record.value is not None else b""
        headers += [
            ("source_topic", record.topic),
            ("source_partition", str(record.partition)),
            ("source_offset", str(record.offset)),
        ]
    else:
        key, value = None, text.encode("utf-8", "surrogatepass")
    return DeadLetter(
        id=dead_letter_id(source, value),
        created_at=created_at,
        seq=seq,
        source=source,
        reason=reason,
        key=key,
        value=value,
        headers=headers,
    )


class DeadLetterRelay:
    """Sends the outbox's unrelayed dead letters to ``topic``; also the consumer's dead-letter
    sink, which only logs (at debug level): the letters themselves are in the outbox.

    A broker that does not acknowledge is retried with backoff; only a forced stop (second
    signal) gives up, and the letters stay in the store for the next start. Errors of the
    store propagate (the caller retries later)."""

    def __init__(
        self,
        store: TicketStore,
        topic: str,
        producer_factory: Callable[[], Any],
        backoff: Waiter,
        force_stop: threading.Event,
        page: int = 500,
        delivered: Callable[[], None] | None = None,
    ) -> None:
        """``delivered``: called once a page is acknowledged, before it is marked (a test's
        fault injection: a crash there makes the next start send the page again)."""
        self.store = store
        self.topic = topic
        self.producer_factory = producer_factory
        self.backoff = backoff
        self.force_stop = force_stop
        self.page = page
        self.delivered = delivered
        self.sent = 0  # relayed and marked by this process
        self._producer: Any = None

    # the ingest pipeline's sink: the outbox holds the letters, nothing to do here
    def send(self, source: str, reason: str, raw: str, raw_bytes: bytes | None = None) -> None:
        log.debug("rejected %s: %s", source, reason)

    def flush(self) -> None:
        pass

    def relay(self) -> int:
        """Send every unrelayed dead letter, a page at a time; how many were relayed."""
        relayed = 0
        while not self.force_stop.is_set():
            letters = unrelayed(self.store, self.page)
            if not letters:
                break
            if not self._deliver(letters):
                break
            if self.delivered is not None:
                self.delivered()
            mark_relayed(self.store, [letter.id for letter in letters], int(time.time()))
            self.sent += len(letters)
            relayed += len(letters)
        if relayed:
            log.info("relayed %d dead letter(s) to %s", relayed, self.topic)
        return relayed

    def _deliver(self, letters: Sequence[DeadLetter]) -> bool:
        """Send and wait for the broker's acknowledgement of each; False on a forced stop."""
        pending = list(letters)
        while pending:
            if self.force_stop.is_set():
                log.error(
                    "forced stop: %d dead letter(s) not relayed; they stay in the store and "
                    "are relayed at the next start",
                    len(pending),
                )
                return False
            try:
                producer = self._producer or self._connect()
                futures = [(letter, self._send(producer, letter)) for letter in pending]
                producer.flush(timeout=30)
            except Exception as exc:  # broker unavailable, timeouts
                log.warning(
                    "dead-letter topic %s unavailable (%s); retrying %d message(s)",
                    self.topic,
                    exc,
                    len(pending),
                )
                self.backoff.wait()
                continue
            pending = self._unacknowledged(futures)
            if pending:
                self.backoff.wait()
            else:
                self.backoff.reset()
        return True

    def _send(self, producer: Any, letter: DeadLetter) -> Any:
        headers = [(name, text.encode("utf-8", "surrogatepass")) for name, text in letter.headers]
        headers.append((ID_HEADER, letter.id.encode("ascii")))
        return producer.send(self.topic, key=letter.key, value=letter.value, headers=headers)

    def _unacknowledged(self, futures: list[tuple[DeadLetter, Any]]) -> list[DeadLetter]:
        failed: list[DeadLetter] = []
        last: Exception | None = None
        for letter, future in futures:
            try:
                future.get(timeout=0)
            except Exception as exc:
                failed.append(letter)
                last = exc
        if failed:
            log.warning(
                "dead-letter topic %s: %d message(s) not acknowledged (%s); retrying",
                self.topic,
                len(failed),
                last,
            )
        return failed

    def _connect(self) -> Any:
        self._producer = self.producer_factory()
        return self._producer

    def close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=10)
            except Exception as exc:
                log.warning("closing the dead-letter producer: %s", exc)
            self._producer = None
