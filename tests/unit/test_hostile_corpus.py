"""The hostile corpus (``tests/fixtures/hostile``) in-process, and the input limits.

Corpus lines mixed into good ones, in one batch: ingest (the ``Ingestor`` of ``slaclock
ingest``) of slaclock events and a source intake (one transaction: what ``serve`` does with
a group of webhook deliveries) of Jira payloads reject each bad line alone, with its reason,
and store exactly what the good lines alone store. The command line, Kafka and HTTP run the
same corpus in ``tests/integration/test_hostile_corpus.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slaclock.config import ConfigError, parse_policy
from slaclock.consumers.dead_letter import DeadLetterFile, DeadLetterList
from slaclock.consumers.events import Rejected, parse_json
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.input_limits import MAX_DEPTH, MAX_NUMBER_LENGTH, load_json
from slaclock.consumers.source_intake import Payload, SourceIntake
from slaclock.consumers.sources import read_events
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG, EVENTS, FIXTURES
from tests.hostile import POLICY, corpus, interleave, stored

HOOKS = FIXTURES / "sources" / "hooks"


def ingest(path: Path, store_url: str, letters: Path) -> dict[str, int]:
    store = TicketStore(store_url, POLICY)
    try:
        ingestor = Ingestor(store, POLICY, DeadLetterFile(letters), batch_size=7, clock="event")
        return ingestor.run(read_events(str(path))).as_dict()
    finally:
        store.close()


def test_the_event_corpus_is_rejected_line_by_line(tmp_path: Path) -> None:
    lines, expected = interleave(EVENTS.read_bytes().splitlines(), corpus("events"))
    (tmp_path / "all.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    got = ingest(tmp_path / "all.jsonl", f"sqlite:///{tmp_path / 'all.db'}", tmp_path / "dl")
    good = ingest(EVENTS, f"sqlite:///{tmp_path / 'good.db'}", tmp_path / "good-dl")
    bad = [(n, reason) for n, reason in enumerate(expected, 1) if reason is not None]
    assert got["rejected"] == good["rejected"] + len(bad)
    assert (got["accepted"], got["duplicates"]) == (good["accepted"], good["duplicates"])
    letters = [json.loads(line) for line in (tmp_path / "dl").read_text().splitlines()]
    assert [
        (letter["source"], letter["reason"][: len(r)])
        for letter, (_, r) in zip(letters, bad, strict=True)
    ] == [(f"{tmp_path / 'all.jsonl'}:{n}", reason) for n, reason in bad]
    assert stored(f"sqlite:///{tmp_path / 'all.db'}", POLICY) == stored(
        f"sqlite:///{tmp_path / 'good.db'}", POLICY
    )


JIRA = HOOKS / "jira"
JIRA_CONFIG = parse_policy(
    (HOOKS / "slaclock.toml").read_text() + (JIRA / "source.toml").read_text(), "jira.toml"
)


def take(store_url: str, bodies: list[bytes]) -> tuple[dict[int, str], list[str]]:
    """One ``take`` of every body (one transaction): the reasons per body, and the stored
    facts of the lifecycle's ticket."""
    store = TicketStore(store_url, JIRA_CONFIG.policy)
    try:
        ingestor = Ingestor(store, JIRA_CONFIG.policy, DeadLetterList())
        intake = SourceIntake(JIRA_CONFIG.sources["jsd"], ingestor)
        result = intake.take([Payload(body, f"hook {n}") for n, body in enumerate(bodies)])
        ticket = store.load_ticket("SUP-481")
        assert ticket is not None
        return result.reasons, [f"{f.event_id} {f.type}" for f in ticket.facts]
    finally:
        store.close()


def test_one_group_of_jira_deliveries_keeps_its_good_ones(tmp_path: Path) -> None:
    lifecycle = (JIRA / "payloads.jsonl").read_bytes().splitlines()[:10]  # 11th: unmappable
    lines, expected = interleave(lifecycle, corpus("jira"))
    reasons, facts = take(f"sqlite:///{tmp_path / 'all.db'}", lines)
    assert {n: reasons[n][: len(r)] for n, r in enumerate(expected) if r} == {
        n: r for n, r in enumerate(expected) if r
    }
    assert set(reasons) == {n for n, r in enumerate(expected) if r}
    assert facts == take(f"sqlite:///{tmp_path / 'good.db'}", lifecycle)[1]


# ------------------------------------------------------------------------ the limits
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * MAX_DEPTH + "]" * MAX_DEPTH, None),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "JSON nested too deep: 65 levels"),
        ('{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), "JSON nested too deep"),
        ('["' + "[{" * 1000 + '\\"", 1]', None),  # brackets inside a string do not count
        ('{"n": ' + "9" * MAX_NUMBER_LENGTH + "}", None),
        ('{"n": -' + "9" * MAX_NUMBER_LENGTH + "}", "JSON number too long: 101 characters"),
        ('{"n": 1.' + "0" * 200 + "e5}", "JSON number too long: 204 characters"),
        ('{"s": "' + "9" * 5000 + '"}', None),  # digits in a string are text
    ],
)
def test_nesting_and_number_limits(text: str, problem: str | None) -> None:
    if problem is None:
        assert load_json(text) == json.loads(text)
    else:
        with pytest.raises(ValueError, match=problem.replace("(", r"\(")):
            load_json(text)
        with pytest.raises(Rejected):
            parse_json(text)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("[" * 2000 + "]" * 2000, "TOML nested too deep: 2000 levels"),
        ("{a = " * 100 + "1" + "}" * 100, "TOML nested too deep: 100 levels"),
        ("9" * 5000, "TOML number too long: 5000 characters"),
        ('"[[[[' + "[" * 100 + '"', None),  # a string: text, not nesting
    ],
)
def test_configuration_limits(value: str, problem: str | None) -> None:
    text = CONFIG.read_text() + f"\n[extra_table_for_the_test]\nvalue = {value}\n"
    with pytest.raises(ConfigError) as raised:
        parse_policy(text, "hostile.toml")
    message = str(raised.value)
    if problem is None:  # read, then refused as an unknown key (not a limit)
        assert "extra_table_for_the_test" in message, message
    else:
        assert message.startswith(f"hostile.toml: {problem}"), message
