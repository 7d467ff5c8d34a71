"""Progress on stderr: a bar redrawn in place on a terminal, a plain periodic line otherwise."""

from __future__ import annotations

import io

from slaclock import progress
from slaclock.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_bar_redrawn_in_place_and_a_newline_at_the_end() -> None:
    out = Terminal()
    bar = Progress("recomputing", out)
    bar.update(500, 1000)
    bar.update(1000, 1000)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "[" + "#" * progress.WIDTH + "] 1,000/1,000 tickets" in text


def test_a_log_gets_a_plain_line_only_every_so_often(monkeypatch) -> None:
    out = io.StringIO()
    bar = Progress("recomputing", out)
    bar.update(10, 100)
    assert out.getvalue() == ""  # a short recompute says nothing
    monkeypatch.setattr(progress, "PLAIN_EVERY", 0.0)
    bar.update(20, 100)
    bar.close()
    assert out.getvalue().startswith("slaclock: recomputing 20/100 tickets, ")
    assert "\r" not in out.getvalue() and out.getvalue().count("\n") == 1
