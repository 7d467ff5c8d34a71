"""``[[plans.NAME.escalations]]`` and ``[notifiers.NAME]`` as the configuration loader reads
them: levels, ``at`` forms, filters, notifier kinds; every mistake names its key."""

from __future__ import annotations

import pytest

from slaclock.config import ConfigError, parse_policy
from slaclock.domain.policy import Escalation

BASE = """
priorities = [1, 2, 3]
[calendars.always]
timezone = "UTC"
hours = { "mon-sun" = "00:00-24:00" }
[plans.p]
calendar = "always"
targets = { response = { "1" = "4h", "2" = "8h" } }
"""
LEVELS = """
[[plans.p.escalations]]
level = 1
at = "75%"
priorities = [1]
notify = ["duty"]
[[plans.p.escalations]]
level = 2
at = "-30m"
notify = ["duty", "pager"]
[[plans.p.escalations]]
level = 3
at = "0"
notify = ["pager"]
[[plans.p.escalations]]
level = 4
at = "+1h"
metrics = ["response"]
notify = ["log"]
"""
NOTIFIERS = """
[notifiers.duty]
kind = "webhook"
url = "https://chat.example/hooks/duty"
secret_env = "DUTY_SECRET"
timeout = "5s"
format = "slack"
headers = { "X-Team" = "support" }
ticket_url = "https://desk.example/browse/{ticket_id}"
[notifiers.pager]
kind = "kafka"
topic = "pages"
bootstrap_servers = "127.0.0.1:9092"
backoff = 0.5
give_up_after = "2h"
[notifiers.log]
kind = "file"
path = "escalations.jsonl"
"""


def test_levels_and_notifiers_are_read() -> None:
    loaded = parse_policy(BASE + LEVELS + NOTIFIERS, "t.toml")
    levels = loaded.policy.plans["p"].escalations
    assert levels == (
        Escalation(1, ("duty",), percent=75, priorities=frozenset({1})),
        Escalation(2, ("duty", "pager"), seconds=-1800),
        Escalation(3, ("pager",), seconds=0),
        Escalation(4, ("log",), seconds=3600, metrics=frozenset({"response"})),
    )
    duty, pager = loaded.notifiers["duty"], loaded.notifiers["pager"]
    assert (duty.kind, duty.format, duty.timeout, duty.secret_env) == (
        "webhook",
        "slack",
        5,
        "DUTY_SECRET",
    )
    assert dict(duty.headers) == {"X-Team": "support"}
    assert (pager.topic, pager.backoff, pager.give_up_after) == ("pages", 0.5, 7200)


def test_notifiers_do_not_change_the_policy_version() -> None:
    with_levels = parse_policy(BASE + LEVELS + NOTIFIERS, "t.toml")
    other = NOTIFIERS.replace("escalations.jsonl", "elsewhere.jsonl")
    assert parse_policy(BASE + LEVELS + other, "t.toml").version == with_levels.version
    assert parse_policy(BASE, "t.toml").version != with_levels.version


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('at = "75%"', 'at = "75"'), "plans.p.escalations.0.at"),
        (('at = "75%"', 'at = "0%"'), "plans.p.escalations.0.at"),
        (('at = "-30m"', 'at = "-soon"'), "plans.p.escalations.1.at"),
        (("level = 4", "level = 0"), "plans.p.escalations.3.level"),
        (("level = 4", "level = 3"), "plans.p.escalations.3.level"),  # overlaps level 3
        (("priorities = [1]", "priorities = [7]"), "plans.p.escalations.0.priorities"),
        (('notify = ["log"]', 'notify = ["nobody"]'), "plans.p.escalations.3.notify.0"),
        (('notify = ["log"]', "notify = []"), "plans.p.escalations.3.notify"),
        (('kind = "file"', 'kind = "pigeon"'), "notifiers.log.kind"),
        (('path = "escalations.jsonl"', 'topic = "x"'), "notifiers.log.topic"),
        (('url = "https://chat', 'url = "ftp://chat'), "notifiers.duty.url"),
        (('format = "slack"', 'format = "xml"'), "notifiers.duty.format"),
        (('timeout = "5s"', "timeout = -1"), "notifiers.duty.timeout"),
        (('secret_env = "DUTY_SECRET"', 'secret_env = "1-bad"'), "notifiers.duty.secret_env"),
        (("{ticket_id}", "{ticket}"), "notifiers.duty.ticket_url"),
        (('topic = "pages"', 'topic = ""'), "notifiers.pager.topic"),
        (('bootstrap_servers = "127.0.0.1:9092"', ""), "notifiers.pager.bootstrap_servers"),
    ],
)
def test_mistakes_name_their_key(change: tuple[str, str], key: str) -> None:
    text = (BASE + LEVELS + NOTIFIERS).replace(*change, 1)
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, "t.toml")
    assert f"t.toml: {key}:" in str(caught.value)


def test_cycle_metrics_may_escalate() -> None:
    levels = """
[[plans.p.escalations]]
level = 1
at = "0"
metrics = ["next_reply", "ownership"]
notify = ["log"]
"""
    loaded = parse_policy(BASE + levels + NOTIFIERS, "t.toml")
    (level,) = loaded.policy.plans["p"].escalations
    assert level.metrics == frozenset({"next_reply", "ownership"})
