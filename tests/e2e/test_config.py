"""A bad configuration exits 2 with one message naming the file, the key and the problem."""

from __future__ import annotations

import subprocess
import sys

import pytest

GOOD_CALENDAR = (
    '[calendars.office]\ntimezone = "Europe/Berlin"\nhours = { "mon-fri" = "09:00-17:00" }\n'
)
GOOD_PLAN = '[plans.p]\ncalendar = "office"\ntargets.response = { 1 = "3h" }\n'
PRIORITIES = "priorities = [1, 2, 3]\ndefault_priority = 1\n"

CASES = [
    (
        "unknown top-level key",
        PRIORITIES + "colour = 1\n" + GOOD_CALENDAR,
        ["colour", "unknown key"],
    ),
    (
        "unknown calendar",
        PRIORITIES + GOOD_CALENDAR + '[plans.p]\ncalendar = "nope"\n'
        'targets.response = { 1 = "3h" }\n',
        ["plans.p.calendar", "nope"],
    ),
    (
        "bad interval",
        PRIORITIES + '[calendars.office]\ntimezone = "UTC"\nhours = { "mon-fri" = "9-17" }\n',
        ["calendars.office.hours", "9-17"],
    ),
    (
        "unknown day",
        PRIORITIES + '[calendars.office]\ntimezone = "UTC"\n'
        'hours = { "mon-fry" = "09:00-17:00" }\n',
        ["calendars.office.hours", "fry"],
    ),
    (
        "bad duration",
        PRIORITIES + GOOD_CALENDAR + '[plans.p]\ncalendar = "office"\n'
        'targets.response = { 1 = "3 hours" }\n',
        ["plans.p.targets.response.1", "3 hours"],
    ),
    (
        "unknown country",
        PRIORITIES + GOOD_CALENDAR.replace("hours", 'holidays = { country = "XX" }\nhours'),
        ["calendars.office.holidays", "XX"],
    ),
    (
        "unknown subdivision",
        PRIORITIES
        + GOOD_CALENDAR.replace(
            "hours", 'holidays = { country = "DE", subdivision = "ZZ" }\nhours'
        ),
        ["ZZ"],
    ),
    (
        "unknown timezone",
        PRIORITIES + GOOD_CALENDAR.replace("Europe/Berlin", "Mars/Olympus"),
        ["calendars.office.timezone", "Mars/Olympus"],
    ),
    (
        "plan without targets",
        PRIORITIES + GOOD_CALENDAR + '[plans.p]\ncalendar = "office"\n',
        ["plans.p.targets", "without targets"],
    ),
    (
        "priority outside priorities",
        PRIORITIES + GOOD_CALENDAR + '[plans.p]\ncalendar = "office"\n'
        'targets.response = { 7 = "3h" }\n',
        ["plans.p.targets.response.7", "7"],
    ),
    (
        "unknown plan in contract",
        PRIORITIES
        + GOOD_CALENDAR
        + GOOD_PLAN
        + '[[contracts]]\ncustomer = "a"\nplan = "q"\nfrom = "2025-01-01"\nmonthly_fee = "1"\n',
        ["contracts.0.plan", "'q'"],
    ),
    (
        "bad service level",
        PRIORITIES + '[plans.s]\nservice_level = "8x9x12"\n'
        'day_starts = "09:00"\ntimezone = "UTC"\n',
        ["plans.s.service_level", "8x9x12"],
    ),
    (
        "bad percentage",
        PRIORITIES + GOOD_CALENDAR + GOOD_PLAN + '[plans.p.credits]\nper_breach = "ten%"\n',
        ["plans.p.credits.per_breach", "ten%"],
    ),
    ("not TOML", "this is = = not toml", ["not valid TOML"]),
]


@pytest.mark.parametrize(("name", "text", "fragments"), CASES, ids=[c[0] for c in CASES])
def test_bad_configuration_exits_2_naming_the_key(tmp_path, name, text, fragments) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaclock",
            "--config",
            str(config),
            "--store",
            f"sqlite:///{tmp_path / 's.db'}",
            "report",
            "compliance",
            "--month",
            "2025-09",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    message = done.stderr + done.stdout
    assert done.returncode == 2, message
    assert "Traceback" not in message
    assert str(config) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert not (tmp_path / "s.db").exists()  # nothing is written


def test_missing_configuration_file_is_named(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "slaclock", "--config", str(tmp_path / "none.toml"), "tickets"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "none.toml" in done.stderr
