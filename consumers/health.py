"""The consumer's health file: a small JSON status that a supervisor or health check reads.

``ok``, ``retrying`` (with the reason) or ``fatal``, with when the status began and when it was
written (docs/kafka.md, "Health file"). ``ok`` is refreshed every few seconds and ``retrying``
is not, so the file's age tells whether the loop is alive. Writes replace the file atomically.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("slaclock.kafka.health")

REFRESH_SECONDS = 5.0
"""How often an unchanged ``ok`` status is rewritten (the file's age shows liveness)."""


class HealthFile:
    """Writes the status to ``path``; every method does nothing without a path."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.status: str | None = None
        self.reason: str | None = None
        self._since = 0.0
        self._written = 0.0

    def ok(self) -> None:
        if self.status == "ok" and time.monotonic() - self._written < REFRESH_SECONDS:
            return
        self._set("ok", None)

    def retrying(self, reason: str) -> None:
        if self.status == "retrying" and self.reason == reason:
            return
        self._set("retrying", reason)

    def fatal(self, reason: str) -> None:
        self._set("fatal", reason)

    def _set(self, status: str, reason: str | None) -> None:
        now = time.time()
        if status != self.status:
            self._since = now
        self.status, self.reason = status, reason
        self._written = time.monotonic()
        if self.path is None:
            return
        body: dict[str, object] = {"status": status}
        if reason is not None:
            body["reason"] = reason
        body.update(since=round(self._since, 3), updated=round(now, 3))
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(body) + "\n")
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("health file %s: %s", self.path, exc)
