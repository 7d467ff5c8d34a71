"""The one timestamp format and range slaclock accepts, wherever an instant comes in.

Events' ``occurred_at``, command-line options and API parameters all read instants with
:func:`parse_instant`, so that what one accepts the others accept too, with the same words.
RFC 3339 with a UTC offset, from 1970-01-01T00:00:00Z up to 2200-01-01T00:00:00Z
(:data:`FIRST_YEAR`..:data:`LAST_YEAR`); the exact rules: docs/events.md, "Timestamps".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

FIRST_YEAR = 1970
LAST_YEAR = 2199
SUPPORTED = f"{FIRST_YEAR}-01-01T00:00:00Z up to {LAST_YEAR + 1}-01-01T00:00:00Z"
EXAMPLE = "2025-10-06T12:00:00+02:00"

_DATE_TIME = r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
_RFC3339 = re.compile(_DATE_TIME + r"([Zz]|[+-]\d{2}:\d{2})", re.ASCII)
_NO_OFFSET = re.compile(_DATE_TIME, re.ASCII)
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
END = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)  # the first instant after the range


class InstantError(ValueError):
    """Not an acceptable instant; the message says why (callers prefix the field name)."""


def parse_instant(text: object) -> datetime:
    """A supported instant from RFC 3339 text with offset; :class:`InstantError` if not."""
    if not isinstance(text, str):
        raise InstantError(f"expected an RFC 3339 timestamp string, got {show(text)}")
    match = _RFC3339.fullmatch(text)
    if match is None:
        if _NO_OFFSET.fullmatch(text):
            raise InstantError(f"{show(text)} has no UTC offset (like {EXAMPLE})")
        raise InstantError(f"{show(text)} is not an RFC 3339 timestamp with offset, like {EXAMPLE}")
    try:
        value = datetime.fromisoformat(text)  # the regular expression let only RFC 3339 by
    except ValueError:
        value = _rebuilt(text, match)
    if FIRST_YEAR < int(match[1]) < LAST_YEAR:
        return value  # in range whatever the offset (comparing aware instants is slow)
    return check_range(value, text)


def _rebuilt(text: str, match: re.Match[str]) -> datetime:
    """What ``datetime.fromisoformat`` does not take as it is (a lower-case ``z``), or the
    reason it is not a valid instant (February 30, hour 24, offset beyond 23:59)."""
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = (fraction or "").ljust(6, "0")[:6]
    offset = "+00:00" if offset in ("Z", "z") else offset
    if int(offset[1:3]) > 23 or int(offset[4:]) > 59:
        raise InstantError(f"{show(text)} is not a valid instant (offset out of range)")
    try:
        return datetime.fromisoformat(
            f"{year}-{month}-{day}T{hour}:{minute}:{second}.{micro}{offset}"
        )
    except ValueError as exc:
        raise InstantError(f"{show(text)} is not a valid instant ({exc})") from None


def parse_month(text: str) -> str:
    """A ``YYYY-MM`` month in the supported years; :class:`InstantError` if not."""
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise InstantError(f"{show(text)} is not a month like 2025-09 (YYYY-MM)")
    if not FIRST_YEAR <= int(match[1]) <= LAST_YEAR:
        raise InstantError(f"{show(text)} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return text


def check_range(value: datetime, text: str | None = None) -> datetime:
    """``value`` if it lies in the supported range; :class:`InstantError` if not."""
    if not _EARLIEST <= value < END:
        shown = show(text) if text is not None else value.isoformat()
        raise InstantError(f"{shown} is outside the supported range ({SUPPORTED})")
    return value


def show(value: object) -> str:
    """A value for a message: its repr, cut to about 40 characters."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    text = repr(value)
    return text if len(text) <= 43 else text[:40] + "..."
