"""Business-day targets (docs/clocks.md, "Business-day targets"): the deadline rule on
calendars chosen to be awkward (DST in Vienna and Los Angeles, overnight desks, holidays,
closed dates, split days), the clocks built on it, and the configuration errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.config import ConfigError, parse_policy
from slaclock.domain.business_days import BusinessDayRule, parse_business_day
from slaclock.domain.clocks import evaluate
from slaclock.domain.holiday_rules import HolidayRule
from slaclock.domain.policy import Plan, Target
from tests.helpers import at, calendar, contract, fact
from tests.helpers import policy as policy_of

OFFICE = calendar(
    "office", "Europe/Vienna", {"mon-fri": "09:00-17:00"}, HolidayRule("AT"),
    (date(2025, 4, 2), date(2025, 10, 29)),
)  # fmt: skip
NIGHT = calendar(
    "night", "America/Los_Angeles", {"mon-fri": "20:00-04:00", "sat": "10:00-14:00"},
    HolidayRule("US", "CA"),
)  # fmt: skip
SPLIT = calendar(
    "split", "Europe/Vienna", {"mon-fri": ["08:00-12:00", "13:00-17:00"], "sun": "02:30-03:30"}
)
ALWAYS = calendar("always")
CALENDARS = {"office": OFFICE, "night": NIGHT, "split": SPLIT, "always": ALWAYS}


def rule(text: str) -> BusinessDayRule:
    parsed = parse_business_day(text)
    assert parsed is not None
    return parsed


def deadline(text: str, cal, start: str) -> datetime:
    return cal.to_datetime(rule(text).deadline(cal, at(start)))


# ------------------------------------------------------------------------- the deadline rule
def test_end_of_business_day_is_the_close_of_the_day_the_clock_starts() -> None:
    assert deadline("end-of-business-day", OFFICE, "2025-04-01T15:19:00+02:00").isoformat() == (
        "2025-04-01T17:00:00+02:00"
    )


def test_started_while_closed_day_zero_is_the_next_opening_day() -> None:
    # Tuesday 2025-04-01 after hours; Wednesday 04-02 is a closed date: day 0 is Thursday.
    assert deadline("end-of-business-day", OFFICE, "2025-04-01T18:00:00+02:00").isoformat() == (
        "2025-04-03T17:00:00+02:00"
    )
    assert deadline("end-of-business-day+1", OFFICE, "2025-04-01T18:00:00+02:00").isoformat() == (
        "2025-04-04T17:00:00+02:00"
    )


def test_plus_n_skips_weekends_and_holidays() -> None:
    # Friday 2025-04-18 is no Austrian holiday; Easter Monday 04-21 is.
    got = deadline("end-of-business-day+2", OFFICE, "2025-04-17T10:00:00+02:00")
    assert got.isoformat() == "2025-04-22T17:00:00+02:00"


def test_an_overnight_interval_belongs_to_the_date_it_starts_on() -> None:
    # Tuesday 02:00 is inside Monday's 20:00-04:00 interval: day 0 is Monday, ends Tue 04:00.
    got = deadline("end-of-business-day", NIGHT, "2025-03-11T02:00:00-07:00")
    assert got.isoformat() == "2025-03-11T04:00:00-07:00"
    # Friday 23:00: day 0 is Friday (ends Sat 04:00), day 1 is Saturday 10:00-14:00.
    got = deadline("end-of-business-day+1", NIGHT, "2025-03-14T23:00:00-07:00")
    assert got.isoformat() == "2025-03-15T14:00:00-07:00"


def test_across_the_spring_dst_change_in_los_angeles() -> None:
    # Saturday 2025-03-08 after 14:00: day 0 is Monday 03-10 (DST began Sunday 03-09).
    got = deadline("end-of-business-day", NIGHT, "2025-03-08T15:00:00-08:00")
    assert got.isoformat() == "2025-03-11T04:00:00-07:00"


def test_next_business_day_at_a_time_of_day() -> None:
    got = deadline("next-business-day 12:00", OFFICE, "2025-04-04T08:00:00+02:00")  # Friday
    assert got.isoformat() == "2025-04-07T12:00:00+02:00"
    # Whatever the start's time of day: the first business day after its local date.
    got = deadline("next-business-day 12:00", OFFICE, "2025-04-07T23:59:00+02:00")
    assert got.isoformat() == "2025-04-08T12:00:00+02:00"


def test_next_business_day_when_closed_at_that_time_is_the_next_opening() -> None:
    got = deadline("next-business-day 12:30", SPLIT, "2025-04-07T09:00:00+02:00")
    assert got.isoformat() == "2025-04-08T13:00:00+02:00"
    got = deadline("next-business-day 07:00", OFFICE, "2025-04-07T09:00:00+02:00")
    assert got.isoformat() == "2025-04-08T09:00:00+02:00"


def test_a_time_in_the_dst_gap_moves_to_the_transition() -> None:
    # Sunday 2025-03-30 in Vienna: 02:00-03:00 does not exist; the 02:30 opening moves to 03:00.
    got = deadline("next-business-day 02:30", SPLIT, "2025-03-28T10:00:00+01:00")
    assert got.isoformat() == "2025-03-30T03:00:00+02:00"


def test_parse_forms_and_errors() -> None:
    assert parse_business_day("3h") is None
    assert rule("end-of-business-day+30").days_after == 30
    assert rule("next-business-day 09:05").at_minute == 545
    for bad in ("end-of-business-day+0", "end-of-business-day+31", "next-business-day 24:00",
                "next-business-day 9:00", "end-of-business-days"):  # fmt: skip
        with pytest.raises(ValueError, match="bad target"):
            parse_business_day(bad)


# ------------------------------------------------------------------------------- properties
RULES = st.sampled_from(
    ["end-of-business-day", "end-of-business-day+1", "end-of-business-day+3",
     "end-of-business-day+30", "next-business-day 00:30", "next-business-day 02:30",
     "next-business-day 12:00", "next-business-day 21:15"]
)  # fmt: skip
LO = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
HI = int(datetime(2027, 12, 31, tzinfo=UTC).timestamp())
STARTS = st.integers(LO, HI)


def _is_open_or_an_end(cal, t: int) -> bool:
    return cal.between_epoch(t, t + 1) == 1 or cal.between_epoch(t - 1, t) == 1


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), text=RULES, start=STARTS)
def test_deadline_is_an_open_instant_or_an_interval_end_after_the_start(name, text, start) -> None:
    cal = CALENDARS[name]
    got = rule(text).deadline(cal, start)
    assert got > start
    assert _is_open_or_an_end(cal, got)
    if text.startswith("next"):
        assert cal.between_epoch(got, got + 1) == 1  # an opening, never a closing
    else:
        assert cal.between_epoch(got, got + 1) == 0 or name == "always"


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), text=RULES, a=STARTS, b=STARTS)
def test_deadline_is_monotone_in_the_start(name, text, a, b) -> None:
    cal = CALENDARS[name]
    low, high = sorted((a, b))
    assert rule(text).deadline(cal, low) <= rule(text).deadline(cal, high)


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), start=STARTS, n=st.integers(1, 30))
def test_each_further_business_day_ends_later(name, start, n) -> None:
    cal = CALENDARS[name]
    before = rule(f"end-of-business-day+{n - 1}" if n > 1 else "end-of-business-day")
    assert before.deadline(cal, start) < rule(f"end-of-business-day+{n}").deadline(cal, start)


@settings(max_examples=200, deadline=None)
@given(start=STARTS)
def test_on_a_24x7_calendar_the_end_of_day_is_the_next_midnight(start) -> None:
    got = datetime.fromtimestamp(rule("end-of-business-day").deadline(ALWAYS, start), UTC)
    assert (got.hour, got.minute) == (0, 0)
    assert 0 < got.timestamp() - start <= 86400


# ----------------------------------------------------------------------------- the clocks
def _plan(targets: dict, on_reprioritise="recalculate") -> Plan:
    rows = {
        metric: {
            p: Target(0, OFFICE, rule(t)) if isinstance(t, str) else Target(t, OFFICE)
            for p, t in row.items()
        }
        for metric, row in targets.items()
    }
    return Plan("desk", OFFICE, rows, on_reprioritise=on_reprioritise)


def _response(on_reprioritise: str, *facts, as_of: str):
    desk = _plan({"response": {1: 3600, 2: "next-business-day 12:00", 3: "end-of-business-day"}},
                 on_reprioritise)  # fmt: skip
    policy = policy_of(contract("c", desk), calendars=[OFFICE], priorities=(1, 2, 3))
    snapshot = evaluate("T", list(facts), policy, cutoff=at(as_of))
    assert snapshot is not None
    clock = snapshot.clocks["response"]
    return clock.view(at(as_of), OFFICE.between_epoch)


def test_clock_target_seconds_is_the_open_time_up_to_the_deadline() -> None:
    view = _response(
        "recalculate",
        fact(1, "created", "2025-04-01T15:19:00+02:00", customer="c", priority=3),
        as_of="2025-04-03T10:00:00+02:00",
    )
    assert view.status == "breached" and view.target_seconds == 6060
    assert view.breached_at == at("2025-04-01T17:00:00+02:00")


def test_a_stop_in_the_closed_time_before_a_moved_deadline_is_met() -> None:
    split = calendar("split", "Europe/Vienna", {"mon-fri": ["08:00-12:00", "13:00-17:00"]})
    desk = Plan("desk", split, {"response": {3: Target(0, split, rule("next-business-day 12:30"))}})
    policy = policy_of(contract("c", desk), calendars=[split])
    facts = [
        fact(1, "created", "2025-04-07T16:00:00+02:00", customer="c", priority=3),
        fact(2, "acknowledged", "2025-04-08T12:45:00+02:00"),
    ]
    snapshot = evaluate("T", facts, policy)
    assert snapshot is not None
    clock = snapshot.clocks["response"]
    assert clock.deadline == at("2025-04-08T13:00:00+02:00") and clock.breach_at is None
    assert clock.target_seconds == 3600 + 4 * 3600


def test_recalculate_takes_the_deadline_from_the_clock_start() -> None:
    view = _response(
        "recalculate",
        fact(1, "created", "2025-04-03T10:00:00+02:00", customer="c", priority=1),
        fact(2, "reprioritised", "2025-04-03T10:30:00+02:00", priority=3),
        as_of="2025-04-03T11:00:00+02:00",
    )
    assert view.started_at == at("2025-04-03T10:00:00+02:00")
    assert view.deadline == at("2025-04-03T17:00:00+02:00") and view.target_seconds == 7 * 3600


def test_restart_takes_the_deadline_from_the_reprioritisation() -> None:
    view = _response(
        "restart",
        fact(1, "created", "2025-04-03T10:00:00+02:00", customer="c", priority=1),
        fact(2, "reprioritised", "2025-04-03T10:30:00+02:00", priority=2),
        as_of="2025-04-03T11:00:00+02:00",
    )
    assert view.started_at == at("2025-04-03T10:30:00+02:00")
    assert view.deadline == at("2025-04-04T12:00:00+02:00")
    assert view.target_seconds == int(6.5 * 3600) + 3 * 3600


# -------------------------------------------------------------------------- configuration
_CONFIG = """
[calendars.office]
timezone = "Europe/Vienna"
hours = {{ "mon-fri" = "09:00-17:00" }}
[plans.desk]
calendar = "office"
targets.response = {{ 1 = "1h", 3 = "{target}" }}
targets.resolution = {{ 1 = "8h" }}
pausable = [{pausable}]
"""


def test_configuration_reads_business_day_targets() -> None:
    policy = parse_policy(_CONFIG.format(target="end-of-business-day+2", pausable=""), "t").policy
    target = policy.plans["desk"].target("response", 3)
    assert target is not None and target.business_day == rule("end-of-business-day+2")


def test_business_day_target_on_a_pausable_metric_is_an_error_naming_both() -> None:
    text = _CONFIG.format(target="end-of-business-day", pausable='"response"')
    with pytest.raises(ConfigError, match=r"plans\.desk\.targets\.response\.3: .*pausable"):
        parse_policy(text, "t")


def test_malformed_business_day_target_names_the_key() -> None:
    text = _CONFIG.format(target="end-of-business-day+31", pausable="")
    with pytest.raises(ConfigError, match=r"plans\.desk\.targets\.response\.3: bad target"):
        parse_policy(text, "t")


@settings(max_examples=150, deadline=None)
@given(
    restart=st.booleans(),
    priority=st.sampled_from([1, 2, 3]),
    steps=st.lists(
        st.tuples(
            st.integers(1, 60 * 24 * 6),
            st.sampled_from(["acknowledged", "reprioritised", "resolved", "reopened"]),
            st.sampled_from([1, 2, 3]),
        ),
        max_size=6,
        unique_by=lambda step: step[0],
    ),
    seed=st.randoms(use_true_random=False),
)
def test_business_day_clocks_do_not_depend_on_arrival_order(restart, priority, steps, seed):
    desk = _plan(
        {
            "response": {1: 3600, 2: "next-business-day 12:00", 3: "end-of-business-day"},
            "resolution": {1: "end-of-business-day+1", 2: 8 * 3600, 3: "end-of-business-day+3"},
        },
        "restart" if restart else "recalculate",
    )
    policy = policy_of(contract("c", desk), calendars=[OFFICE], priorities=(1, 2, 3))
    start = datetime(2025, 3, 28, 15, 0, tzinfo=UTC)  # a Friday before the DST change
    facts = [fact("c", "created", start.isoformat(), customer="c", priority=priority)]
    for i, (minutes, kind, new) in enumerate(steps):
        when = (start + timedelta(minutes=minutes)).isoformat()
        facts.append(fact(i, kind, when, priority=new if kind == "reprioritised" else None))
    shuffled = facts[:]
    seed.shuffle(shuffled)
    assert evaluate("T", facts, policy) == evaluate("T", shuffled, policy)
