"""Where rejected events go: the dead-letter sinks the ingest pipeline sends them to.

``slaclock ingest`` writes them to a JSON Lines file or keeps the first ones to show;
``slaclock consume`` stores them in the store's outbox with their batch, and its sink only
logs them (the relay to a dead-letter topic is ``consumers.dead_letter_relay``).
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Protocol

log = logging.getLogger("slaclock.kafka.consume")


class DeadLetterSink(Protocol):
    def send(self, source: str, reason: str, raw: str, raw_bytes: bytes | None = None) -> None:
        """``raw`` is the input as readable text; ``raw_bytes`` the exact bytes when they are
        not valid UTF-8 (so ``raw`` had to replace some)."""
        ...

    def flush(self) -> None: ...


class DeadLetterFile:
    """Appends ``{"source", "reason", "raw"}`` objects, one per line, with ``raw_base64``
    (the exact bytes) when the input was not valid UTF-8."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pending: list[str] = []

    def send(self, source: str, reason: str, raw: str, raw_bytes: bytes | None = None) -> None:
        record = {"source": source, "reason": reason, "raw": raw}
        if raw_bytes is not None:
            record["raw_base64"] = base64.b64encode(raw_bytes).decode("ascii")
        self._pending.append(json.dumps(record, ensure_ascii=False))

    def flush(self) -> None:
        if not self._pending:
            return
        with self.path.open("a", encoding="utf-8") as out:
            out.write("\n".join(self._pending) + "\n")
        self._pending.clear()


class DeadLetterList:
    """Keeps the first rejections in memory to show them (when no dead-letter output was
    asked for); later ones are only counted, so memory does not grow with the input."""

    def __init__(self, keep: int = 100) -> None:
        self.records: list[tuple[str, str, str]] = []
        self.keep = keep
        self.dropped = 0

    def send(self, source: str, reason: str, raw: str, raw_bytes: bytes | None = None) -> None:
        if len(self.records) < self.keep:
            self.records.append((source, reason, raw))
        else:
            self.dropped += 1

    def flush(self) -> None:
        pass


class LoggedDeadLetters:
    """The consumer's sink without a dead-letter topic: each rejection is logged once (never
    silently dropped); the letters themselves stay in the store's outbox (``slaclock
    dead-letters``)."""

    def __init__(self) -> None:
        self.sent = 0
        self.waiting = False  # (no topic to relay to)
        self._pending: list[tuple[str, str]] = []

    def send(self, source: str, reason: str, raw: str, raw_bytes: bytes | None = None) -> None:
        self._pending.append((source, reason))

    def flush(self) -> None:
        for source, reason in self._pending:
            log.warning("rejected %s: %s", source, reason)
        self.sent += len(self._pending)
        self._pending.clear()

    def relay_waiting(self) -> None:
        pass

    def close(self) -> None:
        pass
