"""Configuration keys of the cycle metrics: ``targets.next_reply``, ``[plans.NAME.ownership]``
and the errors naming their keys (docs/configuration.md)."""

from __future__ import annotations

import pytest

from slaclock.config import ConfigError, parse_policy
from slaclock.domain.policy import ANY

BASE = """
[calendars.office]
timezone = "Europe/Vienna"
hours = { "mon-fri" = "09:00-17:00" }
[calendars.always]
timezone = "UTC"
hours = { "mon-sun" = "00:00-24:00" }
[plans.desk]
calendar = "office"
targets.response = { 1 = "1h" }
targets.next_reply = { 1 = "2h", 2 = { within = "4h", calendar = "always" } }
pausable = ["next_reply", "ownership"]
[plans.desk.ownership]
L1 = { 1 = "30m", "*" = "2h" }
"*" = { "*" = { within = "8h", calendar = "always" } }
"""


def test_ownership_and_next_reply_targets_are_read() -> None:
    policy = parse_policy(BASE, "t.toml").policy
    desk = policy.plans["desk"]
    assert policy.metrics == ("response",)
    assert policy.cycle_metrics == ("next_reply", "ownership")
    assert desk.target("next_reply", 2).calendar.name == "always"
    assert desk.ownership_target("L1", 1).seconds == 1800
    assert desk.ownership_target("L1", 4).seconds == 7200  # the row's "*"
    other = desk.ownership_target("L7", 1)
    assert other.seconds == 8 * 3600 and other.calendar.name == "always"
    assert ANY in desk.ownership and desk.pausable == {"next_reply", "ownership"}


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        (
            '[plans.desk.credits]\nmetrics = ["response", "ownership"]\nper_breach = "1%"\n',
            "plans.desk.credits.metrics",
            "ownership is internal",
        ),
        ('L2 = { 7 = "1h" }\n', "plans.desk.ownership.L2.7", "priority 7 is not one of"),
        ('L3 = { "*" = "soon" }\n', "plans.desk.ownership.L3.*", "bad duration 'soon'"),
        ('L4 = { 1 = { within = "1h", calendar = "x" } }\n', "plans.desk.ownership.L4.1.calendar",
         "unknown calendar 'x'"),
    ],
)  # fmt: skip
def test_a_bad_ownership_key_is_named(extra: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(BASE + extra, "t.toml")
    assert f"t.toml: {key}: " in str(caught.value) and problem in str(caught.value)


def test_a_plan_with_only_ownership_targets_is_a_plan() -> None:
    text = BASE + '[plans.ola]\ncalendar = "office"\nownership = { L1 = { "*" = "1h" } }\n'
    plan = parse_policy(text, "t.toml").policy.plans["ola"]
    assert plan.has_cycles("ownership") and not plan.has_cycles("next_reply")
