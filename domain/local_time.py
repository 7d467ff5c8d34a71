"""Epoch seconds and wall-clock time: what the business calendar's interval engine builds on.

The engine works in whole UTC epoch seconds; configuration speaks in local wall-clock minutes
of a weekday. This module converts between the two, resolving DST: a repeated hour means its
first occurrence, a time inside a gap moves to the transition.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)


def aware_epoch(value: datetime, what: str) -> int:
    """Floor an aware datetime to whole epoch seconds (exact integer arithmetic)."""
    if not isinstance(value, datetime):
        raise ValueError(f"{what}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what}: naive datetime {value.isoformat()} (a time zone is required)")
    return (value - _EPOCH) // _ONE_SECOND


def utc_year_start(year: int) -> int:
    """The epoch second of January 1 of ``year``, 00:00 UTC."""
    return (datetime(year, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_SECOND


def utc_year(t: int) -> int:
    """The UTC calendar year of epoch second ``t``."""
    return (_EPOCH + timedelta(seconds=t)).year


def year_intervals(
    year: int,
    by_weekday: Sequence[Sequence[tuple[int, int]]],
    zone: ZoneInfo,
    closed: Container[date],
) -> list[tuple[int, int]]:
    """Open intervals (epoch seconds) of the intervals that START on local dates in ``year``.

    ``by_weekday[d]`` holds the (start_minute, end_minute) pairs of weekday ``d`` (Monday 0),
    an end at or before the start meaning the next day; days in ``closed`` have none.
    Sorted by start, empty ones dropped, not merged (merging is the caller's, across years).
    """
    return [(s, e) for s, e, _ in year_dated_intervals(year, by_weekday, zone, closed)]


def year_dated_intervals(
    year: int,
    by_weekday: Sequence[Sequence[tuple[int, int]]],
    zone: ZoneInfo,
    closed: Container[date],
) -> list[tuple[int, int, int]]:
    """As :func:`year_intervals`, each interval with the ordinal of the local date it starts
    on (the business day it belongs to)."""
    result: list[tuple[int, int, int]] = []
    day = date(year, 1, 1)
    one_day = timedelta(days=1)
    while day.year == year:
        pairs = by_weekday[day.weekday()]
        if pairs and day not in closed:
            midnight = datetime(day.year, day.month, day.day)
            ordinal = day.toordinal()
            for start_min, end_min in pairs:
                if end_min <= start_min:
                    end_min += 1440  # overnight: ends on the next day
                s = localize(midnight + timedelta(minutes=start_min), zone)
                e = localize(midnight + timedelta(minutes=end_min), zone)
                if e > s:
                    result.append((s, e, ordinal))
        day += one_day
    result.sort()
    return result


def localize(wall: datetime, zone: ZoneInfo) -> int:
    """Epoch second of a naive wall-clock time in ``zone``.

    A time in a repeated hour takes its first occurrence (fold=0).  A time inside a DST
    gap does not exist; it moves to the first instant after the gap, i.e. the transition
    itself, found by bisecting between the two candidate instants (gaps are rare, so the
    few extra offset look-ups do not matter).
    """
    first = wall.replace(tzinfo=zone, fold=0)
    offset0 = first.utcoffset()
    offset1 = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert offset0 is not None and offset1 is not None
    naive_epoch = (wall - _EPOCH.replace(tzinfo=None)) // _ONE_SECOND
    t0 = naive_epoch - int(offset0.total_seconds())
    if offset0 >= offset1:
        return t0  # normal time, or the first occurrence of a repeated hour
    # Gap: with the pre-transition offset the instant lands after the transition (t0),
    # with the post-transition offset before it (t1).  Find the first second whose
    # offset is the post-transition one.
    t1 = naive_epoch - int(offset1.total_seconds())
    low, high = t1, t0  # offset(low) is pre-transition, offset(high) is post-transition
    while high - low > 1:
        mid = (low + high) // 2
        if (_EPOCH + timedelta(seconds=mid)).astimezone(zone).utcoffset() == offset1:
            high = mid
        else:
            low = mid
    return high
