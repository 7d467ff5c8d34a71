"""Where time-driven alerts go: a JSON Lines file (one object per raised or withdrawn alert)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol


class AlertSink(Protocol):
    def send(self, alert: dict[str, Any]) -> None: ...

    def flush(self) -> None: ...


class AlertFile:
    """Appends alerts to a JSON Lines file after each stored batch."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pending: list[str] = []

    def send(self, alert: dict[str, Any]) -> None:
        self._pending.append(json.dumps(alert))

    def flush(self) -> None:
        if self._pending:
            with self.path.open("a", encoding="utf-8") as out:
                out.write("\n".join(self._pending) + "\n")
            self._pending.clear()
