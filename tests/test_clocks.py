"""The clock rules of contract section 3, one behaviour per test, on a 24x7 UTC calendar
(so expected numbers are plain wall-clock arithmetic) unless a business calendar matters."""

from __future__ import annotations

import pytest

from slaclock.domain.clocks import evaluate
from tests.helpers import at, fact, policy_from

CONFIG = """
priorities = [1, 2, 3]
default_priority = 3
[calendars.always]
timezone = "UTC"
hours = { "mon-sun" = "00:00-24:00" }
[calendars.office]
timezone = "Europe/Berlin"
hours = { "mon-fri" = "09:00-17:00" }
[plans.calc]
calendar = "always"
targets.response = { 1 = "1h", 2 = "4h", 3 = "8h" }
targets.resolution = { 1 = "4h", 2 = "8h" }
targets.intervention = { 1 = "2h", 2 = "6h", 3 = "10h" }
pausable = ["resolution"]
[plans.again]
calendar = "always"
targets.response = { 1 = "1h", 2 = "4h", 3 = "8h" }
targets.resolution = { 1 = "4h", 2 = "8h", 3 = "12h" }
on_reprioritise = "restart"
[plans.office]
calendar = "office"
targets.response = { 1 = { within = "1h", calendar = "always" }, 2 = "3h", 3 = "6h" }
[[contracts]]
customer = "calc"
plan = "calc"
from = "2025-01-01"
monthly_fee = "100"
[[contracts]]
customer = "again"
plan = "again"
from = "2025-01-01"
monthly_fee = "100"
[[contracts]]
customer = "office"
plan = "office"
from = "2025-01-01"
monthly_fee = "100"
"""


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    return policy_from(tmp_path_factory.mktemp("cfg"), CONFIG)


def clocks(policy, facts, as_of: str):
    snapshot = evaluate("T", facts, policy, cutoff=at(as_of))
    assert snapshot is not None
    return {m: c.view(at(as_of), _between(policy, c)) for m, c in snapshot.clocks.items()}


def _between(policy, clock):
    calendar = policy.calendar_named(clock.calendar) if clock.calendar else None
    return calendar.between_epoch if calendar else None


def created(customer="calc", priority=2, when="2025-09-01T10:00:00+00:00"):
    return fact(0, "created", when, customer=customer, priority=priority)


def test_running_clock_counts_up_to_as_of(policy) -> None:
    view = clocks(policy, [created()], "2025-09-01T11:30:00+00:00")["response"]
    assert view.status == "running"
    assert view.elapsed_seconds == 5400 and view.remaining_seconds == 4 * 3600 - 5400
    assert view.deadline == at("2025-09-01T14:00:00+00:00") and view.breached_at is None


def test_met_when_stop_is_exactly_the_deadline(policy) -> None:
    facts = [created(), fact(1, "acknowledged", "2025-09-01T14:00:00+00:00")]
    view = clocks(policy, facts, "2025-09-02T00:00:00+00:00")["response"]
    assert view.status == "met" and view.remaining_seconds == 0


def test_breached_after_deadline_even_without_a_stop(policy) -> None:
    view = clocks(policy, [created()], "2025-09-01T14:00:01+00:00")["response"]
    assert view.status == "breached" and view.breached_at == at("2025-09-01T14:00:00+00:00")
    assert clocks(policy, [created()], "2025-09-01T14:00:00+00:00")["response"].status == "running"


def test_second_acknowledgement_changes_nothing(policy) -> None:
    facts = [
        created(),
        fact(1, "acknowledged", "2025-09-01T11:00:00+00:00"),
        fact(2, "acknowledged", "2025-09-01T12:00:00+00:00"),
    ]
    view = clocks(policy, facts, "2025-09-03T00:00:00+00:00")["response"]
    assert view.stopped_at == at("2025-09-01T11:00:00+00:00") and view.elapsed_seconds == 3600


def test_resolution_stops_every_clock(policy) -> None:
    facts = [created(), fact(1, "resolved", "2025-09-01T12:00:00+00:00")]
    views = clocks(policy, facts, "2025-09-03T00:00:00+00:00")
    assert {m: v.status for m, v in views.items()} == {
        "response": "met",
        "intervention": "met",
        "resolution": "met",
    }
    assert all(v.stopped_at == at("2025-09-01T12:00:00+00:00") for v in views.values())


def test_pause_stops_only_pausable_clocks_and_has_no_deadline(policy) -> None:
    facts = [created(), fact(1, "paused", "2025-09-01T11:00:00+00:00", reason="waiting")]
    views = clocks(policy, facts, "2025-09-01T20:00:00+00:00")
    assert views["resolution"].status == "paused" and views["resolution"].deadline is None
    assert views["resolution"].elapsed_seconds == 3600
    assert views["response"].status == "breached"  # response is not pausable here


def test_resume_continues_and_moves_the_deadline(policy) -> None:
    facts = [
        created(),
        fact(1, "paused", "2025-09-01T11:00:00+00:00"),
        fact(2, "resumed", "2025-09-01T15:00:00+00:00"),
    ]
    view = clocks(policy, facts, "2025-09-01T16:00:00+00:00")["resolution"]
    assert view.status == "running" and view.elapsed_seconds == 2 * 3600
    assert view.deadline == at("2025-09-01T22:00:00+00:00")  # 1 h before, 7 h after


def test_resumed_without_pause_changes_nothing(policy) -> None:
    plain = clocks(policy, [created()], "2025-09-01T12:00:00+00:00")
    facts = [created(), fact(1, "resumed", "2025-09-01T11:00:00+00:00")]
    assert clocks(policy, facts, "2025-09-01T12:00:00+00:00") == plain


def test_resolving_ends_a_pause_and_reopening_keeps_accrued_time(policy) -> None:
    facts = [
        created(),
        fact(1, "paused", "2025-09-01T11:00:00+00:00"),
        fact(2, "resolved", "2025-09-01T12:00:00+00:00"),
        fact(3, "reopened", "2025-09-01T13:00:00+00:00"),
    ]
    view = clocks(policy, facts, "2025-09-01T14:00:00+00:00")["resolution"]
    assert view.status == "running"
    assert view.elapsed_seconds == 2 * 3600  # 10-11 before the pause, 13-14 after reopening
    assert view.deadline == at("2025-09-01T20:00:00+00:00")  # 1 h before, 7 h from 13:00
    response = clocks(policy, facts, "2025-09-01T14:00:00+00:00")["response"]
    assert response.status == "met"  # reopening does not restart the response clock


def test_breach_in_a_reopened_stretch(policy) -> None:
    facts = [
        created(),
        fact(1, "resolved", "2025-09-01T16:00:00+00:00"),
        fact(2, "reopened", "2025-09-02T10:00:00+00:00"),
        fact(3, "resolved", "2025-09-02T13:00:00+00:00"),
    ]
    view = clocks(policy, facts, "2025-09-03T00:00:00+00:00")["resolution"]
    assert view.status == "breached" and view.breached_at == at("2025-09-02T12:00:00+00:00")
    assert view.elapsed_seconds == 9 * 3600


def test_recalculate_judges_as_if_always_the_new_priority(policy) -> None:
    facts = [
        created(priority=3),
        fact(1, "reprioritised", "2025-09-01T12:00:00+00:00", priority=1),
        fact(2, "acknowledged", "2025-09-01T12:30:00+00:00"),
    ]
    view = clocks(policy, facts, "2025-09-02T00:00:00+00:00")["response"]
    assert view.status == "breached" and view.breached_at == at("2025-09-01T11:00:00+00:00")
    assert view.target_seconds == 3600 and view.started_at == at("2025-09-01T10:00:00+00:00")


def test_recalculate_withdraws_a_breach_when_the_new_target_is_not_exceeded(policy) -> None:
    facts = [
        created(priority=1),
        fact(1, "reprioritised", "2025-09-01T13:00:00+00:00", priority=3),
        fact(2, "acknowledged", "2025-09-01T15:00:00+00:00"),
    ]
    view = clocks(policy, facts, "2025-09-02T00:00:00+00:00")["response"]
    assert view.status == "met" and view.target_seconds == 8 * 3600
    # before the reprioritisation, the P1 breach stood
    early = clocks(policy, facts, "2025-09-01T12:00:00+00:00")["response"]
    assert early.status == "breached"


def test_reprioritisation_leaves_stopped_clocks_alone(policy) -> None:
    facts = [
        created(priority=3),
        fact(1, "acknowledged", "2025-09-01T15:00:00+00:00"),
        fact(2, "reprioritised", "2025-09-01T16:00:00+00:00", priority=1),
    ]
    snapshot = evaluate("T", facts, policy)
    assert snapshot.priority == 1
    assert snapshot.clocks["response"].priority == 3
    view = clocks(policy, facts, "2025-09-02T00:00:00+00:00")["response"]
    assert view.status == "met" and view.target_seconds == 8 * 3600


def test_reprioritised_to_a_priority_without_target_is_not_applicable(policy) -> None:
    facts = [created(priority=2), fact(1, "reprioritised", "2025-09-01T11:00:00+00:00", priority=3)]
    view = clocks(policy, facts, "2025-09-01T12:00:00+00:00")["resolution"]
    assert view.status == "not_applicable"


def test_restart_starts_afresh_when_not_yet_breached(policy) -> None:
    facts = [
        created(customer="again", priority=3),
        fact(1, "reprioritised", "2025-09-01T12:00:00+00:00", priority=1),
    ]
    view = clocks(policy, facts, "2025-09-01T12:30:00+00:00")["response"]
    assert view.started_at == at("2025-09-01T12:00:00+00:00")
    assert view.deadline == at("2025-09-01T13:00:00+00:00") and view.elapsed_seconds == 1800


def test_restart_keeps_a_breached_clock_on_its_old_target(policy) -> None:
    facts = [
        created(customer="again", priority=1),
        fact(1, "reprioritised", "2025-09-01T12:00:00+00:00", priority=3),
        fact(2, "acknowledged", "2025-09-01T13:00:00+00:00"),
    ]
    view = clocks(policy, facts, "2025-09-02T00:00:00+00:00")["response"]
    assert view.status == "breached" and view.target_seconds == 3600
    assert view.breached_at == at("2025-09-01T11:00:00+00:00")
    assert view.started_at == at("2025-09-01T10:00:00+00:00")


def test_clock_started_outside_hours_accrues_nothing_until_open(policy) -> None:
    facts = [created(customer="office", priority=2, when="2025-09-06T10:00:00+02:00")]  # Sat
    view = clocks(policy, facts, "2025-09-08T09:30:00+02:00")["response"]
    assert view.elapsed_seconds == 1800
    assert view.deadline == at("2025-09-08T12:00:00+02:00")


def test_priority_target_on_its_own_calendar(policy) -> None:
    facts = [created(customer="office", priority=1, when="2025-09-06T10:00:00+02:00")]
    view = clocks(policy, facts, "2025-09-06T10:30:00+02:00")["response"]
    assert view.calendar == "always" and view.deadline == at("2025-09-06T11:00:00+02:00")


def test_customer_without_contract_has_only_not_applicable_clocks(policy) -> None:
    snapshot = evaluate("T", [created(customer="nobody")], policy)
    assert snapshot.contract is None
    assert all(not c.applicable for c in snapshot.clocks.values())


def test_events_after_as_of_do_not_count(policy) -> None:
    facts = [created(), fact(1, "acknowledged", "2025-09-01T12:00:00+00:00")]
    view = clocks(policy, facts, "2025-09-01T11:00:00+00:00")["response"]
    assert view.status == "running" and view.stopped_at is None
    assert evaluate("T", facts, policy, cutoff=at("2025-09-01T09:00:00+00:00")) is None
