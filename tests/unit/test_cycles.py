"""Cycle metrics (docs/clocks.md, "Cycle metrics"): next_reply and ownership cycles, each a
clock of its own, on a 24x7 UTC calendar unless a business calendar matters; and the
property that arrival order never changes them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.domain.clocks import ClockView, evaluate
from slaclock.domain.policy import ANY, Plan, Target
from tests.helpers import at, calendar, contract, fact, plan, policy

ALWAYS = calendar("always")
OFFICE = calendar("office", "Europe/Berlin", {"mon-fri": "09:00-17:00"})
HOUR = 3600


def _with_ownership(base: Plan, table: dict) -> Plan:
    rows = {
        group: {p: Target(int(h * HOUR), base.calendar) for p, h in row.items()}
        for group, row in table.items()
    }
    return Plan(
        base.name, base.calendar, base.targets, base.pausable, base.on_reprioritise,
        ownership=rows,
    )  # fmt: skip


def _plans() -> list[Plan]:
    targets = {"response": {1: 1, 2: 4, 3: 8}, "next_reply": {1: 1, 2: 2, 3: 4}}
    table = {"L1": {1: 0.5, 2: 1, ANY: 2}, ANY: {ANY: 8}, "L9": {1: 1}}
    calc = _with_ownership(plan("calc", ALWAYS, targets, pausable=["next_reply"]), table)
    again = _with_ownership(
        plan("again", ALWAYS, targets, on_reprioritise="restart"), {"L1": {ANY: 2}}
    )
    office = _with_ownership(plan("office", OFFICE, {"next_reply": {1: 2, 2: 2, 3: 2}}), {})
    return [calc, again, office]


CALC, AGAIN, IN_OFFICE = _plans()
POLICY = policy(contract("calc", CALC), contract("again", AGAIN), contract("office", IN_OFFICE))
DAY = "2025-09-01T"  # a Monday


def t(hhmm: str) -> str:
    return f"{DAY}{hhmm}:00+00:00"


def cycles(facts, metric: str, as_of: str = "2025-09-03T00:00:00+00:00") -> list[ClockView]:
    snapshot = evaluate("T", facts, POLICY, cutoff=at(as_of))
    assert snapshot is not None and snapshot.cycles is not None
    views = []
    for cycle in snapshot.cycles[metric]:
        cal = POLICY.calendar_named(cycle.calendar) if cycle.calendar else None
        views.append(cycle.view(at(as_of), cal.between_epoch if cal else None))
    return views


def created(customer="calc", priority=2, when=None, group=None):
    when = when or t("10:00")
    return fact("c", "created", when, customer=customer, priority=priority, group=group)


def test_a_customer_message_before_the_first_answer_starts_no_cycle() -> None:
    facts = [created(), fact(1, "customer_replied", t("10:10"))]
    assert cycles(facts, "next_reply") == []


def test_a_cycle_runs_from_the_oldest_unanswered_message_to_the_next_agent_reply() -> None:
    facts = [
        created(),
        fact(1, "agent_replied", t("10:30")),
        fact(2, "customer_replied", t("11:00")),
        fact(3, "customer_replied", t("11:30")),  # changes nothing: a cycle runs
        fact(4, "agent_replied", t("12:30")),
        fact(5, "customer_replied", t("13:00")),
    ]
    first, second = cycles(facts, "next_reply", t("14:00"))
    assert first.status == "met" and first.started_at == at(t("11:00"))
    assert first.stopped_at == at(t("12:30")) and first.elapsed_seconds == 5400
    assert first.deadline == at(t("13:00"))
    assert second.status == "running" and second.elapsed_seconds == 3600


def test_an_acknowledgement_counts_as_an_answer_and_a_resolution_stops_the_cycle() -> None:
    facts = [
        created(priority=1),
        fact(1, "acknowledged", t("10:05")),
        fact(2, "customer_replied", t("10:10")),
        fact(3, "resolved", t("12:10")),
        fact(4, "customer_replied", t("12:20")),  # resolved: no cycle
    ]
    (only,) = cycles(facts, "next_reply")
    assert only.status == "breached" and only.breached_at == at(t("11:10"))
    assert only.stopped_at == at(t("12:10"))


def test_a_pausable_cycle_does_not_count_while_the_ticket_is_paused() -> None:
    facts = [
        created(),
        fact(1, "agent_replied", t("10:30")),
        fact(2, "paused", t("10:40"), reason="waiting_for_customer"),
        fact(3, "customer_replied", t("11:00")),  # starts paused
        fact(4, "resumed", t("12:00")),
        fact(5, "agent_replied", t("13:00")),
    ]
    (only,) = cycles(facts, "next_reply")
    assert only.status == "met" and only.elapsed_seconds == HOUR
    assert only.deadline == at(t("14:00"))


def test_a_cycle_counts_business_time_from_its_own_start() -> None:
    facts = [
        created("office", when="2025-09-01T08:00:00+00:00"),
        fact(1, "agent_replied", "2025-09-01T08:10:00+00:00"),
        fact(2, "customer_replied", "2025-09-01T14:30:00+00:00"),  # 16:30 in Berlin
    ]
    (only,) = cycles(facts, "next_reply", "2025-09-02T09:00:00+00:00")
    # 30 min on Monday, 90 min on Tuesday from 09:00 Berlin (07:00 UTC)
    assert only.deadline == at("2025-09-02T08:30:00+00:00") and only.status == "breached"


def test_ownership_cycles_per_group_with_handovers_and_star_rows() -> None:
    facts = [
        created(priority=1, group="L1"),
        fact(1, "assigned", t("10:20"), group="L1"),  # already holds it: nothing changes
        fact(2, "assigned", t("10:40"), group="L2"),
        fact(3, "assigned", t("11:00"), group="L9"),
    ]
    snapshot = evaluate("T", facts, POLICY)
    assert snapshot is not None and snapshot.cycles is not None
    groups = [(c.group, c.target_seconds) for c in snapshot.cycles["ownership"]]
    assert groups == [("L1", 1800), ("L2", 8 * HOUR), ("L9", HOUR)]
    l1, l2, l9 = cycles(facts, "ownership", t("12:30"))
    assert l1.status == "breached" and l1.stopped_at == at(t("10:40"))
    assert l2.status == "met" and l2.elapsed_seconds == 1200
    assert l9.status == "breached" and l9.remaining_seconds == -1800


def test_a_group_whose_own_row_lacks_the_priority_is_not_applicable() -> None:
    facts = [created(priority=2), fact(1, "assigned", t("10:20"), group="L9")]
    (only,) = cycles(facts, "ownership")
    assert only.status == "not_applicable" and only.target_seconds is None


def test_resolution_stops_ownership_and_reopening_starts_a_cycle_for_the_holder() -> None:
    facts = [
        created(priority=3, group="L1"),
        fact(1, "resolved", t("11:00")),
        fact(2, "assigned", t("11:30"), group="L2"),  # resolved: holder changes, no cycle
        fact(3, "reopened", t("12:00")),
    ]
    first, second = cycles(facts, "ownership", t("13:00"))
    assert first.status == "met" and first.elapsed_seconds == HOUR
    assert second.status == "running" and second.started_at == at(t("12:00"))
    assert second.target_seconds == 8 * HOUR  # L2 has no row: the "*" row


def test_recalculate_judges_the_running_cycle_on_the_new_priority_from_its_start() -> None:
    facts = [
        created(priority=3),
        fact(1, "agent_replied", t("10:10")),
        fact(2, "customer_replied", t("10:20")),
        fact(3, "agent_replied", t("11:20")),
        fact(4, "customer_replied", t("12:00")),
        fact(5, "reprioritised", t("12:30"), priority=1),
    ]
    first, second = cycles(facts, "next_reply", t("12:40"))
    assert first.target_seconds == 4 * HOUR and first.status == "met"  # completed: kept
    assert second.target_seconds == HOUR and second.deadline == at(t("13:00"))


def test_restart_starts_the_running_cycle_afresh_unless_it_is_breached() -> None:
    base = [created("again", priority=1, group="L1")]
    restarted = cycles([*base, fact(1, "reprioritised", t("11:00"), priority=3)], "ownership")
    assert restarted[0].started_at == at(t("11:00"))
    breached = cycles([*base, fact(1, "reprioritised", t("12:30"), priority=3)], "ownership")
    assert breached[0].started_at == at(t("10:00")) and breached[0].status == "breached"


def test_a_plan_without_cycle_targets_has_no_cycles_and_no_contract_none_either() -> None:
    snapshot = evaluate("T", [created("office", group="L1")], POLICY)
    assert snapshot is not None and snapshot.cycles == {"next_reply": ()}
    nobody = evaluate("T", [created("nobody")], POLICY)
    assert nobody is not None and nobody.cycles == {}


KINDS = [
    "acknowledged",
    "agent_replied",
    "customer_replied",
    "customer_replied",
    "assigned",
    "reprioritised",
    "paused",
    "resumed",
    "resolved",
    "reopened",
]
START = datetime(2025, 9, 5, 14, 0, tzinfo=UTC)


@st.composite
def histories(draw):
    customer = draw(st.sampled_from(["calc", "again", "office"]))
    group = draw(st.sampled_from([None, "L1", "L2"]))
    when = START.isoformat()
    facts = [created(customer, draw(st.sampled_from([1, 2, 3])), when, group)]
    offsets = draw(st.lists(st.integers(1, 60 * 24 * 6), max_size=14, unique=True))
    for i, minutes in enumerate(sorted(offsets)):
        kind = draw(st.sampled_from(KINDS))
        extra = {}
        if kind == "reprioritised":
            extra["priority"] = draw(st.sampled_from([1, 2, 3]))
        if kind == "assigned":
            extra["group"] = draw(st.sampled_from(["L1", "L2", "L9"]))
        when = (START + timedelta(minutes=minutes)).isoformat()
        facts.append(fact(i, kind, when, **extra))
    return facts


@settings(max_examples=300, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_cycles_ignore_arrival_order(facts, rnd: random.Random) -> None:
    shuffled = facts[:]
    rnd.shuffle(shuffled)
    expected = evaluate("T", facts, POLICY)
    assert evaluate("T", shuffled, POLICY) == expected
    assert expected is not None and expected.cycles is not None


@pytest.mark.parametrize(("metric", "count"), [("next_reply", 2), ("ownership", 3)])
def test_cycles_are_in_start_order_and_never_overlap(metric: str, count: int) -> None:
    facts = [
        created(priority=1, group="L1"),
        fact(1, "agent_replied", t("10:05")),
        fact(2, "customer_replied", t("10:10")),
        fact(3, "assigned", t("10:15"), group="L2"),
        fact(4, "agent_replied", t("10:20")),
        fact(5, "customer_replied", t("10:25")),
        fact(6, "assigned", t("10:30"), group="L1"),
    ]
    views = cycles(facts, metric, t("11:00"))
    assert len(views) == count
    for before, after in pairwise(views):
        assert before.stopped_at is not None and before.stopped_at <= after.started_at
