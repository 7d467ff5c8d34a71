"""Business calendars: open time in a time zone, minus public holidays and closed dates.

:class:`BusinessCalendar` answers ``add(start, seconds)`` (the deadline) and ``between(a, b)``
(open seconds) for the SLA engine, in real elapsed seconds. Its weekly hours are compiled a
year at a time into sorted open intervals with cumulative sums, so each call is a binary
search rather than a walk over days. Which dates are closed comes from
:mod:`domain.holiday_rules`, wall-clock to epoch conversion from :mod:`domain.local_time`.
Semantics and design: docs/calendars.md.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slaclock.domain.holiday_rules import ClosedDates, HolidayRule
from slaclock.domain.local_time import (
    aware_epoch,
    utc_year,
    utc_year_start,
    year_dated_intervals,
)
from slaclock.domain.weekly_hours import WeeklyHours

__all__ = ["BusinessCalendar"]

_DAY = 86400

#: Years outside this range are rejected: nothing in an SLA engine legitimately needs them,
#: and a bound keeps a typo ("20255-01-01") from compiling thousands of years of intervals.
MIN_YEAR = 1900
MAX_YEAR = 2200

#: ``add`` raises ValueError instead of returning a deadline that lies beyond a closed
#: stretch longer than this (about ten years): such a calendar is misconfigured, and the
#: bound is also what guarantees that the forward search terminates.
NO_OPEN_TIME_LIMIT = 3653 * _DAY

# A year Y is "covered" (its open time is known exactly) between these margins of its UTC
# bounds.  Intervals that start on local date Y-1-12-31 can reach into Y by up to two
# local days (overnight interval, +-14 h UTC offset, DST gap shifts), and intervals that
# start on local Y+1-01-01 can begin up to 14 h before UTC midnight.
_LOW_MARGIN = 4 * _DAY
_HIGH_MARGIN = 2 * _DAY


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One immutable snapshot of compiled open time.

    ``starts``/``ends`` are the disjoint, non-touching open intervals in epoch seconds;
    ``cum[i]`` is the open time from the origin to ``starts[i]`` and ``cum_end[i]`` to
    ``ends[i]`` (so ``cum[i + 1] == cum_end[i]``).  Results are exact for instants in
    ``[lo, hi)``, the covered range.  ``long_gaps`` lists the closed stretches between
    consecutive intervals longer than ``NO_OPEN_TIME_LIMIT`` (normally none), so the
    hot path can skip the check with one truth test.
    """

    starts: list[int]
    ends: list[int]
    cum: list[int]
    cum_end: list[int]
    lo: int
    hi: int
    first_year: int
    last_year: int
    long_gaps: tuple[tuple[int, int], ...]


_MIN_EPOCH = utc_year_start(MIN_YEAR) + _LOW_MARGIN
_MAX_EPOCH = utc_year_start(MAX_YEAR + 1) - _HIGH_MARGIN


class BusinessCalendar:
    """Open time of weekly hours in an IANA zone, minus holidays and closed dates.

    See docs/calendars.md for semantics and design.  The public datetime API
    (:meth:`add`, :meth:`between`) wraps the integer epoch-second fast paths
    (:meth:`add_epoch`, :meth:`between_epoch`, :meth:`open_until`).
    """

    def __init__(
        self,
        name: str,
        timezone: str,
        hours: WeeklyHours,
        holidays: HolidayRule | None = None,
        closed: Iterable[date] = (),
    ) -> None:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            raise ValueError(f'unknown timezone "{timezone}"') from None
        if not isinstance(hours, WeeklyHours):
            raise ValueError(f"calendar {name}: hours must be WeeklyHours")
        self._closed_dates = ClosedDates.build(name, holidays, closed)
        self.name = name
        self.timezone = timezone
        self.zone = zone
        self.hours = hours
        self.holidays = holidays
        self.closed: frozenset[date] = self._closed_dates.extra
        # Weekday -> (start_minute, end_minute) pairs; precomputed for compilation.
        self._by_weekday: tuple[tuple[tuple[int, int], ...], ...] = tuple(
            tuple(sorted(hours.on(wd))) for wd in range(7)
        )
        self._year_cache: dict[int, list[tuple[int, int, int]]] = {}
        self._dated_cache: dict[tuple[int, int], DatedIntervals] = {}
        self._lock = threading.Lock()
        self._origin: int | None = None
        self._state: _Compiled | None = None

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name!r}, {self.timezone!r}, {self.hours})"

    # ------------------------------------------------------------------ explain helpers

    def closed_reason(self, day: date) -> str | None:
        """Why ``day`` is closed: the holiday name, ``"closed"`` for an extra closed date,
        or ``None`` when it is not a closed date (it may still have no hours that day)."""
        return self._closed_dates.reason(day)

    def open_intervals(self, a: int, b: int) -> list[tuple[int, int]]:
        """The open intervals (epoch seconds) clipped to ``[a, b)``; touching ones merged."""
        if b <= a:
            return []
        state = self._covering(a, b)
        starts, ends = state.starts, state.ends
        i = max(bisect_right(starts, a) - 1, 0)
        result: list[tuple[int, int]] = []
        n = len(starts)
        while i < n and starts[i] < b:
            s, e = max(starts[i], a), min(ends[i], b)
            if s < e:
                result.append((s, e))
            i += 1
        return result

    # ------------------------------------------------------------------ datetime API

    def add(self, start: datetime, seconds: int) -> datetime:
        """Earliest instant ``t >= start`` with ``seconds`` of open time in ``[start, t)``.

        Returned in the calendar's zone.  ``add(start, 0)`` is ``start`` itself (even
        when closed); otherwise ``start`` is floored to the second.
        """
        t = aware_epoch(start, "start")
        _check_seconds(seconds)
        if seconds == 0:
            return start.astimezone(self.zone)
        return datetime.fromtimestamp(self.add_epoch(t, seconds), self.zone)

    def between(self, a: datetime, b: datetime) -> int:
        """Open seconds in ``[a, b)`` (0 when ``b <= a``); both floored to the second."""
        return self.between_epoch(aware_epoch(a, "a"), aware_epoch(b, "b"))

    def to_datetime(self, t: int) -> datetime:
        """An epoch second as an aware datetime in the calendar's zone."""
        return datetime.fromtimestamp(t, self.zone)

    # ------------------------------------------------------------------ epoch fast paths

    def open_until(self, t: int) -> int:
        """Cumulative open seconds from the calendar's internal origin up to ``t``.

        Only differences are meaningful (the origin is an implementation detail, fixed
        for the lifetime of this object); values may be negative before the origin.
        """
        state = self._state
        if state is None or not state.lo <= t < state.hi:
            state = self._covering(t, t)
        starts = state.starts
        i = bisect_right(starts, t) - 1
        if i < 0:
            return state.cum[0] if starts else 0
        end = state.ends[i]
        return state.cum[i] + ((t if t < end else end) - starts[i])

    def between_epoch(self, a: int, b: int) -> int:
        """Open seconds in ``[a, b)`` in epoch seconds (0 when ``b <= a``)."""
        if b <= a:
            return 0
        state = self._state
        if state is None or not (state.lo <= a and b < state.hi):
            self._covering(a, b)
        return self.open_until(b) - self.open_until(a)

    def add_epoch(self, t: int, seconds: int) -> int:
        """Earliest epoch second ``r >= t`` with ``seconds`` open seconds in ``[t, r)``.

        The hot path: arguments are trusted to be ints (only a negative duration is
        checked); use :meth:`add` for validated datetime input.
        """
        if seconds <= 0:
            _check_seconds(seconds)
            return t
        state = self._state
        if state is None or not state.lo <= t < state.hi:
            state = self._covering(t, t)
        # Inline open_until(t): this is the engine's hot loop.
        starts = state.starts
        cum = state.cum
        i = bisect_right(starts, t) - 1
        if i >= 0:
            end = state.ends[i]
            target = cum[i] + ((t if t < end else end) - starts[i]) + seconds
        else:
            target = (cum[0] if starts else 0) + seconds
        j = bisect_left(state.cum_end, target)
        if j < len(starts):
            result = starts[j] + (target - cum[j])
            if result < state.hi:
                if state.long_gaps or i < 0:
                    self._check_closed_stretch(state, t, result)
                return result
        return self._add_slow(t, target)

    # ------------------------------------------------------------------ compilation

    def _add_slow(self, t: int, target: int) -> int:
        """Extend the compiled range forward until ``target`` cumulative time is reached."""
        step = 1
        while True:
            state = self._state
            assert state is not None
            j = bisect_left(state.cum_end, target)
            if j < len(state.starts):
                result = state.starts[j] + (target - state.cum[j])
                if result < state.hi:
                    self._check_closed_stretch(state, t, result)
                    return result
            last_open = max(t, state.ends[-1]) if state.ends else t
            if state.hi - last_open > NO_OPEN_TIME_LIMIT:
                self._raise_closed_stretch(last_open)
            if state.last_year >= MAX_YEAR:
                raise ValueError(
                    f"calendar {self.name}: deadline beyond the supported range (year {MAX_YEAR})"
                )
            new_last = min(state.last_year + step, MAX_YEAR)
            self._extend(state.first_year, new_last)
            step *= 2

    def _check_closed_stretch(self, state: _Compiled, t: int, result: int) -> None:
        """Raise if ``[t, result)`` contains a closed stretch longer than the limit.

        Checked against the compiled arrays (exact in the covered range), so the outcome
        does not depend on how far earlier calls happened to compile the calendar.
        """
        starts = state.starts
        if starts and t < starts[0] and starts[0] - t > NO_OPEN_TIME_LIMIT:
            self._raise_closed_stretch(t)
        for gap_start, gap_end in state.long_gaps:
            overlap = min(gap_end, result) - max(gap_start, t)
            if overlap > NO_OPEN_TIME_LIMIT:
                self._raise_closed_stretch(max(gap_start, t))

    def _raise_closed_stretch(self, since: int) -> None:
        raise ValueError(
            f"calendar {self.name}: no open time for over 10 years after "
            f"{self.to_datetime(since).isoformat()}"
        )

    def _covering(self, a: int, b: int) -> _Compiled:
        """A compiled state whose covered range contains ``[a, b]``, extending as needed."""
        state = self._state
        if state is not None and state.lo <= a and b < state.hi:
            return state
        if a < _MIN_EPOCH or b >= _MAX_EPOCH:
            raise ValueError(
                f"calendar {self.name}: instants must lie in years {MIN_YEAR}..{MAX_YEAR}"
            )
        first = utc_year(a - _LOW_MARGIN)
        last = utc_year(b + _HIGH_MARGIN)
        if state is not None:
            first = min(first, state.first_year)
            last = max(last, state.last_year)
        return self._extend(first, last)

    def _extend(self, first_year: int, last_year: int) -> _Compiled:
        """Compile years ``first_year..last_year`` (reusing cached years) and swap state in."""
        with self._lock:
            state = self._state
            if state is not None:
                if state.first_year <= first_year and last_year <= state.last_year:
                    return state
                first_year = min(first_year, state.first_year)
                last_year = max(last_year, state.last_year)
            starts, ends = self._merged_intervals(first_year, last_year)
            lo = utc_year_start(first_year) + _LOW_MARGIN
            hi = utc_year_start(last_year + 1) - _HIGH_MARGIN
            if self._origin is None:
                self._origin = lo
            cum, cum_end = _cumulative(starts, ends, self._origin)
            long_gaps = tuple(
                (ends[k], starts[k + 1])
                for k in range(len(starts) - 1)
                if starts[k + 1] - ends[k] > NO_OPEN_TIME_LIMIT
            )
            new_state = _Compiled(
                starts, ends, cum, cum_end, lo, hi, first_year, last_year, long_gaps
            )
            self._state = new_state
            return new_state

    def _merged_intervals(self, first_year: int, last_year: int) -> tuple[list[int], list[int]]:
        """Starts and ends of the open intervals of the years, overlapping ones merged."""
        starts: list[int] = []
        ends: list[int] = []
        for year in range(first_year, last_year + 1):
            for s, e, _ in self._year_intervals(year):
                # Years are in order and each year's list is sorted by start, so the
                # concatenation is sorted; merge overlapping or touching intervals,
                # including across year boundaries (overnight Dec 31 -> Jan 1).
                if ends and s <= ends[-1]:
                    if e > ends[-1]:
                        ends[-1] = e
                else:
                    starts.append(s)
                    ends.append(e)
        return starts, ends

    def _year_intervals(self, year: int) -> list[tuple[int, int, int]]:
        """The open intervals starting on local dates in ``year`` with those dates' ordinals
        (compiled once per year)."""
        cached = self._year_cache.get(year)
        if cached is None:
            closed = self._closed_dates.in_year(year)
            cached = year_dated_intervals(year, self._by_weekday, self.zone, closed)
            self._year_cache[year] = cached
        return cached

    # ------------------------------------------------------------------ business days

    def dated_intervals(self, first_year: int, last_year: int) -> DatedIntervals:
        """The open intervals (not merged) that start on local dates of the years
        ``first_year..last_year``, each with the ordinal of its date: business days
        (docs/clocks.md, business-day targets). Cached per range."""
        key = (first_year, last_year)
        cached = self._dated_cache.get(key)
        if cached is None:
            if first_year < MIN_YEAR or last_year > MAX_YEAR:
                raise ValueError(
                    f"calendar {self.name}: instants must lie in years {MIN_YEAR}..{MAX_YEAR}"
                )
            rows = [
                row for y in range(first_year, last_year + 1) for row in self._year_intervals(y)
            ]
            cached = DatedIntervals(
                [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
            )
            with self._lock:
                if len(self._dated_cache) > 64:
                    self._dated_cache.clear()
                self._dated_cache[key] = cached
        return cached

    def next_open(self, t: int) -> int:
        """The first instant at or after ``t`` at which the calendar is open."""
        return self.add_epoch(t, 1) - 1


@dataclass(frozen=True, slots=True)
class DatedIntervals:
    """Open intervals in start order with the local date (ordinal) each belongs to."""

    starts: list[int]
    ends: list[int]
    days: list[int]


def _check_seconds(seconds: int) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValueError(f"duration must be whole seconds (int), got {seconds!r}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {seconds}")


def _cumulative(starts: list[int], ends: list[int], origin: int) -> tuple[list[int], list[int]]:
    """Open time from ``origin`` to each interval's start and end (negative before it).

    Measured so that ``open_until(origin) == 0`` forever: earlier years only ever get
    prepended below the origin, so values already handed out stay valid.
    """
    cum: list[int] = []
    cum_end: list[int] = []
    total = 0
    for s, e in zip(starts, ends, strict=True):
        cum.append(total)
        total += e - s
        cum_end.append(total)
    shift = _raw_open_until(starts, ends, cum, origin)
    if shift:
        cum = [c - shift for c in cum]
        cum_end = [c - shift for c in cum_end]
    return cum, cum_end


def _raw_open_until(starts: list[int], ends: list[int], cum: list[int], t: int) -> int:
    i = bisect_right(starts, t) - 1
    if i < 0:
        return 0
    return cum[i] + min(t, ends[i]) - starts[i]
