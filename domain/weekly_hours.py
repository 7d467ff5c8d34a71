"""Weekly opening hours: parsing the ``hours`` table and the "HxDxR" service-level shorthand.

Configuration text becomes a small validated value (:class:`WeeklyHours`) of intervals
``(weekday, start_minute, end_minute)``; time zones, dates and holidays are the job of
:mod:`domain.calendar`. Kept apart so that the parser can be tested exhaustively without any
clock and the calendar can trust every interval it gets. Conventions: docs/calendars.md,
"Weekly hours".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "DAY_NAMES",
    "WeeklyHours",
    "parse_hours",
    "parse_minute",
    "parse_service_level",
    "service_level_hours",
]

MINUTES_PER_DAY = 1440

#: Canonical three-letter day names, indexed by weekday number (0 = Monday).
DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_LOOKUP: dict[str, int] = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{name: i for i, name in enumerate(_FULL_DAY_NAMES)},
}

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_INTERVAL_RE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
_SERVICE_LEVEL_RE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*[xX]\s*(\d+)\s*$")

#: Days covered by the "D" of an "HxDxR" service level.
_SERVICE_LEVEL_DAYS: dict[int, tuple[int, ...]] = {
    5: (0, 1, 2, 3, 4),
    6: (0, 1, 2, 3, 4, 5),
    7: (0, 1, 2, 3, 4, 5, 6),
}


@dataclass(frozen=True)
class WeeklyHours:
    """The recurring weekly open intervals of a calendar, in wall-clock minutes.

    ``intervals`` holds ``(weekday, start_minute, end_minute)`` triples (see the module
    docstring for the overnight rule).  The tuple is validated on construction so that
    the calendar compiler never has to defend against nonsense, whoever built the value;
    :func:`parse_hours` additionally sorts and de-duplicates it so that equal tables
    compare equal.  Overlapping or touching intervals are allowed here: the calendar
    merges them after localising, which is the only place where "touching" can be
    decided correctly (two wall-clock intervals may touch or not depending on DST).
    """

    intervals: tuple[tuple[int, int, int], ...]

    def __post_init__(self) -> None:
        # Accept any iterable of triples but store a tuple of tuples, so the value stays
        # hashable and immutable even if a caller passed lists.
        intervals = tuple(tuple(item) for item in self.intervals)
        object.__setattr__(self, "intervals", intervals)
        if not intervals:
            raise ValueError("weekly hours have no open time")
        for item in intervals:
            if len(item) != 3 or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in item
            ):
                raise ValueError(f"bad weekly interval {item!r}: expected (weekday, start, end)")
            weekday, start, end = item
            if not 0 <= weekday <= 6:
                raise ValueError(f"bad weekly interval {item!r}: weekday must be 0..6")
            if not 0 <= start < MINUTES_PER_DAY:
                raise ValueError(f"bad weekly interval {item!r}: start minute must be 0..1439")
            if not 0 <= end <= MINUTES_PER_DAY:
                raise ValueError(f"bad weekly interval {item!r}: end minute must be 0..1440")

    def on(self, weekday: int) -> tuple[tuple[int, int], ...]:
        """Return the ``(start_minute, end_minute)`` pairs of intervals starting on ``weekday``."""
        return tuple((s, e) for d, s, e in self.intervals if d == weekday)

    @property
    def nominal_weekly_seconds(self) -> int:
        """Open seconds in a week without DST changes or closed dates (for sanity checks).

        Overlaps are not deduplicated, so this is an upper bound when intervals overlap.
        """
        total = 0
        for _, start, end in self.intervals:
            minutes = end - start if end > start else end + MINUTES_PER_DAY - start
            total += minutes * 60
        return total

    def __str__(self) -> str:
        parts = []
        for weekday, start, end in self.intervals:
            overnight = "+1" if end <= start else ""
            parts.append(f"{DAY_NAMES[weekday]} {_fmt(start)}-{_fmt(end)}{overnight}")
        return ", ".join(parts)


def _fmt(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_minute(text: str, *, allow_24: bool = False) -> int:
    """Parse ``"HH:MM"`` into minutes after midnight.

    ``"24:00"`` is accepted only when ``allow_24`` is set, because it is meaningful as
    the end of an interval ("until midnight") but not as a start.  Raises ``ValueError``
    (without context; callers add the key they were parsing).
    """
    match = _TIME_RE.match(text.strip())
    if not match:
        raise ValueError(f'bad time "{text}", expected HH:MM')
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes != 0 or not allow_24)):
        raise ValueError(f'bad time "{text}", expected HH:MM')
    return hours * 60 + minutes


def _parse_days(spec: str) -> list[int]:
    """Parse a day spec such as ``"mon-fri"``, ``"sat,sun"`` or ``"mon-wed,fri"``.

    Ranges wrap around the week (``"fri-mon"`` is Fri, Sat, Sun, Mon) because a
    week has no natural first day for support desks working weekends.
    """
    key = f'hours."{spec}"'
    days: list[int] = []
    parts = spec.split(",")
    for raw_part in parts:
        part = raw_part.strip().lower()
        if not part:
            raise ValueError(f"{key}: empty day in day spec")
        if "-" in part:
            first, _, last = (x.strip() for x in part.partition("-"))
            for name in (first, last):
                if name not in _DAY_LOOKUP:
                    raise ValueError(f'{key}: unknown day "{name}"')
            a, b = _DAY_LOOKUP[first], _DAY_LOOKUP[last]
            span = (b - a) % 7
            days.extend((a + i) % 7 for i in range(span + 1))
        else:
            if part not in _DAY_LOOKUP:
                raise ValueError(f'{key}: unknown day "{part}"')
            days.append(_DAY_LOOKUP[part])
    return days


def _parse_interval(spec: str, text: object) -> tuple[int, int]:
    key = f'hours."{spec}"'
    if not isinstance(text, str):
        raise ValueError(f"{key}: bad interval {text!r}, expected HH:MM-HH:MM")
    match = _INTERVAL_RE.match(text)
    if not match:
        raise ValueError(f'{key}: bad interval "{text}", expected HH:MM-HH:MM')
    try:
        start = parse_minute(match.group(1))
        end = parse_minute(match.group(2), allow_24=True)
    except ValueError as exc:
        raise ValueError(f'{key}: bad interval "{text}": {exc}') from None
    return start, end


def parse_hours(table: Mapping[str, str | Sequence[str]]) -> WeeklyHours:
    """Parse an ``hours`` table into :class:`WeeklyHours`.

    Keys are day specs (``"mon"``, ``"mon-fri"``, ``"sat,sun"``, ``"mon-wed,fri"``);
    values are one ``"HH:MM-HH:MM"`` interval or a list of them.  The open time is the
    union of everything listed, so a day may appear under several keys.  Errors name the
    offending key and value because this is what a user editing a config file needs.
    """
    if not isinstance(table, Mapping):
        raise ValueError(f"hours: expected a table of day specs, got {type(table).__name__}")
    if not table:
        raise ValueError("hours: empty table, no open time")
    found: set[tuple[int, int, int]] = set()
    for spec, value in table.items():
        if not isinstance(spec, str):
            raise ValueError(f'hours: bad day spec {spec!r}, expected text such as "mon-fri"')
        days = _parse_days(spec)
        if isinstance(value, str):
            texts: Sequence[object] = [value]
        elif isinstance(value, Sequence):
            texts = value
        else:
            raise ValueError(
                f'hours."{spec}": bad value {value!r}, expected "HH:MM-HH:MM" or a list of them'
            )
        for text in texts:
            start, end = _parse_interval(spec, text)
            for day in days:
                found.add((day, start, end))
    if not found:
        raise ValueError("hours: no open time in any day")
    return WeeklyHours(tuple(sorted(found)))


def parse_service_level(text: str) -> tuple[int, int, int]:
    """Parse the "HxDxR" shorthand, e.g. ``"8x5x12"`` -> ``(8, 5, 12)``.

    H is business hours per day (1..24), D the number of days a week (5 = Mon-Fri,
    6 = Mon-Sat, 7 = Mon-Sun) and R the response target in hours (> 0).
    """
    if not isinstance(text, str):
        raise ValueError(f'service level {text!r}: expected text such as "8x5x12"')
    match = _SERVICE_LEVEL_RE.match(text)
    if not match:
        raise ValueError(f'service level "{text}": expected HxDxR, e.g. "8x5x12"')
    hours, days, response = (int(g) for g in match.groups())
    if not 1 <= hours <= 24:
        raise ValueError(f'service level "{text}": hours per day must be 1..24, got {hours}')
    if days not in _SERVICE_LEVEL_DAYS:
        raise ValueError(f'service level "{text}": days per week must be 5, 6 or 7, got {days}')
    if response <= 0:
        raise ValueError(f'service level "{text}": response target must be > 0, got {response}')
    return hours, days, response


def service_level_hours(hours_per_day: int, days: int, day_starts: str) -> WeeklyHours:
    """Weekly hours for "H business hours a day from ``day_starts``, on D days a week".

    The interval may run overnight (12 hours from 20:00 is 20:00-08:00 next day) and
    belongs to the day it starts on.  H = 24 gives whole days: 00:00-24:00 when the day
    starts at midnight, otherwise 24 hours from ``day_starts`` (e.g. Mon 09:00 to Tue
    09:00), which keeps the rule "H hours from day_starts" without exceptions.
    """
    if not 1 <= hours_per_day <= 24:
        raise ValueError(f"service level: hours per day must be 1..24, got {hours_per_day}")
    if days not in _SERVICE_LEVEL_DAYS:
        raise ValueError(f"service level: days per week must be 5, 6 or 7, got {days}")
    try:
        start = parse_minute(day_starts)
    except (ValueError, AttributeError):
        raise ValueError(f'day_starts "{day_starts}": expected HH:MM') from None
    end = start + hours_per_day * 60
    if end > MINUTES_PER_DAY:
        end -= MINUTES_PER_DAY  # overnight: end <= start
    return WeeklyHours(tuple((day, start, end) for day in _SERVICE_LEVEL_DAYS[days]))
