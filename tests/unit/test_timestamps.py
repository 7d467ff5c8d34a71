"""One timestamp format and one range of instants: what the parser accepts and the words it
rejects the rest with. The same words at every entrance (ingest, command line, API) are
checked end to end in ``tests/e2e/test_timestamps_entrances.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from slaclock.domain.instants import FIRST_YEAR, LAST_YEAR, InstantError, parse_instant, parse_month

ACCEPTED = {
    "2025-10-06T12:00:00+02:00": datetime(2025, 10, 6, 10, 0, tzinfo=UTC),
    "2025-10-06T12:00:00Z": datetime(2025, 10, 6, 12, 0, tzinfo=UTC),
    "2025-10-06t12:00:00z": datetime(2025, 10, 6, 12, 0, tzinfo=UTC),
    "2025-10-06T12:00:00.5-05:30": datetime(2025, 10, 6, 17, 30, 0, 500_000, tzinfo=UTC),
    "2025-10-06T12:00:00.123456789+00:00": datetime(2025, 10, 6, 12, 0, 0, 123456, tzinfo=UTC),
    "1970-01-01T00:00:00Z": datetime(1970, 1, 1, tzinfo=UTC),
    "2199-12-31T23:59:59.999999Z": datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    "2200-01-01T00:59:59+01:00": datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC),
}

NOT_RFC3339 = "is not an RFC 3339 timestamp with offset, like 2025-10-06T12:00:00+02:00"
OUTSIDE = "is outside the supported range (1970-01-01T00:00:00Z up to 2200-01-01T00:00:00Z)"
REJECTED = {
    "20251006T120000+0200": NOT_RFC3339,  # ISO 8601 basic format, not RFC 3339
    "2025-10-06 12:00:00+02:00": NOT_RFC3339,
    "2025-10-06T12:00+02:00": NOT_RFC3339,
    "2025-10-06T12:00:00+0200": NOT_RFC3339,
    "2025-10-06T12:00:00.+02:00": NOT_RFC3339,
    "2025-10-06": NOT_RFC3339,
    "2025-W41-1T12:00:00Z": NOT_RFC3339,
    "２０２５-10-06T12:00:00Z": NOT_RFC3339,  # full-width digits are digits to Python
    " 2025-10-06T12:00:00Z": NOT_RFC3339,
    "2025-10-06T12:00:00": "has no UTC offset (like 2025-10-06T12:00:00+02:00)",
    "2025-02-29T12:00:00Z": "is not a valid instant (day is out of range for month)",
    "2025-10-06T24:00:00Z": "is not a valid instant (hour must be in 0..23)",
    "2025-10-06T12:00:60Z": "is not a valid instant (second must be in 0..59)",
    "2025-10-06T12:00:00+24:00": "is not a valid instant (offset out of range)",
    "2205-09-15T09:00:00+02:00": OUTSIDE,
    "1969-12-31T23:59:59Z": OUTSIDE,
    "1970-01-01T00:30:00+01:00": OUTSIDE,  # 1969 in UTC
    "2199-12-31T23:00:00-05:00": OUTSIDE,  # 2200 in UTC
    "0001-01-01T00:00:00Z": OUTSIDE,
    "0001-01-01T00:00:00+14:00": OUTSIDE,  # before year 1 in UTC
    "9999-12-31T23:59:59-12:00": OUTSIDE,  # after year 9999 in UTC
}


@pytest.mark.parametrize(("text", "expected"), list(ACCEPTED.items()))
def test_rfc3339_instants_in_range_are_accepted(text: str, expected: datetime) -> None:
    value = parse_instant(text)
    assert value == expected and value.utcoffset() is not None


@pytest.mark.parametrize(("text", "problem"), list(REJECTED.items()))
def test_everything_else_is_rejected_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(InstantError) as caught:
        parse_instant(text)
    assert str(caught.value) == f"{text!r} {problem}"


def test_the_offset_is_kept() -> None:
    assert parse_instant("2025-10-06T12:00:00-03:30").utcoffset() == timedelta(hours=-3.5)
    assert parse_instant("2025-10-06T12:00:00+14:00").tzinfo == timezone(timedelta(hours=14))


def test_months_share_the_range() -> None:
    assert parse_month(f"{FIRST_YEAR}-01") == "1970-01"
    assert parse_month(f"{LAST_YEAR}-12") == "2199-12"
    for text, problem in [
        ("2200-01", "is outside 1970-2199"),
        ("1969-12", "is outside 1970-2199"),
        ("2025-13", "is not a month like 2025-09 (YYYY-MM)"),
        ("2025-9", "is not a month like 2025-09 (YYYY-MM)"),
    ]:
        with pytest.raises(InstantError) as caught:
            parse_month(text)
        assert str(caught.value) == f"{text!r} {problem}"
