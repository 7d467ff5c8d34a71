"""One timestamp format and one range of instants, with the same words, wherever an instant
comes in: events' ``occurred_at`` (ingest), command-line options and API parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from slaclock.domain.instants import FIRST_YEAR, LAST_YEAR, InstantError, parse_instant, parse_month
from tests.conftest import CONFIG, Cli
from tests.test_api_harness import ApiServer, serve

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


# ----------------------------------------------------- the same words at every entrance
SAMPLES = [
    "20251006T120000+0200",
    "2025-10-06T12:00:00",
    "2025-02-29T12:00:00Z",
    "2205-09-15T09:00:00+02:00",
    "1969-12-31T23:59:59Z",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp("timestamps")
    yield from serve(tmp, f"sqlite:///{tmp / 'store.db'}", open_tickets=False)


def test_command_line_api_and_events_reject_alike(server: ApiServer, tmp_path: Path) -> None:
    cli = server.cli
    events = tmp_path / "events.jsonl"
    lines = [
        {
            "event_id": f"ts-{n}",
            "type": "ticket.created",
            "ticket_id": f"TS-{n}",
            "customer_id": "acme",
            "priority": 2,
            "occurred_at": text,
        }
        for n, text in enumerate([*SAMPLES, "2199-12-31T20:00:00Z"])
    ]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    dead = tmp_path / "dead.jsonl"
    counts = cli.json("ingest", str(events), "--dead-letter", str(dead))
    assert (counts["read"], counts["accepted"], counts["rejected"]) == (6, 1, 5)
    ingest_reasons = [json.loads(line)["reason"] for line in dead.read_text().splitlines()]
    for text, reason in zip(SAMPLES, ingest_reasons, strict=True):
        with pytest.raises(InstantError) as caught:
            parse_instant(text)
        problem = str(caught.value)
        assert reason == f"occurred_at: {problem}"
        done = cli.run("ticket", "T-1001", "--as-of", text)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert f"--as-of: {problem}" in done.stderr
        done = cli.run("queue", "--as-of", text)
        assert done.returncode == 2 and f"--as-of: {problem}" in done.stderr
        answer = server.get("/api/tickets/T-1001", as_of=text)
        assert answer.status_code == 422
        assert f"as_of: {problem}" in answer.text
    # the last instant of the range is served end to end, deadline in 2200 included
    ticket = cli.json("ticket", "TS-5", "--as-of", "2199-12-31T23:59:59Z")
    assert ticket["clocks"]["response"]["deadline"].startswith("2200-01-01")
    assert server.json("/api/tickets/TS-5", as_of="2199-12-31T23:59:59Z")["ticket_id"] == "TS-5"


def test_months_on_the_command_line_share_the_range(tmp_path: Path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    done = cli.run("report", "compliance", "--month", "2200-01")
    assert done.returncode == 2
    assert "--month: '2200-01' is outside 1970-2199" in done.stderr


def test_a_deadline_beyond_what_calendars_serve_is_a_usage_error(tmp_path: Path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    last = "2199-12-31T12:00:00Z"
    done = cli.run("calendar", "add", "office", "--start", last, "--duration", "100000h")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--duration: calendar office: deadline beyond the supported range" in done.stderr
    assert cli.json("calendar", "add", "office", "--start", last, "--duration", "8h")[
        "deadline"
    ].startswith("2200-01-")
