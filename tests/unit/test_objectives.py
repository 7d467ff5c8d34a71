"""Objectives and tiered credits (docs/configuration.md, "Objectives"): the verdict on a
month's counts, the credits report's objectives per customer, and the configuration keys."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slaclock.config import ConfigError, parse_policy
from slaclock.domain.objectives import CreditTier, Objective, percent_text
from slaclock.domain.policy import Plan
from slaclock.projections.month_counts import count
from slaclock.projections.objectives import (
    by_contract,
    contracts_in_force,
    count_outcomes,
    month_objectives,
)
from slaclock.projections.queries import Outcome
from slaclock.projections.render import objective_json
from slaclock.projections.reports import compliance, compliance_rows, credits
from tests.helpers import at, calendar, contract
from tests.helpers import credits as credit_rule
from tests.helpers import policy as policy_of

D = Decimal
TIERED = Objective(
    "response", (1, 2), D(95), 5, (CreditTier(D(95), D(5)), CreditTier(D(90), D(10)))
)


def test_the_share_is_compared_exactly_at_the_target() -> None:
    assert TIERED.assess(19, 1, D("100")).achieved  # 95 % exactly
    assert TIERED.assess(19, 1, D("100")).credit == 0
    short = TIERED.assess(94, 5, D("100"))  # 94.95 %: rounds to 0.9495, still short
    assert not short.achieved and short.credit == 5 and short.amount == D("5.00")


def test_the_largest_credit_of_the_tiers_reached() -> None:
    verdict = TIERED.assess(8, 2, D("333.33"))  # 80 %
    assert verdict.credit == 10 and verdict.amount == D("33.33")
    assert verdict.attainment == 0.8


def test_too_few_outcomes_are_not_assessed() -> None:
    verdict = TIERED.assess(2, 2, D("100"))
    assert not verdict.assessed and not verdict.achieved
    assert verdict.attainment is None and verdict.credit is None and verdict.amount == 0


def test_amounts_are_rounded_half_up_to_cents() -> None:
    objective = Objective("response", None, D(95), 1, (CreditTier(D(95), D("12.5")),))
    assert objective.assess(0, 1, D("99.90")).amount == D("12.49")  # 12.4875
    assert objective.assess(0, 1, D("0.36")).amount == D("0.05")  # 0.045 half-up


@given(met=st.integers(0, 400), breached=st.integers(0, 400))
def test_verdict_agrees_with_exact_fractions(met: int, breached: int) -> None:
    verdict = TIERED.assess(met, breached, D("1000"))
    decided = met + breached
    if decided < 5:
        assert not verdict.assessed
        return
    share = D(met) / D(decided) * 100
    assert verdict.achieved == (D(met * 100) >= D(95) * decided)
    expected = D(10) if met * 100 < 90 * decided else D(5) if met * 100 < 95 * decided else D(0)
    assert verdict.credit == expected
    assert (verdict.credit == 0) == (share >= 95)


def test_percents_print_as_their_shortest_decimal() -> None:
    assert [percent_text(D(p)) for p in ("12.5", "0", "95", "100", "10.50")] == [
        "12.5%", "0%", "95%", "100%", "10.5%"
    ]  # fmt: skip


# ------------------------------------------------------------------------- the report
OFFICE = calendar("office", "Europe/Vienna", {"mon-fri": "09:00-17:00"})
NIGHT = calendar("night", "America/Los_Angeles", {"mon-fri": "20:00-04:00"})
DESK = Plan(
    "desk", OFFICE, {}, credits=credit_rule(["response"], "2", "30"),
    objectives=(TIERED, Objective("resolution", None, D(80), 1, (CreditTier(D(80), D(4)),))),
)  # fmt: skip
NIGHTLY = Plan("nightly", NIGHT, {}, objectives=(Objective("response", None, D(90), 1),))
ALPHA = contract("alpha", DESK, fee="720.00")
BETA = contract("beta", NIGHTLY, fee="1100.00")
GAMMA = contract("gamma", DESK, "2025-04-01", fee="99.90")
POLICY = policy_of(ALPHA, BETA, GAMMA, calendars=[OFFICE, NIGHT])


def outcome(n: int, on, metric: str, priority: int, status: str, when: str) -> Outcome:
    return Outcome(f"T{n}", on.customer, on, metric, priority, status, at(when))


def test_contracts_in_force_during_a_month() -> None:
    assert {c.customer for c in contracts_in_force(POLICY, "2025-03")} == {"alpha", "beta"}
    assert {c.customer for c in contracts_in_force(POLICY, "2025-04")} == {"alpha", "beta", "gamma"}


def test_report_lists_every_objective_with_per_breach_credits_and_cap() -> None:
    outcomes = [
        *(outcome(i, ALPHA, "response", 1, "met", "2025-04-02T10:00:00+02:00") for i in range(3)),
        outcome(3, ALPHA, "response", 2, "breached", "2025-04-02T11:00:00+02:00"),
        outcome(4, ALPHA, "response", 2, "breached", "2025-04-02T12:00:00+02:00"),
        outcome(5, ALPHA, "response", 3, "met", "2025-04-02T12:00:00+02:00"),  # not counted
        outcome(6, BETA, "response", 4, "breached", "2025-04-02T12:00:00-07:00"),
    ]
    assessed = month_objectives(POLICY, "2025-04", count_outcomes(outcomes))
    assert assessed is not None and set(assessed) == {"alpha", "beta", "gamma"}
    report = {c.customer_id: c for c in credits(outcomes, objectives=assessed)}
    alpha = report["alpha"]
    rows = [objective_json(row.assessment) for row in alpha.objectives or []]
    assert [r["metric"] for r in rows] == ["resolution", "response"]
    assert rows[1] | {} == {
        "metric": "response", "priorities": [1, 2], "target": "95%", "met": 3, "breached": 2,
        "attainment": 0.6, "assessed": True, "achieved": False, "credit": "10%",
        "amount": "72.00",
    }  # fmt: skip
    assert rows[0]["assessed"] is False and rows[0]["credit"] is None
    assert [e.ticket_id for e in alpha.entries] == ["T3", "T4"]
    assert alpha.subtotal == D("100.80") and alpha.cap == D("216.00") and alpha.total == D("100.80")
    beta = report["beta"]
    assert beta.entries == [] and beta.cap is None
    assert beta.subtotal == beta.total == D("0.00")  # no tiers: nothing owed
    gamma = report["gamma"]  # in force, no outcome: listed, not assessed
    assert gamma.subtotal == D("0.00") and gamma.cap == D("29.97")


def test_objective_credits_are_capped_with_the_per_breach_ones() -> None:
    when = "2025-04-02T10:00:00+02:00"
    outcomes = [outcome(i, GAMMA, "response", 1, "breached", when) for i in range(10)]
    assessed = month_objectives(POLICY, "2025-04", count_outcomes(outcomes), customer="gamma")
    (gamma,) = credits(outcomes, objectives=assessed)
    assert gamma.subtotal == D("29.99")  # 10 x 2.00 per breach + 10 % of 99.90
    assert gamma.cap == D("29.97") and gamma.total == D("29.97")


def test_without_objectives_the_report_has_none() -> None:
    plain = policy_of(contract("alpha", Plan("desk", OFFICE, {})), calendars=[OFFICE])
    assert month_objectives(plain, "2025-04", count_outcomes([])) is None
    assert credits([], objectives=None) == []


# ------------------------------------------------------------------------- configuration
_CONFIG = """
[calendars.office]
timezone = "Europe/Vienna"
hours = {{ "mon-fri" = "09:00-17:00" }}
[plans.desk]
calendar = "office"
targets.response = {{ 1 = "1h", 2 = "4h" }}
{credits}
[[plans.desk.objectives]]
{objective}
"""
_GOOD = 'metric = "response"\npriorities = [2, 1]\ntarget = "95%"\nminimum = 5\n' + (
    'credits = [ { below = "95%", credit = "5%" }, { below = "90%", credit = "12.5%" } ]'
)


def test_configuration_reads_objectives_and_optional_per_breach() -> None:
    text = _CONFIG.format(credits='[plans.desk.credits]\ncap = "30%"', objective=_GOOD)
    plan = parse_policy(text, "t").policy.plans["desk"]
    assert plan.credits is not None and plan.credits.per_breach is None
    tiers = (CreditTier(D(95), D(5)), CreditTier(D(90), D("12.5")))
    assert plan.objectives == (Objective("response", (2, 1), D(95), 5, tiers),)


@pytest.mark.parametrize(
    ("objective", "key"),
    [
        ('metric = "ownership"\ntarget = "90%"', "objectives.0.metric: ownership is internal"),
        ('metric = "speed"\ntarget = "90%"', "objectives.0.metric: unknown metric"),
        ('metric = "response"\ntarget = "120%"', "objectives.0.target"),
        ('metric = "response"\ntarget = "90%"\npriorities = [7]', "objectives.0.priorities"),
        ('metric = "response"\ntarget = "90%"\nminimum = 0', "objectives.0.minimum"),
        ('metric = "response"\ntarget = "x"', "objectives.0.target: bad percentage"),
        ('metric = "response"\ntarget = "90%"\ncredits = [{ below = "90%" }]',
         "objectives.0.credits.0.credit"),
    ],
)  # fmt: skip
def test_bad_objectives_name_the_key(objective: str, key: str) -> None:
    with pytest.raises(ConfigError, match=f"plans\\.desk\\.{key}"):
        parse_policy(_CONFIG.format(credits="", objective=objective), "t")


# ------------------------------------------------- counted outcomes (projections.month_counts)
OUTCOMES = st.builds(
    outcome,
    st.integers(0, 50),
    st.sampled_from([ALPHA, BETA, GAMMA]),
    st.sampled_from(["response", "resolution", "next_reply"]),
    st.sampled_from([1, 2, 3, None]),
    st.sampled_from(["met", "breached"]),
    st.sampled_from(["2025-04-01T00:30:00+02:00", "2025-04-15T12:00:00+02:00"]),
)


@given(st.lists(OUTCOMES, max_size=40))
def test_counted_outcomes_give_the_reports_of_the_outcomes(outcomes: list[Outcome]) -> None:
    """What the database counts (per customer, contract, metric, priority, status) gives the
    compliance rows and objectives that the outcomes themselves give, in any order."""
    counts = count(outcomes)
    assert by_contract(counts) == count_outcomes(outcomes)
    assert compliance_rows(counts) == compliance(list(reversed(outcomes)))
    for row in compliance_rows(counts):
        key = (row.customer_id, row.metric, row.priority)
        mine = [o for o in outcomes if (o.customer_id, o.metric, o.priority) == key]
        assert (row.met, row.breached) == (
            sum(o.status == "met" for o in mine),
            sum(o.status == "breached" for o in mine),
        )
    assert month_objectives(POLICY, "2025-04", by_contract(counts)) == month_objectives(
        POLICY, "2025-04", count_outcomes(outcomes)
    )
