"""``[sources.NAME]`` tables: every problem names its key; sources move no clock, so they
leave the policy version alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slaclock.config import ConfigError, parse_policy

BASE = (Path(__file__).parents[2] / "examples" / "slaclock.toml").read_text()
JIRA = """
[sources.jsm]
kind = "jira"
customer = "fields.customfield_10057.value"
priority = "fields.priority.name"
priorities = { "High" = 1, "Medium" = 2, "Low" = 3 }
paused_statuses = ["Waiting"]
resolved_statuses = ["Done"]
"""


def error(extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_policy(BASE + JIRA + extra, "cfg.toml")
    return str(caught.value)


def test_a_source_is_read_with_all_its_keys() -> None:
    text = (
        BASE
        + """
[sources.db]
kind = "debezium"
id_column = "id"
status_column = "status"
created_column = "created_at"
updated_column = "updated_at"
ticket_prefix = "HD-"
customer = "org"
customers = { "INIT01" = "initech" }
priority = "severity"
priorities = { "critical" = 1, "4" = 3 }
paused_statuses = ["on_hold"]
resolved_statuses = ["fixed", 5]
acknowledge_statuses = ["assigned"]
intervention_statuses = ["in_work"]
secret_env = "SLACLOCK_DB_SECRET"
since = "2025-01-01"
status = "state"
"""
    )
    config = parse_policy(text, "cfg.toml").sources["db"]
    assert config.kind == "debezium" and config.ticket_prefix == "HD-"
    assert config.resolved_statuses == {"fixed", "5"}
    assert config.customers == {"INIT01": "initech"}
    assert config.secret_env == "SLACLOCK_DB_SECRET"
    assert config.since is not None and config.since.isoformat() == "2025-01-01T00:00:00+00:00"
    assert (config.status, config.status_column) == ("state", "status")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('[sources.x]\nkind = "jira"\n', "sources.x.customer: required key missing"),
        ('[sources.x]\nkind = "remedy"\n', "sources.x.kind: 'remedy' is not one of"),
        ("[sources.x]\nkind = 3\n", "sources.x.kind: expected a string"),
        ('[sources.jsm.priorities]\n"Urgent" = 9\n', "sources.jsm.priorities.Urgent: 9 is not"),
    ],
)
def test_errors_name_the_key(extra: str, named: str) -> None:
    if extra.startswith("[sources.jsm"):  # replace the table's priorities
        text = BASE + JIRA.replace('priorities = { "High" = 1, "Medium" = 2, "Low" = 3 }\n', "")
        with pytest.raises(ConfigError) as caught:
            parse_policy(text + extra, "cfg.toml")
        assert named in str(caught.value)
        return
    assert named in error(extra)


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ('colour = "red"', "sources.jsm.colour: unknown key"),
        ('customers = { "A" = 3 }', "sources.jsm.customers.A: expected a customer id"),
        ('acknowledge_statuses = ["Done"]', "sources.jsm.acknowledge_statuses: ['Done'] also"),
        ('since = "last year"', "sources.jsm.since: 'last year' is not a date"),
        ('secret_env = "not a name"', "sources.jsm.secret_env: 'not a name' is not"),
        ('id_column = "id"', 'sources.jsm.id_column: only for kind = "debezium"'),
        ('status = "a..b"', "sources.jsm.status: 'a..b' is not a dotted path"),
        ('intervention_statuses = "Working"', "sources.jsm.intervention_statuses: expected a list"),
    ],
)
def test_bad_values_name_the_key(line: str, named: str) -> None:
    message = error(line + "\n")
    assert message.startswith("cfg.toml: ") and named in message


def test_paused_and_resolved_must_not_overlap_and_debezium_needs_its_columns() -> None:
    both = JIRA.replace("[sources.jsm]", "[sources.two]").replace('["Done"]', '["Waiting"]')
    assert "sources.two.resolved_statuses: ['Waiting'] also in paused_statuses" in error(both)
    db = '[sources.db]\nkind = "debezium"\ncustomer = "o"\npriority = "p"\npriorities = {a = 1}\n'
    assert 'sources.db.id_column: required for kind = "debezium"' in error(db)


def test_sources_do_not_change_the_policy_version() -> None:
    assert parse_policy(BASE + JIRA, "a").version == parse_policy(BASE, "b").version
    other = JIRA.replace('"Waiting"', '"On hold"')
    assert parse_policy(BASE + other, "a").version == parse_policy(BASE, "b").version


def test_a_bad_source_is_a_configuration_error_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text(BASE + JIRA.replace('kind = "jira"', 'kind = "otrs"'))
    done = subprocess.run(
        [sys.executable, "-m", "slaclock", "--config", str(config), "translate", "jsm", "-"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, input="",
    )  # fmt: skip
    assert done.returncode == 2
    assert "sources.jsm.kind: 'otrs' is not one of" in done.stderr
    assert "Traceback" not in done.stderr
