"""The direct builder of the sample's promises (tests/helpers.py) agrees with what the
configuration loader reads from examples/slaclock.toml, so domain tests that use the builder
test the promises the sample makes."""

from __future__ import annotations

from datetime import UTC, datetime

from slaclock.domain.policy import Plan, Policy
from tests.helpers import contract_policy, sample_policy


def _targets(plan: Plan) -> dict:
    return {
        metric: {p: (t.seconds, t.calendar.name) for p, t in row.items()}
        for metric, row in plan.targets.items()
    }


def _plan(plan: Plan) -> tuple:
    rules = (plan.pausable, plan.on_reprioritise, plan.credits, plan.warnings, plan.hours)
    return plan.calendar.name, _targets(plan), rules


def _described(policy: Policy) -> dict:
    plans = {name: _plan(plan) for name, plan in policy.plans.items()}
    contracts = [(c.customer, c.plan.name, c.valid_from, c.monthly_fee) for c in policy.contracts]
    head = (policy.currency, policy.default_priority, policy.priorities, sorted(policy.calendars))
    return {"head": head, "plans": plans, "contracts": contracts, "metrics": policy.metrics}


def test_the_built_sample_is_what_the_loader_reads() -> None:
    built, loaded = sample_policy(), contract_policy()
    assert _described(built) == _described(loaded)
    start = int(datetime(2025, 12, 20, tzinfo=UTC).timestamp())  # holidays and closed days
    pairs = [(built.calendars[n], loaded.calendars[n]) for n in loaded.calendars]
    pairs += [(built.plans[n].calendar, loaded.plans[n].calendar) for n in loaded.plans]
    for ours, theirs in pairs:
        assert ours.add_epoch(start, 40 * 3600) == theirs.add_epoch(start, 40 * 3600)
        assert ours.between_epoch(start, start + 30 * 86400) == theirs.between_epoch(
            start, start + 30 * 86400
        )
