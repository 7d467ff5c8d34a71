"""Property tests for BusinessCalendar: algebraic laws of add/between plus a slow oracle.

The laws (inverse, monotonicity, additivity, minimality) hold for any correct
implementation regardless of DST or holidays, so they are checked on calendars chosen
to be awkward: overnight intervals, several intervals a day, touching intervals,
northern and southern DST, a half-hour DST zone, and interval boundaries that fall
into DST gaps and repeated hours.  The oracle recomputes open time for
short windows in the most direct way possible (day by day, minute-stepping out of DST
gaps) to catch errors the laws alone cannot see, such as a wrong interval everywhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.domain.calendar import BusinessCalendar
from slaclock.domain.holiday_rules import HolidayRule
from slaclock.domain.weekly_hours import parse_hours

H = 3600
LO = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
HI = int(datetime(2027, 12, 31, tzinfo=UTC).timestamp())

SPECS: dict[str, tuple[str, dict[str, str | list[str]], tuple[str, str | None] | None, tuple]] = {
    "office": (
        "Europe/Berlin",
        {"mon-fri": "09:00-17:00"},
        ("DE", "NW"),
        (date(2025, 12, 24), date(2025, 12, 31)),
    ),
    "night-ny": (
        "America/New_York",
        {"mon-fri": "20:00-08:00", "sat": "10:00-14:00", "sun": ["01:30-01:45", "02:30-04:00"]},
        ("US", None),
        (),
    ),
    "always": ("UTC", {"mon-sun": "00:00-24:00"}, None, ()),
    "split-sydney": (
        "Australia/Sydney",
        {"mon-fri": ["08:00-12:00", "13:00-17:00"], "sun": "02:30-03:30"},
        ("AU", "NSW"),
        (),
    ),
    "faults-lu": ("Europe/Luxembourg", {"mon-sun": "07:00-19:00"}, ("LU", None), ()),
    "touching-berlin": (
        "Europe/Berlin",
        # On 2025-03-30 both Sunday intervals touch at the end of the DST gap and merge.
        {"mon-fri": ["22:00-06:00", "06:00-10:00"], "sun": ["01:00-02:30", "02:45-05:00"]},
        ("DE", "BE"),
        (date(2025, 12, 24), date(2026, 3, 29)),
    ),
    "lord-howe": (
        "Australia/Lord_Howe",
        {"mon-sun": "01:00-02:15", "wed": "23:00-01:00", "sun": "01:45-03:00"},
        None,
        (),
    ),
}


def _build(name: str) -> BusinessCalendar:
    timezone, hours, rule, closed = SPECS[name]
    holiday_rule = HolidayRule(rule[0], rule[1]) if rule else None
    return BusinessCalendar(name, timezone, parse_hours(hours), holiday_rule, closed)


# One shared instance per calendar: lazily compiled state is then reused across examples,
# which is also how the engine uses calendars.
CALENDARS = {name: _build(name) for name in SPECS}

names = st.sampled_from(sorted(CALENDARS))
instants = st.integers(min_value=LO, max_value=HI)
durations = st.one_of(
    st.integers(min_value=0, max_value=300 * H),
    st.sampled_from([0, 1, H, 8 * H, 24 * H]),
)
PROPS = settings(max_examples=200, deadline=None)


@PROPS
@given(names, instants, durations)
def test_between_inverts_add(name: str, start: int, d: int) -> None:
    cal = CALENDARS[name]
    end = cal.add_epoch(start, d)
    assert end >= start
    assert cal.between_epoch(start, end) == d


@PROPS
@given(names, instants, durations, durations)
def test_add_monotonic_in_duration(name: str, start: int, d1: int, d2: int) -> None:
    cal = CALENDARS[name]
    d1, d2 = sorted((d1, d2))
    assert cal.add_epoch(start, d1) <= cal.add_epoch(start, d2)


@PROPS
@given(names, instants, st.integers(min_value=0, max_value=30 * 86400), durations)
def test_add_monotonic_in_start(name: str, s1: int, delta: int, d: int) -> None:
    cal = CALENDARS[name]
    assert cal.add_epoch(s1, d) <= cal.add_epoch(s1 + delta, d)


@PROPS
@given(names, st.lists(instants, min_size=3, max_size=3))
def test_between_is_additive(name: str, points: list[int]) -> None:
    cal = CALENDARS[name]
    a, b, c = sorted(points)
    assert cal.between_epoch(a, b) + cal.between_epoch(b, c) == cal.between_epoch(a, c)
    assert cal.between_epoch(c, a) == 0


@PROPS
@given(names, instants, durations)
def test_add_is_minimal(name: str, start: int, d: int) -> None:
    """The deadline is the instant the d-th open second completes.

    So for d > 0 the second just before the result is open (the result is inside open
    time or exactly at a closing time, never inside a closed stretch), and one second
    earlier only d - 1 seconds have accrued.
    """
    cal = CALENDARS[name]
    end = cal.add_epoch(start, d)
    if d == 0:
        assert end == start
        return
    assert cal.between_epoch(end - 1, end) == 1
    assert cal.between_epoch(start, end - 1) == d - 1


@PROPS
@given(names, instants, durations)
def test_datetime_api_agrees_with_epoch_api(name: str, start: int, d: int) -> None:
    cal = CALENDARS[name]
    start_dt = datetime.fromtimestamp(start, UTC)
    result = cal.add(start_dt, d)
    assert result.tzinfo == cal.zone
    assert int(result.timestamp()) == cal.add_epoch(start, d)
    assert cal.between(start_dt, result) == d


@PROPS
@given(names, instants, st.integers(min_value=0, max_value=20 * 86400))
def test_open_intervals_sum_to_between(name: str, a: int, length: int) -> None:
    cal = CALENDARS[name]
    b = a + length
    intervals = cal.open_intervals(a, b)
    assert sum(e - s for s, e in intervals) == cal.between_epoch(a, b)
    for (s1, e1), (s2, e2) in pairwise(intervals):
        assert a <= s1 < e1 < s2 < e2 <= b  # disjoint, not touching, clipped


# ----------------------------------------------------------------------------- oracle


@cache
def _oracle_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def _oracle_epoch(wall: datetime, zone: ZoneInfo) -> int:
    """Wall time -> epoch: fold=0 if it exists, else the first existing minute after it."""
    while True:
        aware = wall.replace(tzinfo=zone, fold=0)
        back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if back == wall:
            return int(aware.timestamp())
        wall += timedelta(minutes=1)


def _oracle_between(name: str, a: int, b: int) -> int:
    timezone, hours, rule, closed = SPECS[name]
    zone = ZoneInfo(timezone)
    weekly = parse_hours(hours).intervals
    first = datetime.fromtimestamp(a, zone).date() - timedelta(days=2)
    last = datetime.fromtimestamp(b, zone).date() + timedelta(days=1)
    pieces: list[tuple[int, int]] = []
    day = first
    while day <= last:
        shut = day in closed or (rule is not None and day in _oracle_holidays(*rule, day.year))
        if not shut:
            midnight = datetime(day.year, day.month, day.day)
            for weekday, start_min, end_min in weekly:
                if weekday != day.weekday():
                    continue
                if end_min <= start_min:
                    end_min += 1440
                s = _oracle_epoch(midnight + timedelta(minutes=start_min), zone)
                e = _oracle_epoch(midnight + timedelta(minutes=end_min), zone)
                s, e = max(s, a), min(e, b)
                if s < e:
                    pieces.append((s, e))
        day += timedelta(days=1)
    total, covered_to = 0, a
    for s, e in sorted(pieces):
        s = max(s, covered_to)
        if e > s:
            total += e - s
            covered_to = e
    return total


@PROPS
@given(names, instants, st.integers(min_value=0, max_value=4 * 86400))
def test_between_matches_oracle(name: str, a: int, length: int) -> None:
    assert CALENDARS[name].between_epoch(a, a + length) == _oracle_between(name, a, a + length)


# DST change days are rare among random instants, so also aim straight at them.
DST_DAYS = [
    ("Europe/Berlin", "2025-03-30"),
    ("Europe/Berlin", "2025-10-26"),
    ("America/New_York", "2025-03-09"),
    ("America/New_York", "2025-11-02"),
    ("Australia/Sydney", "2025-04-06"),
    ("Australia/Sydney", "2025-10-05"),
    ("Australia/Lord_Howe", "2025-04-06"),
    ("Australia/Lord_Howe", "2025-10-05"),
    ("Europe/Luxembourg", "2025-10-26"),
]


@PROPS
@given(
    st.sampled_from(DST_DAYS),
    st.integers(min_value=-86400, max_value=2 * 86400),
    st.integers(min_value=0, max_value=2 * 86400),
)
def test_between_matches_oracle_around_dst(
    zone_day: tuple[str, str], offset: int, length: int
) -> None:
    timezone, day = zone_day
    midnight = int(datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(timezone)).timestamp())
    a = midnight + offset
    for name, spec in SPECS.items():
        if spec[0] == timezone:
            cal = CALENDARS[name]
            assert cal.between_epoch(a, a + length) == _oracle_between(name, a, a + length)
            end = cal.add_epoch(a, length // 4)
            assert cal.between_epoch(a, end) == length // 4
