"""A clock's paused time (``paused_seconds``, ``paused_since``): real elapsed seconds while
the clock is live but not accruing under the plan's pauses, from its start to its stop
(docs/analytics.md, ``clocks.paused_seconds``). Real time, not business time: a pause over
a night or a DST change counts every second it lasted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.domain.clocks import evaluate, walk_clock
from slaclock.domain.facts import in_order
from tests.helpers import HOUR, at, calendar, contract, fact, plan, policy

OFFICE = calendar("office", "Europe/Berlin", {"mon-fri": "09:00-17:00"})
ALWAYS = calendar("always")
TARGETS = {"response": {1: 1, 2: 4, 3: 8}, "resolution": {1: 40, 2: 80, 3: 120}}
CALC = plan("calc", OFFICE, TARGETS, pausable=["resolution"])
AGAIN = plan("again", OFFICE, TARGETS, pausable=["resolution"], on_reprioritise="restart")
REPLIES = plan("replies", ALWAYS, {"next_reply": {1: 1, 2: 2, 3: 4}}, pausable=["next_reply"])
POLICY = policy(contract("calc", CALC), contract("again", AGAIN), contract("replies", REPLIES))
MON = "2025-09-01T"  # a Monday; Berlin is UTC+2


def created(customer: str = "calc", when: str = MON + "10:00:00+02:00"):
    return fact("c", "created", when, customer=customer, priority=2)


def clock(facts, metric: str = "resolution"):
    snapshot = evaluate("T", facts, POLICY)
    assert snapshot is not None
    return snapshot.clocks[metric]


def test_a_pause_over_the_night_counts_real_seconds_not_business_ones() -> None:
    facts = [
        created(),
        fact(1, "paused", MON + "16:00:00+02:00", reason="waiting"),  # one open hour left
        fact(2, "resumed", "2025-09-02T10:00:00+02:00"),  # one open hour into Tuesday
        fact(3, "resolved", "2025-09-02T11:00:00+02:00"),
    ]
    c = clock(facts)
    assert c.paused_seconds == 18 * HOUR and c.paused_since is None
    assert c.accrued == 6 * HOUR + HOUR  # business time: 10-16 Monday, 10-11 Tuesday


def test_a_pause_inside_business_hours_counts_the_same_real_seconds() -> None:
    facts = [
        created(),
        fact(1, "paused", MON + "11:00:00+02:00"),
        fact(2, "resumed", MON + "12:30:00+02:00"),
        fact(3, "resolved", MON + "13:00:00+02:00"),
    ]
    c = clock(facts)
    assert c.paused_seconds == 90 * 60
    assert c.accrued == HOUR + 30 * 60


def test_a_pause_across_the_dst_change_counts_the_hour_it_gained() -> None:
    # Berlin leaves summer time on Sunday 2025-10-26 (03:00 CEST -> 02:00 CET).
    facts = [
        created(when="2025-10-24T10:00:00+02:00"),
        fact(1, "paused", "2025-10-25T12:00:00+02:00"),
        fact(2, "resumed", "2025-10-27T12:00:00+01:00"),
        fact(3, "resolved", "2025-10-27T13:00:00+01:00"),
    ]
    assert clock(facts).paused_seconds == 49 * HOUR


def test_repeated_pauses_add_up_and_a_resume_without_pause_changes_nothing() -> None:
    facts = [
        created(),
        fact(1, "paused", MON + "10:10:00+02:00"),
        fact(2, "resumed", MON + "10:20:00+02:00"),
        fact(3, "resumed", MON + "10:30:00+02:00"),
        fact(4, "paused", MON + "11:00:00+02:00"),
        fact(5, "paused", MON + "11:05:00+02:00", reason="again"),  # still one pause
        fact(6, "resumed", MON + "11:30:00+02:00"),
        fact(7, "resolved", MON + "12:00:00+02:00"),
    ]
    assert clock(facts).paused_seconds == 10 * 60 + 30 * 60


def test_a_pause_at_the_start_counts_from_the_creation() -> None:
    facts = [
        created(),
        fact(1, "paused", MON + "10:00:00+02:00"),
        fact(2, "resumed", MON + "14:00:00+02:00"),
        fact(3, "resolved", MON + "15:00:00+02:00"),
    ]
    c = clock(facts)
    assert c.paused_seconds == 4 * HOUR and c.accrued == HOUR


def test_a_clock_stopped_while_paused_counts_the_pause_up_to_its_stop() -> None:
    facts = [
        created(),
        fact(1, "paused", MON + "11:00:00+02:00"),
        fact(2, "resolved", MON + "15:00:00+02:00"),
        fact(3, "resumed", MON + "16:00:00+02:00"),  # after the stop: not the clock's
    ]
    c = clock(facts)
    assert c.paused_seconds == 4 * HOUR and c.paused_since is None and not c.paused


def test_an_open_pause_is_not_counted_yet_and_says_since_when() -> None:
    facts = [
        created(),
        fact(1, "paused", MON + "11:00:00+02:00"),
        fact(2, "resumed", MON + "12:00:00+02:00"),
        fact(3, "paused", MON + "13:00:00+02:00"),
        fact(4, "customer_replied", MON + "15:00:00+02:00"),  # a later fact changes nothing
    ]
    c = clock(facts)
    assert c.paused and c.paused_seconds == HOUR
    assert c.paused_since == at(MON + "13:00:00+02:00")


def test_a_metric_the_plan_does_not_pause_has_no_paused_time() -> None:
    facts = [
        created(),
        fact(1, "paused", MON + "10:30:00+02:00"),
        fact(2, "resumed", MON + "11:30:00+02:00"),
        fact(3, "acknowledged", MON + "12:00:00+02:00"),
    ]
    c = clock(facts, "response")
    assert c.paused_seconds == 0 and c.paused_since is None


def test_a_restart_on_reprioritisation_counts_pauses_from_the_new_start() -> None:
    facts = [
        created("again"),
        fact(1, "paused", MON + "10:30:00+02:00"),
        fact(2, "resumed", MON + "11:30:00+02:00"),
        fact(3, "paused", MON + "12:00:00+02:00"),
        fact(4, "reprioritised", MON + "13:00:00+02:00", priority=1),  # restarts, paused
        fact(5, "resumed", MON + "14:00:00+02:00"),
        fact(6, "resolved", MON + "15:00:00+02:00"),
    ]
    c = clock(facts)
    assert c.started_at == at(MON + "13:00:00+02:00")
    assert c.paused_seconds == HOUR


def test_reopening_counts_the_pauses_of_both_live_periods_not_the_resolved_gap() -> None:
    facts = [
        created(),
        fact(1, "paused", MON + "10:30:00+02:00"),
        fact(2, "resumed", MON + "11:00:00+02:00"),
        fact(3, "resolved", MON + "12:00:00+02:00"),
        fact(4, "reopened", MON + "14:00:00+02:00"),
        fact(5, "paused", MON + "14:10:00+02:00"),
        fact(6, "resumed", MON + "14:30:00+02:00"),
        fact(7, "resolved", MON + "15:00:00+02:00"),
    ]
    assert clock(facts).paused_seconds == 30 * 60 + 20 * 60


def test_a_cycle_counts_its_own_paused_time() -> None:
    facts = [
        created("replies"),
        fact(1, "agent_replied", MON + "10:30:00+02:00"),
        fact(2, "paused", MON + "10:40:00+02:00"),
        fact(3, "customer_replied", MON + "11:00:00+02:00"),  # the cycle starts paused
        fact(4, "resumed", MON + "12:00:00+02:00"),
        fact(5, "agent_replied", MON + "13:00:00+02:00"),
        fact(6, "customer_replied", MON + "13:30:00+02:00"),
        fact(7, "paused", MON + "14:00:00+02:00"),
    ]
    snapshot = evaluate("T", facts, POLICY)
    assert snapshot is not None and snapshot.cycles is not None
    first, second = snapshot.cycles["next_reply"]
    assert first.paused_seconds == HOUR and first.paused_since is None
    assert second.paused_seconds == 0 and second.paused_since == at(MON + "14:00:00+02:00")


_START = datetime(2025, 10, 20, 6, tzinfo=UTC)  # a week with Berlin's DST change in it
_KINDS = st.sampled_from(
    ["paused", "resumed", "reprioritised", "customer_replied", "agent_replied"]
)


@st.composite
def histories(draw):
    """A ticket's facts from creation to resolution (never resolved before, so the
    resolution clock is live from its start to its stop), minutes apart."""
    steps = draw(st.lists(st.tuples(_KINDS, st.integers(0, 3000)), max_size=12))
    facts, when = [created(draw(st.sampled_from(["calc", "again"])), _START.isoformat())], _START
    for n, (kind, minutes) in enumerate(steps):
        when += timedelta(minutes=minutes)
        extra = {"priority": draw(st.integers(1, 3))} if kind == "reprioritised" else {}
        facts.append(fact(n, kind, when.isoformat(), **extra))
    when += timedelta(minutes=draw(st.integers(0, 3000)))
    facts.append(fact("end", "resolved", when.isoformat()))
    return facts


@settings(max_examples=200, deadline=None)
@given(histories())
def test_paused_and_running_real_time_add_up_to_the_clock_span(facts) -> None:
    ordered = in_order(facts)
    contract_plan = CALC if facts[0].customer_id == "calc" else AGAIN
    w = walk_clock("resolution", ordered, contract_plan, 2, trace=False)
    running = sum(end - start for start, end in w.stretches)
    assert w.stopped_at is not None and w.since is None and w.paused_since is None
    assert running + w.paused_total == w.stopped_at - w.origin
    snapshot = evaluate("T", facts, POLICY)
    assert snapshot is not None
    if snapshot.clocks["resolution"].applicable:
        assert snapshot.clocks["resolution"].paused_seconds == w.paused_total
