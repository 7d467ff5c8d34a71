"""Escalation levels: when each falls due on a clock's business time, filters, pauses and stops,
withdrawal by late facts, and the same answers in any arrival order (hypothesis)."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.domain.alerts import ESCALATION, RAISED, WITHDRAWN, Alert, alert_id, alerts_due
from slaclock.domain.clocks import evaluate
from slaclock.domain.policy import Escalation
from tests.helpers import HOUR, at, calendar, contract, fact, plan, policy
from tests.unit.test_order_properties import POLICY, _facts, histories

ALWAYS = calendar("always")
OFFICE = calendar("office", "Europe/Berlin", {"mon-fri": "09:00-17:00"})
LEVELS = (
    Escalation(1, ("duty",), percent=50),
    Escalation(2, ("duty",), seconds=-HOUR),
    Escalation(3, ("oncall",), seconds=0),
    Escalation(4, ("manager",), seconds=HOUR),
)


def _policy(levels=LEVELS, on=ALWAYS, **options):
    base = plan("p", on, {"response": {1: 4, 2: 8}, "resolution": {1: 8}}, **options)
    return policy(contract("acme", replace(base, escalations=levels)))


def _levels(facts, pol, metric="response"):
    snapshot = evaluate("T", facts, pol)
    assert snapshot is not None
    return dict(snapshot.clocks[metric].escalations)


def created(when="2025-03-03T08:00:00+00:00", priority=1):
    return fact(1, "created", when, customer="acme", priority=priority)


def test_levels_fall_due_at_their_share_offset_and_breach() -> None:
    got = _levels([created()], _policy())
    start = at("2025-03-03T08:00:00+00:00")
    assert got == {
        1: start + 2 * HOUR,
        2: start + 3 * HOUR,
        3: start + 4 * HOUR,
        4: start + 5 * HOUR,
    }
    snapshot = evaluate("T", [created()], _policy())
    assert snapshot is not None and got[3] == snapshot.clocks["response"].breach_at


def test_levels_count_business_time_on_the_clock_calendar() -> None:
    # Friday 16:00 Berlin, 4 h of office time: 50 % Monday 10:00, breach Monday 12:00,
    # one hour after breach Monday 13:00 (the weekend does not count).
    got = _levels([created("2025-03-07T16:00:00+01:00")], _policy(on=OFFICE))
    assert got[1] == at("2025-03-10T10:00:00+01:00")
    assert got[3] == at("2025-03-10T12:00:00+01:00")
    assert got[4] == at("2025-03-10T13:00:00+01:00")


def test_a_paused_clock_fires_nothing_and_a_stopped_one_no_later_level() -> None:
    pol = _policy(pausable=["response"])
    paused = [
        created(),
        fact(2, "paused", "2025-03-03T09:00:00+00:00"),
        fact(3, "resumed", "2025-03-03T12:00:00+00:00"),
    ]
    got = _levels(paused, pol)
    assert got[1] == at("2025-03-03T13:00:00+00:00")  # 1 h before, 1 h after the pause
    still_paused = paused[:2]
    assert _levels(still_paused, pol) == {}
    stopped = [created(), fact(2, "acknowledged", "2025-03-03T10:30:00+00:00")]
    assert set(_levels(stopped, pol)) == {1}


def test_filters_by_metric_and_priority() -> None:
    levels = (
        Escalation(1, ("duty",), percent=75, metrics=frozenset({"resolution"})),
        Escalation(2, ("duty",), seconds=0, priorities=frozenset({2})),
    )
    pol = _policy(levels)
    assert set(_levels([created()], pol, "response")) == set()
    assert set(_levels([created()], pol, "resolution")) == {1}
    assert set(_levels([created(priority=2)], pol, "response")) == {2}
    assert pol.contracts[0].plan.escalation(2, "response", 1) is not None  # withdrawal fallback


def test_late_facts_withdraw_a_due_level() -> None:
    pol = _policy()
    watermark = at("2025-03-03T12:30:00+00:00")
    before = evaluate("T", [created()], pol)
    assert before is not None
    due = {a.percent for a in alerts_due(before, watermark) if a.kind == ESCALATION}
    assert due == {1, 2, 3}
    late = evaluate("T", [created(), fact(2, "acknowledged", "2025-03-03T10:30:00+00:00")], pol)
    assert late is not None
    due = {a.percent for a in alerts_due(late, watermark) if a.kind == ESCALATION}
    assert due == {1}  # levels 2 and 3 are withdrawn by the ticket's reconciliation


def test_alert_ids_are_stable_and_distinct() -> None:
    alert = Alert("response", ESCALATION, 2, 1_700_000_000)
    assert alert_id("T", alert, RAISED) == alert_id("T", alert, RAISED)
    others = {
        alert_id("T", alert, WITHDRAWN),
        alert_id("U", alert, RAISED),
        alert_id("T", replace(alert, percent=3), RAISED),
        alert_id("T", replace(alert, at=1_700_000_001), RAISED),
        alert_id("T", replace(alert, cycle=1), RAISED),
    }
    assert len(others) == 5 and alert_id("T", alert, RAISED) not in others


SAMPLE_LEVELS = (
    Escalation(1, ("n",), percent=75),
    Escalation(2, ("n",), seconds=-1800),
    Escalation(3, ("n",), seconds=0),
    Escalation(4, ("n",), seconds=HOUR),
)
ESCALATING = replace(
    POLICY,
    plans={n: replace(p, escalations=SAMPLE_LEVELS) for n, p in POLICY.plans.items()},
    contracts=tuple(
        replace(c, plan=replace(c.plan, escalations=SAMPLE_LEVELS)) for c in POLICY.contracts
    ),
)


@settings(max_examples=150, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_levels_do_not_depend_on_arrival_order(events, rnd: random.Random) -> None:
    facts = _facts(events)
    shuffled = list(facts)
    rnd.shuffle(shuffled)
    first, second = evaluate("T", facts, ESCALATING), evaluate("T", shuffled, ESCALATING)
    assert first is not None and second is not None
    for metric, clock in first.clocks.items():
        assert clock.escalations == second.clocks[metric].escalations
        levels = dict(clock.escalations)
        warnings = dict(clock.warnings)
        if 75 in warnings:  # "75%" is the 75 % warning's instant
            assert levels.get(1) == warnings[75]
        assert levels.get(3) == clock.breach_at  # "0" is the breach
        target = clock.target_seconds or 0
        by_part = sorted(levels, key=lambda n: (SAMPLE_LEVELS[n - 1].part(target), n))
        instants = [levels[n] for n in by_part]
        assert instants == sorted(instants)  # more open time never falls due earlier
        if clock.stopped_at is not None:
            assert all(t < clock.stopped_at for t in instants)


def test_each_reply_cycle_escalates_on_its_own_with_its_own_alert_ids() -> None:
    levels = (Escalation(1, ("duty",), percent=50, metrics=frozenset({"next_reply"})),)
    base = plan("p", ALWAYS, {"response": {1: 4}, "next_reply": {1: 2}})
    pol = policy(contract("acme", replace(base, escalations=levels)))
    facts = [
        created(),
        fact(2, "agent_replied", "2025-03-03T08:30:00+00:00"),
        fact(3, "customer_replied", "2025-03-03T09:00:00+00:00"),
        fact(4, "agent_replied", "2025-03-03T12:00:00+00:00"),  # after the 50 % (10:00)
        fact(5, "customer_replied", "2025-03-03T13:00:00+00:00"),  # still running
    ]
    snapshot = evaluate("T", facts, pol)
    assert snapshot is not None and snapshot.cycles is not None
    first, second = snapshot.cycles["next_reply"]
    assert dict(first.escalations) == {1: at("2025-03-03T10:00:00+00:00")}
    assert dict(second.escalations) == {1: at("2025-03-03T14:00:00+00:00")}
    assert snapshot.clocks["response"].escalations == ()  # the level names next_reply only
    due = alerts_due(snapshot, at("2025-03-03T15:00:00+00:00"))
    escalated = sorted(a for a in due if a.kind == ESCALATION)
    assert [(a.cycle, a.at) for a in escalated] == [
        (0, at("2025-03-03T10:00:00+00:00")),
        (1, at("2025-03-03T14:00:00+00:00")),
    ]
    first_id, second_id = (alert_id("T", a, RAISED) for a in escalated)
    assert first_id != second_id


def _without_warnings(policy):
    """``policy`` with no warnings: each level's instant is then found on its own, not
    taken from a warning at the same share."""
    quiet = {n: replace(p, warnings=()) for n, p in policy.plans.items()}
    return replace(
        policy,
        plans=quiet,
        contracts=tuple(replace(c, plan=quiet[c.plan.name]) for c in policy.contracts),
    )


QUIET = _without_warnings(ESCALATING)


@settings(max_examples=100, deadline=None)
@given(histories())
def test_a_level_at_a_warnings_share_falls_due_as_if_found_on_its_own(events) -> None:
    facts = _facts(events)
    shared, alone = evaluate("T", facts, ESCALATING), evaluate("T", facts, QUIET)
    assert shared is not None and alone is not None
    for metric, clock in shared.clocks.items():
        assert alone.clocks[metric].warnings == ()
        assert clock.escalations == alone.clocks[metric].escalations
