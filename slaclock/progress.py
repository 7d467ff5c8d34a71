"""Progress of a long step on stderr: a bar redrawn in place on a terminal, else a plain line
every ten seconds (so logs of a long recompute show it is alive, without a line per shard)."""

from __future__ import annotations

import time
from typing import TextIO

PLAIN_EVERY = 10.0  # seconds between plain lines when stderr is not a terminal
WIDTH = 30


class Progress:
    """``update(done, total)`` as often as wanted; ``close()`` ends the bar's line."""

    def __init__(self, what: str, out: TextIO) -> None:
        self.what, self.out = what, out
        self.tty = out.isatty()
        self.started = time.monotonic()
        self.shown = self.started
        self.drawn = False

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        rate = done / max(now - self.started, 1e-6)
        if self.tty:
            filled = WIDTH * done // max(total, 1)
            bar = "#" * filled + "." * (WIDTH - filled)
            line = f"\rslaclock: {self.what} [{bar}] {done:,}/{total:,} tickets, {rate:,.0f}/s"
            self.out.write(line)
            self.out.flush()
            self.drawn = True
        elif now - self.shown >= PLAIN_EVERY:
            self.out.write(f"slaclock: {self.what} {done:,}/{total:,} tickets, {rate:,.0f}/s\n")
            self.out.flush()
            self.shown = now

    def close(self) -> None:
        if self.drawn:
            self.out.write("\n")
            self.out.flush()
            self.drawn = False
