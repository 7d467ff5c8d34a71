"""Business calendars: open time in a time zone, minus public holidays and closed dates.

A :class:`BusinessCalendar` answers two questions for the SLA engine:

* ``add(start, d)``: the earliest instant ``t >= start`` with exactly ``d`` seconds of open
  time in ``[start, t)`` (a deadline that fills a day exactly is that day's closing time,
  and ``add(start, 0) == start`` even when closed);
* ``between(a, b)``: the open seconds in ``[a, b)`` (0 when ``b <= a``).

Durations are real elapsed seconds, so an open interval containing a DST change is an
hour shorter or longer than its wall-clock length.

Design (performance is a requirement: the engine calls ``add_epoch`` in its hot loop):
the weekly hours are compiled, lazily and a calendar year at a time, into a sorted list
of disjoint open intervals in UTC epoch seconds together with the cumulative open time
at the start of each interval.  ``open_until(t)`` is then one ``bisect`` plus arithmetic,
``between`` is a difference of two ``open_until`` values and ``add`` is ``open_until``
followed by a ``bisect`` over the cumulative sums: O(log n) per call, no stepping by
minutes or days.  Compiled state is swapped in as one tuple so a reader never sees half
an extension.

Cumulative values are measured from a fixed internal origin (chosen on first use and
never moved: building earlier years yields negative values), so ``open_until`` results
from one calendar object stay comparable for the object's whole life.

Instants are whole seconds: datetimes are floored to the second on the way in (the
engine works in integer epoch seconds; sub-second precision has no meaning for SLAs).
The only exception is ``add(start, 0)``, which returns ``start`` itself.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

from domain.weekly_hours import WeeklyHours

__all__ = ["BusinessCalendar", "HolidayRule"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)
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


# --------------------------------------------------------------------------- holidays


@lru_cache(maxsize=1024)
def _holidays_for_year(
    country: str, subdivision: str | None, categories: tuple[str, ...], year: int
) -> dict[date, str]:
    """Build one year of holidays once; callers get copies.

    Built per year (``years=year``) instead of relying on the package's ``expand=True``
    mutation during lookups, so results never depend on which lookups ran before.
    Dates outside ``year`` are dropped: the package already places an observed day that
    falls in the previous year (e.g. US New Year observed on Dec 31) into that year.
    """
    try:
        table = holidays_lib.country_holidays(
            country,
            subdiv=subdivision,
            years=year,
            categories=categories or None,
        )
    except NotImplementedError:
        # The package signals unknown countries/subdivisions this way; callers expect
        # ValueError like every other configuration error.
        raise _unknown_holiday_error(country, subdivision) from None
    except (ValueError, KeyError) as exc:
        raise ValueError(
            f'holidays "{country}": unsupported category in {list(categories)}: {exc}'
        ) from None
    return {day: str(name) for day, name in table.items() if day.year == year}


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    return frozenset(holidays_lib.list_supported_countries())


def _unknown_holiday_error(country: str, subdivision: str | None) -> ValueError:
    if country not in _supported_countries():
        return ValueError(f'unknown holiday country "{country}"')
    return ValueError(f'unknown subdivision "{subdivision}" for holiday country "{country}"')


@lru_cache(maxsize=256)
def _entity_class(country: str) -> type:
    """The holidays class for ``country`` (validating the country code)."""
    if country not in _supported_countries():
        raise ValueError(f'unknown holiday country "{country}"')
    return type(holidays_lib.country_holidays(country, years=()))


@lru_cache(maxsize=1024)
def _resolve_subdivision(country: str, subdivision: str | None) -> str | None:
    """Map a subdivision to the package's spelling (case-insensitive, aliases allowed)."""
    if subdivision is None:
        return None
    entity = _entity_class(country)
    known: list[str] = list(getattr(entity, "subdivisions", ()))
    known += list(getattr(entity, "subdivisions_aliases", {}) or {})
    known += list(getattr(entity, "_deprecated_subdivisions", ()) or ())
    if subdivision in known:
        return subdivision
    folded = subdivision.strip().casefold()
    for candidate in known:
        if candidate.casefold() == folded:
            return candidate
    raise ValueError(f'unknown subdivision "{subdivision}" for holiday country "{country}"')


@dataclass(frozen=True)
class HolidayRule:
    """Public holidays of one country (optionally one subdivision) from ``holidays``.

    Uses the package's defaults, so observed/substitute days are included for countries
    that have them.  ``categories`` is passed through as given: a non-empty value
    *replaces* the default ("public"), so list "public" too to keep public holidays.
    The country code is upper-cased and the subdivision matched case-insensitively,
    because config files are written by people.
    """

    country: str
    subdivision: str | None = None
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.country, str) or not self.country.strip():
            raise ValueError(f"holidays: bad country {self.country!r}")
        object.__setattr__(self, "country", self.country.strip().upper())
        if self.subdivision is not None:
            # TOML may give a number (French departments such as 57); the package wants text.
            object.__setattr__(self, "subdivision", str(self.subdivision).strip())
        categories = self.categories
        if isinstance(categories, str):
            categories = (categories,)
        object.__setattr__(self, "categories", tuple(str(c).strip().lower() for c in categories))

    def validate(self) -> None:
        """Raise ``ValueError`` naming an unknown country, subdivision or category."""
        entity = _entity_class(self.country)
        _resolve_subdivision(self.country, self.subdivision)
        supported = tuple(getattr(entity, "supported_categories", ()))
        for category in self.categories:
            if category not in supported:
                raise ValueError(
                    f'unknown holiday category "{category}" for country "{self.country}"'
                    f" (supported: {', '.join(supported)})"
                )

    def dates(self, year: int) -> dict[date, str]:
        """Holidays in ``year`` as ``date -> name`` (names of shared dates joined by "; ")."""
        subdivision = _resolve_subdivision(self.country, self.subdivision)
        return dict(_holidays_for_year(self.country, subdivision, self.categories, year))


# --------------------------------------------------------------------------- calendar


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


def _aware_epoch(value: datetime, what: str) -> int:
    """Floor an aware datetime to whole epoch seconds (exact integer arithmetic)."""
    if not isinstance(value, datetime):
        raise ValueError(f"{what}: expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what}: naive datetime {value.isoformat()} (a time zone is required)")
    return (value - _EPOCH) // _ONE_SECOND


def _utc_year_start(year: int) -> int:
    return (datetime(year, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_SECOND


def _utc_year(t: int) -> int:
    return (_EPOCH + timedelta(seconds=t)).year


_MIN_EPOCH = _utc_year_start(MIN_YEAR) + _LOW_MARGIN
_MAX_EPOCH = _utc_year_start(MAX_YEAR + 1) - _HIGH_MARGIN


class BusinessCalendar:
    """Open time of weekly hours in an IANA zone, minus holidays and closed dates.

    See the module docstring for semantics and design.  The public datetime API
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
        if holidays is not None:
            holidays.validate()
        closed_dates: set[date] = set()
        for day in closed:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"calendar {name}: closed date must be a date, got {day!r}")
            closed_dates.add(day)
        self.name = name
        self.timezone = timezone
        self.zone = zone
        self.hours = hours
        self.holidays = holidays
        self.closed: frozenset[date] = frozenset(closed_dates)
        # Weekday -> (start_minute, end_minute) pairs; precomputed for compilation.
        self._by_weekday: tuple[tuple[tuple[int, int], ...], ...] = tuple(
            tuple(sorted(hours.on(wd))) for wd in range(7)
        )
        self._year_cache: dict[int, list[tuple[int, int]]] = {}
        self._lock = threading.Lock()
        self._origin: int | None = None
        self._state: _Compiled | None = None

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.name!r}, {self.timezone!r}, {self.hours})"

    # ------------------------------------------------------------------ explain helpers

    def closed_reason(self, day: date) -> str | None:
        """Why ``day`` is closed: the holiday name, ``"closed"`` for an extra closed date,
        or ``None`` when it is not a closed date (it may still have no hours that day)."""
        if self.holidays is not None:
            name = self.holidays.dates(day.year).get(day)
            if name is not None:
                return name
        if day in self.closed:
            return "closed"
        return None

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
        t = _aware_epoch(start, "start")
        _check_seconds(seconds)
        if seconds == 0:
            return start.astimezone(self.zone)
        return datetime.fromtimestamp(self.add_epoch(t, seconds), self.zone)

    def between(self, a: datetime, b: datetime) -> int:
        """Open seconds in ``[a, b)`` (0 when ``b <= a``); both floored to the second."""
        return self.between_epoch(_aware_epoch(a, "a"), _aware_epoch(b, "b"))

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
        first = _utc_year(a - _LOW_MARGIN)
        last = _utc_year(b + _HIGH_MARGIN)
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
            starts: list[int] = []
            ends: list[int] = []
            for year in range(first_year, last_year + 1):
                for s, e in self._year_intervals(year):
                    # Years are in order and each year's list is sorted by start, so the
                    # concatenation is sorted; merge overlapping or touching intervals,
                    # including across year boundaries (overnight Dec 31 -> Jan 1).
                    if ends and s <= ends[-1]:
                        if e > ends[-1]:
                            ends[-1] = e
                    else:
                        starts.append(s)
                        ends.append(e)
            cum: list[int] = []
            cum_end: list[int] = []
            total = 0
            for s, e in zip(starts, ends, strict=True):
                cum.append(total)
                total += e - s
                cum_end.append(total)
            lo = _utc_year_start(first_year) + _LOW_MARGIN
            hi = _utc_year_start(last_year + 1) - _HIGH_MARGIN
            if self._origin is None:
                self._origin = lo
            # Shift so that open_until(origin) == 0 forever: earlier years only ever get
            # prepended below the origin, so values already handed out stay valid.
            shift = _raw_open_until(starts, ends, cum, self._origin)
            if shift:
                cum = [c - shift for c in cum]
                cum_end = [c - shift for c in cum_end]
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

    def _closed_dates(self, year: int) -> set[date]:
        closed = {d for d in self.closed if d.year == year}
        if self.holidays is not None:
            closed.update(self.holidays.dates(year))
        return closed

    def _year_intervals(self, year: int) -> list[tuple[int, int]]:
        """Open intervals (epoch seconds) of the intervals that START on local dates in
        ``year``, sorted by start, empty ones dropped (not merged: merging is global)."""
        cached = self._year_cache.get(year)
        if cached is not None:
            return cached
        closed = self._closed_dates(year)
        by_weekday = self._by_weekday
        zone = self.zone
        result: list[tuple[int, int]] = []
        day = date(year, 1, 1)
        one_day = timedelta(days=1)
        while day.year == year:
            pairs = by_weekday[day.weekday()]
            if pairs and day not in closed:
                midnight = datetime(day.year, day.month, day.day)
                for start_min, end_min in pairs:
                    if end_min <= start_min:
                        end_min += 1440  # overnight: ends on the next day
                    s = _localize(midnight + timedelta(minutes=start_min), zone)
                    e = _localize(midnight + timedelta(minutes=end_min), zone)
                    if e > s:
                        result.append((s, e))
            day += one_day
        result.sort()
        self._year_cache[year] = result
        return result


def _check_seconds(seconds: int) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValueError(f"duration must be whole seconds (int), got {seconds!r}")
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {seconds}")


def _raw_open_until(starts: list[int], ends: list[int], cum: list[int], t: int) -> int:
    i = bisect_right(starts, t) - 1
    if i < 0:
        return 0
    return cum[i] + min(t, ends[i]) - starts[i]


def _localize(wall: datetime, zone: ZoneInfo) -> int:
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
