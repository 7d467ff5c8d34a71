"""Each kind's sample lifecycle (copied from the contract) translates to its expected events,
in order; a redelivered line adds no new event id; ``translate`` prints each event once."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from slaclock.config import parse_policy
from slaclock.consumers.source_config import SourceConfig
from slaclock.consumers.source_intake import Payload, Translator

SAMPLES = Path(__file__).parents[1] / "fixtures" / "sources"
BASE = Path(__file__).parents[2] / "examples" / "slaclock.toml"
KINDS = ("jira", "zendesk", "zammad", "glpi", "debezium")
NAMES = {"jira": "jsm", "zendesk": "zen", "zammad": "zam", "glpi": "glpi", "debezium": "db"}
REDELIVERED = {"jira": 5, "zendesk": 5, "zammad": 5, "glpi": 6, "debezium": 5}
FIELDS = ("type", "ticket_id", "customer_id", "priority")


def config_text(kind: str) -> str:
    return BASE.read_text() + "\n" + (SAMPLES / kind / "source.toml").read_text()


def sample_config(kind: str) -> SourceConfig:
    return parse_policy(config_text(kind), f"{kind}.toml").sources[NAMES[kind]]


def lines(kind: str) -> list[bytes]:
    return (SAMPLES / kind / "payloads.jsonl").read_bytes().splitlines()


def expected(kind: str) -> list[dict[str, Any]]:
    text = (SAMPLES / kind / "expected_events.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def comparable(event: dict[str, Any]) -> tuple[Any, ...]:
    at = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    return (at.timestamp(), *(event.get(k) for k in FIELDS))


@pytest.mark.parametrize("kind", KINDS)
def test_a_sample_lifecycle_becomes_its_expected_events(kind: str) -> None:
    translator = Translator(sample_config(kind))
    per_line = [translator.translate(Payload(body, f"p:{n}")) for n, body in enumerate(lines(kind))]
    seen: dict[str, dict[str, Any]] = {}
    for events in per_line:
        for event in events:
            seen.setdefault(event["event_id"], event)
    assert [comparable(e) for e in seen.values()] == [comparable(e) for e in expected(kind)]
    redelivered = REDELIVERED[kind] - 1
    assert {e["event_id"] for e in per_line[redelivered]} <= {
        e["event_id"] for e in per_line[redelivered - 1]
    }
    for event in seen.values():
        assert event["event_id"].startswith(f"{NAMES[kind]}:")
        assert event["source"].startswith(f"{NAMES[kind]}: ")


def test_sources_name_the_change_behind_each_event() -> None:
    translator = Translator(sample_config("jira"))
    events = [e for body in lines("jira") for e in translator.translate(Payload(body, "p"))]
    paused = next(e for e in events if e["type"] == "ticket.paused")
    assert paused["source"] == "jsm: changelog 10691 status Triage -> Waiting on requester"
    translator = Translator(sample_config("zammad"))
    events = [e for body in lines("zammad") for e in translator.translate(Payload(body, "p"))]
    paused = next(e for e in events if e["type"] == "ticket.paused")
    assert paused["source"] == "zam: snapshot state open -> waiting for reply"


def test_a_delivery_id_is_named_in_the_source() -> None:
    translator = Translator(sample_config("zendesk"))
    events = translator.translate(Payload(lines("zendesk")[0], "POST /hooks/zen", "d-42"))
    assert events[0]["source"].endswith(" delivery d-42")


def test_translate_prints_each_event_once_and_summarises(tmp_path: Path) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text(config_text("debezium"))
    payloads = tmp_path / "in.jsonl"
    payloads.write_bytes(b"\n".join([*lines("debezium"), b"{not json", b'{"op": "u"}']) + b"\n")
    dead = tmp_path / "dead.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "slaclock", "--config", str(config), "translate", "db",
         str(payloads), "--dead-letter", str(dead), "--json"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert [comparable(e) for e in printed] == [comparable(e) for e in expected("debezium")]
    assert json.loads(done.stderr) == {"read": 9, "emitted": 7, "rejected": 2}
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [letter["source"] for letter in letters] == [f"{payloads}:8", f"{payloads}:9"]
    assert letters[0]["reason"].startswith("not valid JSON")
    assert letters[1]["reason"] == "after: no ticket object (nor a before image)"


def test_translate_names_an_unknown_source(tmp_path: Path) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text(config_text("jira"))
    done = subprocess.run(
        [sys.executable, "-m", "slaclock", "--config", str(config), "translate", "nope", "x"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "sources.nope: no such source" in done.stderr and "jsm" in done.stderr
