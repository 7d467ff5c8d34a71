"""Unit tests for domain.calendar, domain.holiday_rules and domain.weekly_hours.

The first block pins the user's contract cases exactly; the rest covers the rules that
the contract states in prose (DST, overnight intervals, closed dates, year boundaries,
validation messages).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from slaclock.domain.calendar import BusinessCalendar
from slaclock.domain.holiday_rules import HolidayRule
from slaclock.domain.weekly_hours import (
    WeeklyHours,
    parse_hours,
    parse_service_level,
    service_level_hours,
)

H = 3600


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def epoch(text: str) -> int:
    return int(dt(text).timestamp())


def make(
    timezone: str,
    hours: dict[str, str | list[str]],
    holidays: HolidayRule | None = None,
    closed: tuple[date, ...] = (),
    name: str = "test",
) -> BusinessCalendar:
    return BusinessCalendar(name, timezone, parse_hours(hours), holidays, closed)


@pytest.fixture(scope="module")
def calendars() -> dict[str, BusinessCalendar]:
    return {
        "office": make(
            "Europe/Berlin",
            {"mon-fri": "09:00-17:00"},
            HolidayRule("DE", "NW"),
            (date(2025, 12, 24), date(2025, 12, 31)),
            name="office",
        ),
        "support-lu": make(
            "Europe/Luxembourg", {"mon-fri": "07:30-18:00"}, HolidayRule("LU"), name="support-lu"
        ),
        "faults-lu": make(
            "Europe/Luxembourg", {"mon-sun": "07:00-19:00"}, HolidayRule("LU"), name="faults-lu"
        ),
        "always": make("UTC", {"mon-sun": "00:00-24:00"}, name="always"),
    }


# ----------------------------------------------------------------------------- contract


@pytest.mark.parametrize(
    ("calendar", "start", "hours", "expected"),
    [
        ("office", "2025-08-29T15:00:00+02:00", 12, "2025-09-02T11:00:00+02:00"),
        ("office", "2025-10-02T16:00:00+02:00", 2, "2025-10-06T10:00:00+02:00"),
        ("office", "2025-12-23T16:00:00+01:00", 3, "2025-12-29T11:00:00+01:00"),
        ("office", "2025-08-29T09:00:00+02:00", 8, "2025-08-29T17:00:00+02:00"),
        ("faults-lu", "2025-10-25T18:00:00+02:00", 3, "2025-10-26T09:00:00+01:00"),
        ("always", "2025-03-30T00:30:00+00:00", 2, "2025-03-30T02:30:00+00:00"),
        ("support-lu", "2025-06-23T17:00:00+02:00", 2, "2025-06-24T09:30:00+02:00"),
    ],
)
def test_contract_add(
    calendars: dict[str, BusinessCalendar], calendar: str, start: str, hours: int, expected: str
) -> None:
    cal = calendars[calendar]
    result = cal.add(dt(start), hours * H)
    assert result == dt(expected)
    # Same wall-clock rendering as the contract: the result is in the calendar's zone.
    assert result.isoformat() == expected
    assert result.tzinfo == cal.zone
    assert cal.add_epoch(epoch(start), hours * H) == epoch(expected)


@pytest.mark.parametrize(
    ("calendar", "a", "b", "expected"),
    [
        ("office", "2025-09-26T12:00:00+02:00", "2025-10-06T12:00:00+02:00", 144000),
        ("faults-lu", "2025-10-25T00:00:00+02:00", "2025-10-27T00:00:00+01:00", 86400),
    ],
)
def test_contract_between(
    calendars: dict[str, BusinessCalendar], calendar: str, a: str, b: str, expected: int
) -> None:
    cal = calendars[calendar]
    assert cal.between(dt(a), dt(b)) == expected
    assert cal.between_epoch(epoch(a), epoch(b)) == expected
    assert cal.open_until(epoch(b)) - cal.open_until(epoch(a)) == expected


def test_between_empty_or_reversed(calendars: dict[str, BusinessCalendar]) -> None:
    office = calendars["office"]
    a, b = dt("2025-09-01T10:00:00+02:00"), dt("2025-09-01T12:00:00+02:00")
    assert office.between(a, b) == 2 * H
    assert office.between(b, a) == 0
    assert office.between(a, a) == 0


def test_add_zero_returns_start_even_when_closed(calendars: dict[str, BusinessCalendar]) -> None:
    office = calendars["office"]
    sunday = dt("2025-08-31T03:17:05.250000+02:00")
    assert office.add(sunday, 0) == sunday
    assert office.add_epoch(epoch("2025-08-31T03:17:05+02:00"), 0) == epoch(
        "2025-08-31T03:17:05+02:00"
    )


def test_deadline_filling_a_day_is_closing_time(calendars: dict[str, BusinessCalendar]) -> None:
    office = calendars["office"]
    # Friday 16:00 + 1h is Friday 17:00, not Monday 09:00.
    assert office.add(dt("2025-09-05T16:00:00+02:00"), H) == dt("2025-09-05T17:00:00+02:00")
    # One more second goes to the next opening.
    assert office.add(dt("2025-09-05T16:00:00+02:00"), H + 1) == dt("2025-09-08T09:00:01+02:00")


def test_clock_started_outside_open_time_waits_for_opening(
    calendars: dict[str, BusinessCalendar],
) -> None:
    office = calendars["office"]
    assert office.add(dt("2025-09-06T12:00:00+02:00"), 30 * 60) == dt("2025-09-08T09:30:00+02:00")
    assert office.between(dt("2025-09-06T00:00:00+02:00"), dt("2025-09-08T09:00:00+02:00")) == 0


def test_subsecond_parts_are_floored(calendars: dict[str, BusinessCalendar]) -> None:
    always = calendars["always"]
    a = dt("2025-05-05T10:00:00.900000+00:00")
    b = dt("2025-05-05T10:00:01.100000+00:00")
    assert always.between(a, b) == 1
    assert always.add(a, 1) == dt("2025-05-05T10:00:01+00:00")


def test_negative_or_non_integer_duration_rejected(calendars: dict[str, BusinessCalendar]) -> None:
    always = calendars["always"]
    start = dt("2025-05-05T10:00:00+00:00")
    with pytest.raises(ValueError, match="negative"):
        always.add(start, -1)
    with pytest.raises(ValueError, match="negative"):
        always.add_epoch(0, -5)
    with pytest.raises(ValueError, match="whole seconds"):
        always.add(start, 1.5)  # type: ignore[arg-type]


def test_naive_datetimes_rejected(calendars: dict[str, BusinessCalendar]) -> None:
    office = calendars["office"]
    naive = datetime(2025, 9, 1, 10, 0)
    aware = dt("2025-09-01T12:00:00+02:00")
    with pytest.raises(ValueError, match="naive"):
        office.add(naive, H)
    with pytest.raises(ValueError, match="naive"):
        office.between(naive, aware)
    with pytest.raises(ValueError, match="naive"):
        office.between(aware, naive)


def test_results_are_in_calendar_zone_whatever_the_input_zone(
    calendars: dict[str, BusinessCalendar],
) -> None:
    office = calendars["office"]
    start_utc = datetime(2025, 9, 1, 7, 0, tzinfo=UTC)  # 09:00 in Berlin
    result = office.add(start_utc, 2 * H)
    assert result.tzinfo == ZoneInfo("Europe/Berlin")
    assert result.isoformat() == "2025-09-01T11:00:00+02:00"


# ----------------------------------------------------------------------------- DST


def test_new_york_whole_days_across_dst() -> None:
    ny = make("America/New_York", {"mon-sun": "00:00-24:00"})
    spring = ny.between(dt("2025-03-09T00:00:00-05:00"), dt("2025-03-10T00:00:00-04:00"))
    autumn = ny.between(dt("2025-11-02T00:00:00-04:00"), dt("2025-11-03T00:00:00-05:00"))
    assert spring == 23 * H
    assert autumn == 25 * H
    # An ordinary day is 24h, and the whole week is one continuous interval.
    assert ny.between(dt("2025-03-11T00:00:00-04:00"), dt("2025-03-12T00:00:00-04:00")) == 24 * H
    a = epoch("2025-06-02T00:00:00-04:00")
    assert ny.open_intervals(a, a + 7 * 86400) == [(a, a + 7 * 86400)]


def test_europe_interval_containing_the_change() -> None:
    berlin = make("Europe/Berlin", {"sun": "01:00-04:00"})
    assert berlin.between(dt("2025-03-30T00:00:00+01:00"), dt("2025-03-31T00:00:00+02:00")) == (
        2 * H
    )
    assert berlin.between(dt("2025-10-26T00:00:00+02:00"), dt("2025-10-27T00:00:00+01:00")) == (
        4 * H
    )
    assert berlin.between(dt("2025-04-06T00:00:00+02:00"), dt("2025-04-07T00:00:00+02:00")) == (
        3 * H
    )
    # add runs on real seconds: 2.5 hours from 01:00 on the short day ends at 04:30 CEST.
    assert berlin.add(dt("2025-03-30T01:00:00+01:00"), int(1.5 * H)) == dt(
        "2025-03-30T03:30:00+02:00"
    )


def test_interval_starting_inside_the_gap_starts_after_it() -> None:
    ny = make("America/New_York", {"sun": "02:30-05:00"})
    day = ny.open_intervals(epoch("2025-03-09T00:00:00-05:00"), epoch("2025-03-10T00:00:00-04:00"))
    assert day == [(epoch("2025-03-09T03:00:00-04:00"), epoch("2025-03-09T05:00:00-04:00"))]
    assert ny.add(dt("2025-03-09T00:00:00-05:00"), H) == dt("2025-03-09T04:00:00-04:00")
    # An ordinary Sunday has the full 2.5 hours.
    assert ny.between(dt("2025-03-16T00:00:00-04:00"), dt("2025-03-17T00:00:00-04:00")) == int(
        2.5 * H
    )


def test_interval_ending_inside_the_gap_and_interval_inside_the_gap() -> None:
    berlin = make("Europe/Berlin", {"sun": ["00:30-02:30"]})
    # 00:30 CET to the end of the gap (03:00 CEST == 02:00 CET): 1.5 hours.
    assert berlin.between(dt("2025-03-30T00:00:00+01:00"), dt("2025-03-31T00:00:00+02:00")) == (
        int(1.5 * H)
    )
    inside = make("Europe/Berlin", {"sun": "02:10-02:50"})
    assert inside.between(dt("2025-03-30T00:00:00+01:00"), dt("2025-03-31T00:00:00+02:00")) == 0
    assert inside.add(dt("2025-03-30T00:00:00+01:00"), 60) == dt("2025-04-06T02:11:00+02:00")


def test_intervals_touching_at_the_gap_merge() -> None:
    berlin = make("Europe/Berlin", {"sun": ["01:00-02:30", "02:45-05:00"]})
    spring = berlin.open_intervals(
        epoch("2025-03-30T00:00:00+01:00"), epoch("2025-03-31T00:00:00+02:00")
    )
    # 02:30 and 02:45 do not exist; both move to 03:00 CEST, so the intervals touch.
    assert spring == [(epoch("2025-03-30T01:00:00+01:00"), epoch("2025-03-30T05:00:00+02:00"))]
    autumn = berlin.open_intervals(
        epoch("2025-10-26T00:00:00+02:00"), epoch("2025-10-27T00:00:00+01:00")
    )
    assert autumn == [
        (epoch("2025-10-26T01:00:00+02:00"), epoch("2025-10-26T02:30:00+02:00")),
        (epoch("2025-10-26T02:45:00+02:00"), epoch("2025-10-26T05:00:00+01:00")),
    ]


def test_repeated_hour_takes_first_occurrence() -> None:
    ny = make("America/New_York", {"sun": ["01:15-01:45", "01:30-03:00"]})
    intervals = ny.open_intervals(
        epoch("2025-11-02T00:00:00-04:00"), epoch("2025-11-03T00:00:00-05:00")
    )
    # Both 01:15 and 01:30 are the first (EDT) occurrences; 03:00 exists once (EST).
    assert intervals == [(epoch("2025-11-02T01:15:00-04:00"), epoch("2025-11-02T03:00:00-05:00"))]
    assert ny.between(dt("2025-11-02T00:00:00-04:00"), dt("2025-11-03T00:00:00-05:00")) == int(
        2.75 * H
    )


def test_us_office_hours_unaffected_by_night_dst_change() -> None:
    ny = make("America/New_York", {"mon-fri": "09:00-17:00"}, HolidayRule("US"))
    # Friday 16:00 EST + 2h -> Monday 10:00 EDT (DST started Sunday 2025-03-09).
    assert ny.add(dt("2025-03-07T16:00:00-05:00"), 2 * H) == dt("2025-03-10T10:00:00-04:00")


# ----------------------------------------------------------------------------- shapes


def test_several_intervals_per_day() -> None:
    cal = make("Europe/Berlin", {"mon-fri": ["08:00-12:00", "13:00-17:00"]})
    assert cal.add(dt("2025-09-01T11:00:00+02:00"), 2 * H) == dt("2025-09-01T14:00:00+02:00")
    assert cal.add(dt("2025-09-01T11:00:00+02:00"), H) == dt("2025-09-01T12:00:00+02:00")
    assert cal.between(dt("2025-09-01T00:00:00+02:00"), dt("2025-09-02T00:00:00+02:00")) == 8 * H
    assert cal.between(dt("2025-09-01T12:00:00+02:00"), dt("2025-09-01T13:00:00+02:00")) == 0


def test_overlapping_and_touching_intervals_merge() -> None:
    cal = make("UTC", {"mon-sun": ["22:00-06:00", "06:00-10:00"], "mon": "09:00-11:00"})
    a = epoch("2025-09-02T00:00:00+00:00")  # Tuesday
    assert cal.open_intervals(a, a + 86400) == [
        (a, a + 10 * H),
        (a + 22 * H, a + 86400),
    ]
    monday = epoch("2025-09-01T00:00:00+00:00")
    assert cal.open_intervals(monday, monday + 86400)[0] == (monday, monday + 11 * H)


def test_overnight_interval_belongs_to_its_start_day() -> None:
    cal = make("Europe/Berlin", {"mon-fri": "22:00-06:00"}, HolidayRule("DE", "NW"))
    # Thu 2025-10-02 22:00 -> Fri 06:00 stays open although Friday is German Unity Day.
    thursday_night = dt("2025-10-02T22:00:00+02:00")
    assert cal.add(thursday_night, 8 * H) == dt("2025-10-03T06:00:00+02:00")
    # The night starting on the holiday is closed; no intervals start on the weekend,
    # so the 8th hour is Monday 22:00-23:00.
    assert cal.add(dt("2025-10-02T23:00:00+02:00"), 8 * H) == dt("2025-10-06T23:00:00+02:00")
    assert cal.between(dt("2025-10-03T00:00:00+02:00"), dt("2025-10-06T00:00:00+02:00")) == 6 * H
    assert cal.closed_reason(date(2025, 10, 3)) == "German Unity Day"


def test_day_closed_all_week_only_monday_open() -> None:
    cal = make("Europe/Berlin", {"mon": "09:00-17:00"})
    assert cal.add(dt("2025-09-02T10:00:00+02:00"), H) == dt("2025-09-08T10:00:00+02:00")
    assert cal.add(dt("2025-09-01T16:00:00+02:00"), 2 * H) == dt("2025-09-08T10:00:00+02:00")
    assert cal.between(dt("2025-09-01T00:00:00+02:00"), dt("2025-09-15T00:00:00+02:00")) == 16 * H


def test_24h_interval_from_day_start_runs_to_next_day() -> None:
    # "09:00-09:00" is 24 hours, never empty.
    cal = make("UTC", {"mon": "09:00-09:00"})
    assert cal.between(dt("2025-09-01T00:00:00+00:00"), dt("2025-09-03T00:00:00+00:00")) == 24 * H


# ----------------------------------------------------------------------------- holidays


def test_holidays_by_subdivision() -> None:
    nw = make("Europe/Berlin", {"mon-fri": "09:00-17:00"}, HolidayRule("DE", "NW"))
    be = make("Europe/Berlin", {"mon-fri": "09:00-17:00"}, HolidayRule("DE", "BE"))
    a, b = dt("2025-06-19T00:00:00+02:00"), dt("2025-06-20T00:00:00+02:00")
    assert nw.between(a, b) == 0
    assert be.between(a, b) == 8 * H
    assert nw.closed_reason(date(2025, 6, 19)) == "Corpus Christi"
    assert be.closed_reason(date(2025, 6, 19)) is None


def test_holiday_rule_dates_and_observed_days() -> None:
    lu = HolidayRule("LU").dates(2025)
    assert lu[date(2025, 6, 23)] == "National Day"
    assert all(d.year == 2025 for d in lu)
    # Observed substitute days are included where the country has them (US, GB); the
    # substitute for a January 1st on a Saturday lands in the previous year.
    us = HolidayRule("US").dates(2021)
    assert us[date(2021, 12, 31)] == "New Year's Day (observed)"
    assert HolidayRule("GB").dates(2027)[date(2027, 12, 27)] == "Christmas Day (observed)"
    # Germany has no substitute days: All Saints' Day on a Saturday is just a Saturday.
    de = HolidayRule("DE", "NW").dates(2025)
    assert date(2025, 11, 1) in de
    assert date(2025, 11, 3) not in de


def test_holiday_rule_normalises_case_and_accepts_aliases() -> None:
    assert HolidayRule("de", "nw").dates(2025) == HolidayRule("DE", "NW").dates(2025)
    assert HolidayRule("DE", "Nordrhein-Westfalen").dates(2025)[date(2025, 6, 19)] == (
        "Corpus Christi"
    )


def test_holiday_categories() -> None:
    rule = HolidayRule("LU", categories=("public", "bank"))
    rule.validate()
    days = rule.dates(2025)
    assert date(2025, 6, 23) in days  # public
    assert date(2025, 12, 31) in days  # bank: New Year's Eve
    with pytest.raises(ValueError, match='"nope"'):
        HolidayRule("DE", "NW", ("nope",)).validate()


def test_closed_reason(calendars: dict[str, BusinessCalendar]) -> None:
    office = calendars["office"]
    assert office.closed_reason(date(2025, 12, 25)) == "Christmas Day"
    assert office.closed_reason(date(2025, 12, 24)) == "closed"
    assert office.closed_reason(date(2025, 12, 23)) is None
    assert office.closed_reason(date(2025, 12, 27)) is None  # a Saturday is not a closed date


def test_unknown_country_and_subdivision() -> None:
    with pytest.raises(ValueError, match='"XX"'):
        HolidayRule("XX").validate()
    with pytest.raises(ValueError, match='"ZZ"'):
        HolidayRule("DE", "ZZ").validate()
    with pytest.raises(ValueError, match='"ZZ"'):
        HolidayRule("DE", "ZZ").dates(2025)
    with pytest.raises(ValueError, match='"XX"'):
        make("Europe/Berlin", {"mon": "09:00-17:00"}, HolidayRule("XX"))


def test_unknown_timezone() -> None:
    with pytest.raises(ValueError, match='unknown timezone "Mars/Olympus"'):
        make("Mars/Olympus", {"mon": "09:00-17:00"})
    with pytest.raises(ValueError, match="unknown timezone"):
        make("../etc/passwd", {"mon": "09:00-17:00"})


# ----------------------------------------------------------------------------- years


def test_add_across_new_year(calendars: dict[str, BusinessCalendar]) -> None:
    office = calendars["office"]
    # Tue Dec 30 16:00-17:00 (1h); Dec 31 closed; Jan 1 holiday; Fri Jan 2 09:00 + 3h.
    assert office.add(dt("2025-12-30T16:00:00+01:00"), 4 * H) == dt("2026-01-02T12:00:00+01:00")
    assert office.between(dt("2025-12-30T16:00:00+01:00"), dt("2026-01-02T12:00:00+01:00")) == (
        4 * H
    )


def test_overnight_interval_on_new_years_eve() -> None:
    cal = make("Europe/Berlin", {"mon-sun": "22:00-06:00"}, HolidayRule("DE", "NW"))
    a, b = dt("2025-12-31T00:00:00+01:00"), dt("2026-01-03T00:00:00+01:00")
    # Dec 30's night tail (6h) + Dec 31 night into the holiday (8h) + Jan 2 until 24:00 (2h).
    assert cal.between(a, b) == 16 * H
    assert cal.add(dt("2025-12-31T23:00:00+01:00"), 7 * H) == dt("2026-01-01T06:00:00+01:00")
    assert cal.add(dt("2025-12-31T23:00:00+01:00"), 8 * H) == dt("2026-01-02T23:00:00+01:00")


def test_merge_across_year_boundary_and_backward_extension() -> None:
    cal = make("UTC", {"mon-sun": "00:00-24:00"})
    later = epoch("2026-06-01T00:00:00+00:00")
    before = cal.open_until(later)  # compiles 2026 only
    # Now look at New Year: forces compiling 2025 backwards.
    a, b = epoch("2025-12-31T00:00:00+00:00"), epoch("2026-01-02T00:00:00+00:00")
    assert cal.open_intervals(a, b) == [(a, b)]
    assert cal.between_epoch(a, b) == 2 * 86400
    # Values already handed out stay valid: the origin never moves.
    assert cal.open_until(later) == before
    assert cal.open_until(later) - cal.open_until(a) == later - a


def test_backward_extension_matches_fresh_calendar() -> None:
    hours = {"mon-fri": "20:00-08:00", "sat": "10:00-14:00"}
    warm = make("America/New_York", hours, HolidayRule("US"))
    warm.add_epoch(epoch("2027-03-01T00:00:00+00:00"), H)  # compile far ahead first
    fresh = make("America/New_York", hours, HolidayRule("US"))
    a, b = epoch("2024-12-20T00:00:00+00:00"), epoch("2025-01-10T00:00:00+00:00")
    assert warm.between_epoch(a, b) == fresh.between_epoch(a, b)
    assert warm.open_intervals(a, b) == fresh.open_intervals(a, b)
    for d in (1, H, 20 * H, 100 * H):
        assert warm.add_epoch(a, d) == fresh.add_epoch(a, d)


def test_long_add_spans_several_years() -> None:
    cal = make("UTC", {"mon-sun": "00:00-24:00"})
    start = dt("2025-01-01T00:00:00+00:00")
    assert cal.add(start, 5 * 365 * 86400) == start + timedelta(days=5 * 365)


def test_no_open_time_for_ten_years_raises() -> None:
    mondays = []
    day = date(2026, 1, 5)
    while day.year < 2038:
        mondays.append(day)
        day += timedelta(days=7)
    cal = make("UTC", {"mon": "09:00-17:00"}, closed=tuple(mondays))
    with pytest.raises(ValueError, match="no open time"):
        cal.add(dt("2026-01-01T00:00:00+00:00"), H)
    # Still raises once the whole stretch is compiled (result independent of history).
    with pytest.raises(ValueError, match="no open time"):
        cal.add(dt("2026-01-01T00:00:00+00:00"), H)
    # Before the stretch it works; between is always finite.
    assert cal.add(dt("2025-12-29T09:00:00+00:00"), H) == dt("2025-12-29T10:00:00+00:00")
    assert cal.between(dt("2026-01-01T00:00:00+00:00"), dt("2036-01-01T00:00:00+00:00")) == 0


def test_instants_outside_supported_years_rejected() -> None:
    cal = make("UTC", {"mon-sun": "00:00-24:00"})
    with pytest.raises(ValueError, match="years"):
        cal.add(datetime(9999, 1, 1, tzinfo=UTC), H)


def test_open_intervals_clipped(calendars: dict[str, BusinessCalendar]) -> None:
    office = calendars["office"]
    a, b = epoch("2025-09-01T12:00:00+02:00"), epoch("2025-09-03T10:00:00+02:00")
    assert office.open_intervals(a, b) == [
        (a, epoch("2025-09-01T17:00:00+02:00")),
        (epoch("2025-09-02T09:00:00+02:00"), epoch("2025-09-02T17:00:00+02:00")),
        (epoch("2025-09-03T09:00:00+02:00"), b),
    ]
    assert office.open_intervals(b, a) == []


def test_closed_dates_must_be_dates() -> None:
    with pytest.raises(ValueError, match="closed date"):
        make("UTC", {"mon": "09:00-17:00"}, closed=(datetime(2025, 1, 1),))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- parsing


def test_parse_hours_day_specs() -> None:
    hours = parse_hours({"mon-wed,fri": "09:00-17:00", "sat,sun": ["10:00-12:00", "13:00-15:00"]})
    assert hours.intervals == (
        (0, 540, 1020),
        (1, 540, 1020),
        (2, 540, 1020),
        (4, 540, 1020),
        (5, 600, 720),
        (5, 780, 900),
        (6, 600, 720),
        (6, 780, 900),
    )
    assert parse_hours({"mon-sun": "00:00-24:00"}).intervals == tuple(
        (d, 0, 1440) for d in range(7)
    )
    assert parse_hours({"fri-mon": "22:00-06:00"}).intervals == (
        (0, 1320, 360),
        (4, 1320, 360),
        (5, 1320, 360),
        (6, 1320, 360),
    )
    assert parse_hours({"Monday": "9:00-17:00"}) == parse_hours({"mon": "09:00-17:00"})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"mon-fry": "09:00-17:00"}, 'hours."mon-fry": unknown day "fry"'),
        ({"mon-fri": "9-17"}, 'hours."mon-fri": bad interval "9-17", expected HH:MM-HH:MM'),
        ({"mon": "25:00-26:00"}, 'hours."mon": bad interval "25:00-26:00"'),
        ({"mon": "09:00-24:30"}, 'hours."mon": bad interval "09:00-24:30"'),
        ({"mon": "24:00-06:00"}, 'hours."mon": bad interval "24:00-06:00"'),
        ({"mon": "09:60-10:00"}, 'hours."mon": bad interval "09:60-10:00"'),
        ({"mon": ["09:00-12:00", "oops"]}, 'hours."mon": bad interval "oops"'),
        ({"mon": 9}, 'hours."mon": bad value 9'),
        ({"mon,,tue": "09:00-17:00"}, 'hours."mon,,tue": empty day'),
        ({}, "empty table"),
        ({"mon": []}, "no open time"),
    ],
)
def test_parse_hours_errors_name_key_and_value(table: dict, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_hours(table)
    assert message in str(info.value)


def test_weekly_hours_validates_direct_construction() -> None:
    with pytest.raises(ValueError):
        WeeklyHours(((7, 0, 60),))
    with pytest.raises(ValueError):
        WeeklyHours(((0, 1440, 60),))
    with pytest.raises(ValueError):
        WeeklyHours(())
    assert WeeklyHours([[0, 540, 1020]]).intervals == ((0, 540, 1020),)  # type: ignore[list-item]


def test_parse_service_level() -> None:
    assert parse_service_level("8x5x12") == (8, 5, 12)
    assert parse_service_level("24x7x4") == (24, 7, 4)
    assert parse_service_level("10X6X8") == (10, 6, 8)
    for bad in ("8x4x12", "0x5x1", "25x5x1", "8x5x0", "8x5", "abc", "8x5x12x1", ""):
        with pytest.raises(ValueError) as info:
            parse_service_level(bad)
        assert f'"{bad}"' in str(info.value)


def test_service_level_hours() -> None:
    assert service_level_hours(8, 5, "09:00") == parse_hours({"mon-fri": "09:00-17:00"})
    assert service_level_hours(10, 6, "08:00") == parse_hours({"mon-sat": "08:00-18:00"})
    assert service_level_hours(12, 5, "20:00") == parse_hours({"mon-fri": "20:00-08:00"})
    assert service_level_hours(12, 5, "12:00").intervals[0] == (0, 720, 1440)
    assert service_level_hours(24, 7, "00:00") == parse_hours({"mon-sun": "00:00-24:00"})
    assert service_level_hours(24, 5, "09:00").intervals[0] == (0, 540, 540)  # Mon 09 -> Tue 09
    with pytest.raises(ValueError, match="day_starts"):
        service_level_hours(8, 5, "9am")
    with pytest.raises(ValueError):
        service_level_hours(8, 4, "09:00")


def test_service_level_calendar_matches_contract() -> None:
    h, d, _ = parse_service_level("8x5x12")
    cal = BusinessCalendar(
        "basic", "Europe/Berlin", service_level_hours(h, d, "09:00"), HolidayRule("DE", "NW")
    )
    assert cal.add(dt("2025-08-29T15:00:00+02:00"), 12 * H) == dt("2025-09-02T11:00:00+02:00")
    overnight = BusinessCalendar("night", "UTC", service_level_hours(12, 5, "20:00"))
    # Friday 20:00 -> Saturday 08:00 belongs to Friday; nothing starts on the weekend.
    assert overnight.add(dt("2025-09-05T19:00:00+00:00"), 13 * H) == dt("2025-09-08T21:00:00+00:00")


def test_supported_countries_are_the_packages() -> None:
    """The registry read at start-up lists exactly the codes the package says it supports."""
    import holidays

    from slaclock.domain.holiday_rules import _supported_countries

    assert _supported_countries() == frozenset(holidays.list_supported_countries())
