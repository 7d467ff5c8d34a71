"""Support-hour accounts end to end: work logs in, monthly statements out."""

from __future__ import annotations

import json

from tests.conftest import CONFIG, Cli

HOURS = """
[plans.business.hours]
increment = "15m"
on_site_minimum = "1h"
monthly_credit = "2h"
overdraft_limit = "1h"
waive_on_response_breach = true
"""


def _log(event_id, ticket, when, minutes, mode="remote", actor="ann"):
    return {"event_id": event_id, "type": "ticket.work_logged", "ticket_id": ticket,
            "occurred_at": when, "minutes": minutes, "mode": mode, "actor": actor}  # fmt: skip


def test_statements_bill_increments_waive_breached_tickets_and_roll_over(tmp_path) -> None:
    config = tmp_path / "hours.toml"
    config.write_text(CONFIG.read_text() + HOURS)
    cli = Cli(config, f"sqlite:///{tmp_path / 's.db'}", tmp_path)
    events = [
        # W-1: response met; W-2: response breached (3 h on faults-lu from Sat 18:00)
        {"event_id": "c1", "type": "ticket.created", "ticket_id": "W-1", "customer_id": "umbrella",
         "priority": 2, "occurred_at": "2025-09-02T08:00:00+02:00"},
        {"event_id": "a1", "type": "ticket.acknowledged", "ticket_id": "W-1",
         "occurred_at": "2025-09-02T08:30:00+02:00"},
        {"event_id": "c2", "type": "ticket.created", "ticket_id": "W-2", "customer_id": "umbrella",
         "priority": 2, "occurred_at": "2025-09-06T18:00:00+02:00"},
        {"event_id": "a2", "type": "ticket.acknowledged", "ticket_id": "W-2",
         "occurred_at": "2025-09-07T12:00:00+02:00"},
        _log("w1", "W-1", "2025-09-02T09:00:00+02:00", 10),  # bills 15
        _log("w2", "W-1", "2025-09-03T09:00:00+02:00", 70, mode="on_site", actor="ben"),  # 75
        _log("w3", "W-2", "2025-09-08T09:00:00+02:00", 30),  # waived: response breached
        _log("w4", "W-1", "2025-10-01T09:00:00+02:00", 200),  # 200 -> 210 in October
        _log("w4", "W-1", "2025-10-01T09:00:00+02:00", 200),  # redelivery: counted once
    ]  # fmt: skip
    path = tmp_path / "work.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert cli.json("ingest", str(path))["duplicates"] == 1

    data = cli.json("hours", "--customer", "umbrella", "--month", "2025-10", "--all")
    months = {s["month"]: s for s in data["statements"]}
    assert list(months) == ["2025-06", "2025-07", "2025-08", "2025-09", "2025-10"]
    assert months["2025-08"]["closing_balance_minutes"] == 3 * 120  # June-August unused
    september = months["2025-09"]
    assert [line["billed_minutes"] for line in september["lines"]] == [15, 75, 0]
    assert september["lines"][2]["waived_minutes"] == 30
    assert september["lines"][2]["waived_reason"] == "response clock breached"
    assert september["closing_balance_minutes"] == 360 + 120 - 90
    october = months["2025-10"]
    assert october["billed_minutes"] == 210
    assert october["closing_balance_minutes"] == 390 + 120 - 210

    only_last = cli.json("hours", "--customer", "umbrella", "--month", "2025-10")
    assert [s["month"] for s in only_last["statements"]] == ["2025-10"]
    assert cli.run("hours", "--customer", "acme", "--month", "2025-10").returncode == 1


def test_bad_work_logs_are_rejected_naming_the_field(tmp_path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 's.db'}", tmp_path)
    bad = [
        _log("b1", "W-9", "2025-09-02T09:00:00+02:00", 0),
        _log("b2", "W-9", "2025-09-02T09:00:00+02:00", 10, mode="phone"),
        {**_log("b3", "W-9", "2025-09-02T09:00:00+02:00", 10), "actor": None},
        {k: v for k, v in _log("b4", "W-9", "2025-09-02T09:00:00+02:00", 5).items()
         if k != "minutes"},
    ]  # fmt: skip
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in bad))
    dead = tmp_path / "dead.jsonl"
    assert cli.json("ingest", str(path), "--dead-letter", str(dead))["rejected"] == 4
    reasons = [json.loads(line)["reason"] for line in dead.read_text().splitlines()]
    assert [r.split(":")[0] for r in reasons] == ["minutes", "mode", "actor", "minutes"]
