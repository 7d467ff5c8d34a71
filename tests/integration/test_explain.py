"""Explain: the timeline of every clock adds up, and says why time did not count."""

from __future__ import annotations

import itertools
import json

from tests.conftest import AS_OF, EVENTS, Cli


def _explain(cli: Cli, ticket: str, as_of: str = AS_OF) -> dict:
    return cli.json("explain", ticket, "--as-of", as_of)


def test_counted_spans_add_up_to_elapsed_for_every_contract_ticket(cli: Cli) -> None:
    cli.json("ingest", str(EVENTS))
    tickets = cli.json("tickets", "--as-of", AS_OF)
    checked = 0
    for ticket in tickets:
        data = _explain(cli, ticket["ticket_id"])
        assert data["clocks"].keys() == ticket["clocks"].keys()
        for metric, clock in data["clocks"].items():
            if clock["status"] == "not_applicable":
                continue
            counted = sum(span["counted_seconds"] for span in clock["timeline"])
            assert counted == clock["elapsed_seconds"], (ticket["ticket_id"], metric)
            spans = clock["timeline"]
            assert all(a["to"] == b["from"] for a, b in itertools.pairwise(spans))
            checked += 1
    assert checked == 14  # applicable clocks of the contract sample


def test_timeline_names_holidays_pauses_and_priority_changes(cli: Cli) -> None:
    cli.json("ingest", str(EVENTS))
    t3001 = _explain(cli, "T-3001")["clocks"]["response"]["timeline"]
    holiday = [s for s in t3001 if s["kind"] == "holiday"]
    assert holiday and holiday[0]["from"].startswith("2025-06-19")
    assert "(DE/NW)" in holiday[0]["detail"]

    t2003 = _explain(cli, "T-2003")["clocks"]["resolution"]["timeline"]
    paused = [s for s in t2003 if s["kind"] == "paused"]
    assert [s["detail"] for s in paused] == ["waiting_for_customer"]
    assert paused[0]["seconds"] == 47 * 3600  # Mon 10:00 to Wed 09:00

    t2002 = _explain(cli, "T-2002")
    notes = [n["text"] for n in t2002["clocks"]["response"]["notes"]]
    assert any("priority 3 -> 1" in n and "6h -> 1h" in n for n in notes)
    assert any("breached" in n for n in notes)
    assert t2002["contract"] == {
        "customer": "globex",
        "plan": "advanced",
        "from": "2025-01-01",
        "monthly_fee": "318.00",
        "on_reprioritise": "recalculate",
    }
    assert t2002["policy_version"]

    t4001 = _explain(cli, "T-4001")["clocks"]["response"]
    assert t4001["timeline"][0]["kind"] == "before_restart"
    assert any("clock restarted" in n["text"] for n in t4001["notes"])


def test_dst_change_is_noted(cli: Cli, tmp_path) -> None:
    events = [
        {
            "event_id": "d1",
            "type": "ticket.created",
            "ticket_id": "D-1",
            "customer_id": "umbrella",
            "priority": 2,
            "occurred_at": "2025-10-25T18:00:00+02:00",
        },
    ]
    path = tmp_path / "dst.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    cli.json("ingest", str(path))
    data = _explain(cli, "D-1", "2025-10-26T12:00:00+01:00")
    clock = data["clocks"]["response"]
    assert clock["deadline"] == "2025-10-26T09:00:00+01:00"
    assert any("DST change in Europe/Luxembourg" in n["text"] for n in clock["notes"])
    assert clock["status"] == "breached"


def test_explain_of_unknown_ticket_exits_1(cli: Cli) -> None:
    done = cli.run("explain", "NOPE", "--as-of", AS_OF)
    assert done.returncode == 1 and "NOPE" in done.stderr
