"""Business-day targets: ``"end-of-business-day"``, ``"end-of-business-day+N"`` and
``"next-business-day HH:MM"`` (ServiceNow's relative durations, GLPI's working-day targets).

A target of this kind is a deadline rule, not a duration: from a clock's start ``s`` on the
target's calendar it gives an instant, and the target's seconds are the open time between
``s`` and that instant. A **business day** is a local date on which at least one open
interval starts; an interval belongs to the date it starts on, so an overnight interval ends
on the next date. **Day 0** is the business day of the interval that contains ``s``, or of
the next one to open. Each answer is a few binary searches over the calendar's precomputed
intervals (:meth:`BusinessCalendar.dated_intervals`). Rules: docs/clocks.md.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from slaclock.domain.calendar import MAX_YEAR, BusinessCalendar, DatedIntervals
from slaclock.domain.local_time import localize

MAX_DAYS_AFTER = 30
"""The largest N of ``end-of-business-day+N``."""

_END_OF_DAY = re.compile(r"^end-of-business-day(?:\+(\d+))?$")
_NEXT_DAY = re.compile(r"^next-business-day (\d\d):(\d\d)$")
_FORMS = '"end-of-business-day", "end-of-business-day+N" (N 1..30) or "next-business-day HH:MM"'
_LONGEST_INTERVAL = 3 * 86400
"""No open interval is longer than this (an overnight interval plus a DST hour is ~25 h)."""
_YEARS_AHEAD = (1, 2, 4, 11)
"""How many years past the start's year are searched, widening only when needed (about ten
years of no business day is a misconfigured calendar, as for ``add``)."""


@dataclass(frozen=True, slots=True)
class BusinessDayRule:
    """One business-day target as configured: ``text`` is what the configuration says."""

    text: str
    days_after: int = 0
    """N of ``end-of-business-day+N`` (0 for ``end-of-business-day``)."""
    at_minute: int | None = None
    """Minutes after local midnight of ``next-business-day HH:MM``; None for the others."""

    def deadline(self, calendar: BusinessCalendar, start: int) -> int:
        """The deadline of a clock started at epoch second ``start`` on ``calendar``
        (remembered: every evaluation of a ticket asks again for the same start)."""
        return _remembered(self, calendar, start)

    def find(self, calendar: BusinessCalendar, start: int) -> int:
        """:meth:`deadline`, computed."""
        year = datetime.fromtimestamp(start, calendar.zone).year
        for ahead in _YEARS_AHEAD:
            days = calendar.dated_intervals(year - 1, min(year + ahead, MAX_YEAR))
            found = (
                self._end_of_day(days, start)
                if self.at_minute is None
                else self._next_day_at(days, calendar, start)
            )
            if found is not None:
                return found
        raise ValueError(
            f"calendar {calendar.name}: no business day for {self.text!r} within 10 years "
            f"after {calendar.to_datetime(start).isoformat()}"
        )

    def _end_of_day(self, days: DatedIntervals, start: int) -> int | None:
        """The end of the N-th business day after day 0, None when past ``days``."""
        day0 = _day_zero(days, start)
        if day0 is None:
            return None
        day = day0
        for _ in range(self.days_after):
            following = bisect_right(days.days, day)
            if following >= len(days.days):
                return None
            day = days.days[following]
        # Whole years are compiled, so every interval of a listed day is listed.
        first, last = bisect_left(days.days, day), bisect_right(days.days, day)
        return max(days.ends[first:last])

    def _next_day_at(
        self, days: DatedIntervals, calendar: BusinessCalendar, start: int
    ) -> int | None:
        """HH:MM on the first business day after the local date of ``start`` (the next
        opening when the calendar is closed then), None when past ``days``."""
        assert self.at_minute is not None
        today = datetime.fromtimestamp(start, calendar.zone).date().toordinal()
        following = bisect_right(days.days, today)
        if following >= len(days.days):
            return None
        midnight = datetime.fromordinal(days.days[following])
        return calendar.next_open(
            localize(midnight + timedelta(minutes=self.at_minute), calendar.zone)
        )


@lru_cache(maxsize=1 << 16)
def _remembered(rule: BusinessDayRule, calendar: BusinessCalendar, start: int) -> int:
    return rule.find(calendar, start)


def _day_zero(days: DatedIntervals, start: int) -> int | None:
    """The business day of the interval containing ``start`` (the earliest-starting one if
    several overlap), or of the next one to open; None when past ``days``."""
    starts, ends = days.starts, days.ends
    i = bisect_right(starts, start) - 1
    containing = None
    j = i
    while j >= 0 and starts[j] > start - _LONGEST_INTERVAL:
        if ends[j] > start:
            containing = j
        j -= 1
    if containing is not None:
        return days.days[containing]
    return days.days[i + 1] if i + 1 < len(starts) else None


def parse_business_day(text: str) -> BusinessDayRule | None:
    """The rule ``text`` names; None when ``text`` is not a business-day form at all (then it
    is a duration); ``ValueError`` naming the text when it is one but malformed."""
    if not isinstance(text, str):
        return None
    compact = " ".join(text.split())
    if not compact.startswith(("end-of-business-day", "next-business-day")):
        return None
    match = _END_OF_DAY.match(compact)
    if match:
        days = int(match.group(1)) if match.group(1) is not None else 0
        if match.group(1) is not None and not 1 <= days <= MAX_DAYS_AFTER:
            raise ValueError(f"bad target {text!r}: N of end-of-business-day+N must be 1..30")
        return BusinessDayRule(compact, days_after=days)
    match = _NEXT_DAY.match(compact)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour > 23 or minute > 59:
            raise ValueError(f"bad target {text!r}: HH:MM must be a time of day 00:00-23:59")
        return BusinessDayRule(compact, at_minute=hour * 60 + minute)
    raise ValueError(f"bad target {text!r}, expected {_FORMS}")
