"""Bitemporal questions: ``--known-at T`` answers exactly what the engine printed at T,
even after late events and a configuration change."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from tests.conftest import AS_OF, EVENTS, Cli

QUESTIONS = [
    ["report", "compliance", "--month", "2025-09", "--as-of", AS_OF],
    ["report", "credits", "--month", "2025-09", "--as-of", AS_OF],
    ["tickets", "--as-of", AS_OF],
    ["ticket", "T-2003", "--as-of", AS_OF],
    ["explain", "T-2002", "--as-of", AS_OF],
]


def test_known_at_reproduces_what_was_printed_then(cli: Cli, tmp_path) -> None:
    lines = EVENTS.read_text().splitlines()
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join(lines[:20]) + "\n")
    rest = tmp_path / "rest.jsonl"
    rest.write_text("\n".join(lines[20:]) + "\n")

    cli.json("ingest", str(first))
    printed = {tuple(q): cli.json(*q) for q in QUESTIONS}
    time.sleep(1.1)  # the store records instants to the second
    known_at = datetime.now(UTC).replace(microsecond=0).isoformat()
    time.sleep(1.1)

    # later: the rest of the events and a stricter configuration
    stricter = tmp_path / "stricter.toml"
    stricter.write_text(cli.config.read_text().replace('per_breach = "5%"', 'per_breach = "9%"'))
    later = Cli(stricter, cli.store, tmp_path)
    later.json("ingest", str(rest))
    now = {tuple(q): later.json(*q) for q in QUESTIONS}
    assert now != printed  # the late events and the new policy changed the answers

    for question, answer in printed.items():
        assert later.json(*question, "--known-at", known_at) == _without_known_at(
            answer, later.json(*question, "--known-at", known_at)
        ), question


def _without_known_at(answer, got):
    """``explain`` adds the ``known_at`` it was asked for; everything else must be equal."""
    if isinstance(got, dict) and "known_at" in got and "known_at" not in answer:
        return {**answer, "known_at": got["known_at"]}
    return answer


def test_known_at_before_anything_was_recorded_knows_nothing(cli: Cli) -> None:
    cli.json("ingest", str(EVENTS))
    assert cli.json("tickets", "--as-of", AS_OF, "--known-at", "2020-01-01T00:00:00+00:00") == []
    done = cli.run("ticket", "T-1001", "--as-of", AS_OF, "--known-at", "2020-01-01T00:00:00Z")
    assert done.returncode == 1
    assert (
        json.loads(
            cli.run(
                "report",
                "credits",
                "--month",
                "2025-09",
                "--as-of",
                AS_OF,
                "--known-at",
                "2020-01-01T00:00:00Z",
                "--json",
            ).stdout
        )["customers"]
        == []
    )
