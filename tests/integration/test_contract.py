"""The contract, end to end through the command line, on SQLite and on PostgreSQL.

These are the checks of the contract's own checker, run against the project's copy of the
contract fixtures, plus the dead-letter records it only counts.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import AS_OF, BAD_EVENTS, EVENTS, EXPECTED, Cli, normalise, subset


def _expected(name: str):
    return json.loads((EXPECTED / name).read_text())


def test_contract_end_to_end(cli: Cli) -> None:
    ingest = _expected("ingest.json")
    first = cli.json("ingest", str(EVENTS))
    assert subset(ingest["events.jsonl"], first)
    assert first["alerts"] > 0  # the extra key: warnings and breaches raised (wall clock)
    dead = cli.cwd / "dlq.jsonl"
    got = cli.json("ingest", str(BAD_EVENTS), "--dead-letter", str(dead))
    assert got == ingest["bad_events.jsonl (after events.jsonl)"]
    assert cli.json("ingest", str(EVENTS)) == {
        "read": 31,
        "accepted": 0,
        "duplicates": 31,
        "pending": 0,
        "rejected": 0,
    }

    tickets = _expected("tickets_as_of_2025-10-06T12-00.json")
    for ticket_id, want in tickets.items():
        got = cli.json("ticket", ticket_id, "--as-of", AS_OF)
        assert subset(normalise(want), normalise(got)), ticket_id
    everything = cli.json("tickets", "--as-of", AS_OF)
    assert subset(normalise([tickets[t] for t in sorted(tickets)]), normalise(everything))
    globex = cli.json("tickets", "--customer", "globex", "--as-of", AS_OF)
    assert [t["ticket_id"] for t in globex] == ["T-2001", "T-2002", "T-2003"]

    for month in ("2025-08", "2025-09", "2025-10"):
        for report in ("compliance", "credits"):
            want = _expected(f"{report}_{month}.json")
            got = cli.json("report", report, "--month", month, "--as-of", AS_OF)
            assert subset(normalise(want), normalise(got)), (report, month, got)


def test_dead_letter_records_name_the_field(cli: Cli) -> None:
    cli.json("ingest", str(EVENTS))
    dead = cli.cwd / "dlq.jsonl"
    cli.json("ingest", str(BAD_EVENTS), "--dead-letter", str(dead))
    records = [json.loads(line) for line in dead.read_text().splitlines()]
    raw_lines = BAD_EVENTS.read_text().splitlines()
    assert [r["source"] for r in records] == [f"{BAD_EVENTS}:{n}" for n in range(1, 9)]
    assert [r["raw"] for r in records] == raw_lines
    reasons = [r["reason"] for r in records]
    assert reasons[0].startswith("occurred_at:") and "offset" in reasons[0]
    assert reasons[1].startswith("type:") and "ticket.escalated" in reasons[1]
    assert reasons[2] == "priority: 7 is not one of [1, 2, 3]"
    assert reasons[3] == "ticket_id: required field missing"
    assert reasons[4] == "customer_id: required on ticket.created"
    assert reasons[5].startswith("occurred_at:") and "before the ticket's" in reasons[5]
    assert reasons[6].startswith("type:") and "already has a ticket.created" in reasons[6]
    assert reasons[7].startswith("not valid JSON")


def test_calendar_commands_match_the_contract(tmp_path) -> None:
    cli = Cli(EVENTS.parent / "slaclock.toml", f"sqlite:///{tmp_path / 's.db'}", tmp_path)
    for case in _expected("calendar.json"):
        got = cli.json(*case["command"])
        assert normalise(got) == normalise(case["expected"]), case["command"]


def test_strict_exits_1_when_something_was_rejected(cli: Cli) -> None:
    assert cli.run("ingest", str(EVENTS), "--strict").returncode == 0
    done = cli.run("ingest", str(BAD_EVENTS), "--strict", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["rejected"] == 8


def test_unknown_ticket_exits_1_with_a_message(cli: Cli) -> None:
    cli.json("ingest", str(EVENTS))
    done = cli.run("ticket", "T-0000", "--as-of", AS_OF)
    assert done.returncode == 1
    assert "T-0000" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["report", "compliance", "--month", "2025-13"], "--month"),
        (["ticket", "T-1001", "--as-of", "2025-10-06T12:00:00"], "no UTC offset"),
        (
            [
                "calendar",
                "add",
                "office",
                "--start",
                "2025-10-06T12:00:00+02:00",
                "--duration",
                "3x",
            ],
            "--duration",
        ),
        (
            [
                "calendar",
                "add",
                "nowhere",
                "--start",
                "2025-10-06T12:00:00+02:00",
                "--duration",
                "1h",
            ],
            "nowhere",
        ),
        (["ingest", "does-not-exist.jsonl"], "does-not-exist.jsonl"),
    ],
)
def test_usage_errors_are_messages_not_tracebacks(cli: Cli, argv, fragment) -> None:
    done = cli.run(*argv)
    assert done.returncode in (1, 2)
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
