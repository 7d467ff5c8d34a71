"""Command-line input shared by every command module: errors and the parsed values.

A user's mistake on the command line is a :class:`UsageError` (exit 2) naming the option;
something asked for that does not exist is :class:`NotFound` (exit 1).
"""

from __future__ import annotations

from datetime import datetime

from domain.instants import InstantError, parse_instant, parse_month


class UsageError(Exception):
    """Bad input on the command line (exit 2)."""


class NotFound(Exception):
    """What was asked for does not exist (exit 1)."""


def instant(text: str, option: str) -> datetime:
    """An RFC 3339 timestamp with UTC offset from ``option``, in the supported range
    (see ``domain.instants``)."""
    try:
        return parse_instant(text)
    except InstantError as exc:
        raise UsageError(f"{option}: {exc}") from None


def month(text: str, option: str = "--month") -> str:
    """A ``YYYY-MM`` month in the supported years."""
    try:
        return parse_month(text)
    except InstantError as exc:
        raise UsageError(f"{option}: {exc}") from None
