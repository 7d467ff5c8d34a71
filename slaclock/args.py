"""Command-line input shared by every command module: errors and the parsed values.

A user's mistake on the command line is a :class:`UsageError` (exit 2) naming the option;
something asked for that does not exist is :class:`NotFound` (exit 1).
"""

from __future__ import annotations

from datetime import datetime


class UsageError(Exception):
    """Bad input on the command line (exit 2)."""


class NotFound(Exception):
    """What was asked for does not exist (exit 1)."""


def instant(text: str, option: str) -> datetime:
    """An RFC 3339 timestamp with UTC offset from ``option``."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not an RFC 3339 timestamp") from None
    if value.tzinfo is None:
        raise UsageError(f"{option}: {text!r} has no UTC offset")
    return value


def month(text: str, option: str = "--month") -> str:
    """A ``YYYY-MM`` month."""
    try:
        datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a month like 2025-09") from None
    return text
