"""Alerts and the credit ledger: time-driven breaches, reversals, closed months, replays."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from slaclock.config import parse_policy, read_policy
from slaclock.projections.ledger import month_still_open
from tests.conftest import AS_OF, CONFIG, EVENTS, Cli


def _late_ack(tmp_path) -> str:
    """T-2002 acknowledged within its P1 hour after all: the response breach is withdrawn."""
    path = tmp_path / "late.jsonl"
    path.write_text(json.dumps({
        "event_id": "late-1", "type": "ticket.acknowledged", "ticket_id": "T-2002",
        "occurred_at": "2025-09-12T16:30:00+02:00",
    }) + "\n")  # fmt: skip
    return str(path)


def test_breach_credit_is_reversed_by_an_adjustment_after_the_month_closed(cli: Cli, tmp_path):
    cli.json("ingest", str(EVENTS), "--clock", "event")
    credits = {(e["ticket_id"], e["metric"]): e for e in cli.json("ledger", "show")}
    assert set(credits) == {("T-1002", "response"), ("T-2002", "response"),
                            ("T-2002", "resolution")}  # fmt: skip
    closed = cli.json("ledger", "close", "--month", "2025-09")
    before = cli.json("report", "credits", "--month", "2025-09", "--as-of", AS_OF)
    assert before["customers"] == closed["customers"]

    got = cli.json("ingest", _late_ack(tmp_path), "--clock", "event")
    assert got["accepted"] == 1 and got["alerts"] >= 1
    entries = cli.json("ledger", "show")
    reversal = [e for e in entries if e["kind"] == "reversal"]
    assert len(reversal) == 1 and len(entries) == 4  # nothing updated or deleted
    assert reversal[0]["refers_to"] == credits[("T-2002", "response")]["entry_id"]
    assert reversal[0]["amount"] == "-15.90"
    assert reversal[0]["month"] == "2025-09" and reversal[0]["posted_month"] == "2025-10"
    assert reversal[0]["adjustment"] is True

    # the closed statement is frozen; the correction shows in the first open month
    after = cli.json("report", "credits", "--month", "2025-09", "--as-of", AS_OF)
    assert after == before
    october = cli.json("report", "credits", "--month", "2025-10", "--as-of", AS_OF)
    globex = next(c for c in october["customers"] if c["customer_id"] == "globex")
    assert globex["entries"] == []
    assert [a["amount"] for a in globex["adjustments"]] == ["-15.90"]
    assert globex["subtotal"] == "-15.90" and globex["total"] == "-15.90"
    # the clock itself is now met
    ticket = cli.json("ticket", "T-2002", "--as-of", AS_OF)
    assert ticket["clocks"]["response"]["status"] == "met"

    again = cli.run("ledger", "close", "--month", "2025-09")
    assert again.returncode == 2 and "already closed" in again.stderr


def test_a_withdrawn_breach_in_an_open_month_reverses_in_that_month(cli: Cli, tmp_path):
    cli.json("ingest", str(EVENTS), "--clock", "event")
    cli.json("ingest", _late_ack(tmp_path), "--clock", "event")
    reversal = [e for e in cli.json("ledger", "show") if e["kind"] == "reversal"]
    assert reversal[0]["posted_month"] == "2025-09" and reversal[0]["adjustment"] is False
    september = cli.json("report", "credits", "--month", "2025-09", "--as-of", AS_OF)
    globex = next(c for c in september["customers"] if c["customer_id"] == "globex")
    assert [e["metric"] for e in globex["entries"]] == ["resolution"]
    assert globex["adjustments"] == []


def test_time_alone_breaches_a_running_clock(cli: Cli, tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    cli.json("ingest", str(EVENTS), "--clock", "event", "--alerts", str(alerts))
    # T-1004 is still running; its deadline (2025-10-06 10:00 +02:00) lies after the last event
    raised = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert not [a for a in raised if a["ticket_id"] == "T-1004" and a["kind"] == "breach"]
    tick = cli.json("tick", "--clock", "wall", "--alerts", str(alerts))
    assert tick["alerts"] == 3  # 75 %, 90 % and the breach
    raised = [json.loads(line) for line in alerts.read_text().splitlines()]
    breach = [a for a in raised if a["ticket_id"] == "T-1004" and a["kind"] == "breach"]
    assert breach[0]["deadline"] == "2025-10-06T08:00:00+00:00"
    assert breach[0]["customer_id"] == "acme" and breach[0]["metric"] == "response"
    ledger = [e for e in cli.json("ledger", "show", "--month", "2025-10")]
    assert [(e["ticket_id"], e["amount"]) for e in ledger] == [("T-1004", "26.20")]
    assert cli.json("tick", "--clock", "wall")["alerts"] == 0  # nothing new: idempotent


def test_replays_with_the_event_clock_are_deterministic(tmp_path):
    from tests.conftest import CONFIG

    outputs = []
    for name in ("one", "two"):
        cli = Cli(CONFIG, f"sqlite:///{tmp_path / name}.db", tmp_path)
        alerts = tmp_path / f"{name}.jsonl"
        cli.json("ingest", str(EVENTS), "--clock", "event", "--alerts", str(alerts),
                 "--batch-size", "7")  # fmt: skip
        ledger = cli.json("ledger", "show")
        for entry in ledger:
            entry.pop("posted_at")  # the only wall-clock value
        reports = [
            cli.run("report", r, "--month", m, "--as-of", AS_OF, "--json").stdout
            for r in ("compliance", "credits") for m in ("2025-09", "2025-10")
        ]  # fmt: skip
        outputs.append((alerts.read_text(), ledger, reports))
    assert outputs[0] == outputs[1]
    assert outputs[0][0].count("\n") >= 17  # small batches: some alerts raised, then withdrawn


def test_ledger_close_refuses_a_month_not_yet_over_and_dry_run_writes_nothing(cli: Cli):
    cli.json("ingest", str(EVENTS), "--clock", "event")
    refused = cli.run("ledger", "close", "--month", "2030-01")
    assert refused.returncode == 2, refused.stderr
    # the fixture's plans count in Europe/Berlin, Europe/Luxembourg and UTC (the "always"
    # calendar of one plan's targets): the month ends last in UTC
    assert refused.stderr.strip() == (
        "slaclock: error: ledger close: 2030-01 has not ended yet in UTC"
        " (ends 2030-02-01T00:00:00+00:00); --dry-run shows the statement it would freeze"
    )
    assert "Traceback" not in refused.stderr

    future = cli.run("ledger", "close", "--month", "2030-01", "--dry-run", "--json")
    assert future.returncode == 0, future.stderr
    assert "has not ended yet in UTC" in future.stderr
    assert json.loads(future.stdout)["customers"] == []

    preview = cli.json("ledger", "close", "--month", "2025-09", "--dry-run")
    assert "closed_at" not in preview
    assert {c["customer_id"] for c in preview["customers"]} == {"acme", "globex"}
    report = cli.json("report", "credits", "--month", "2025-09")
    assert "closed_at" not in report  # the dry run froze nothing
    closed = cli.json("ledger", "close", "--month", "2025-09")  # an ended month still closes
    assert closed["customers"] == preview["customers"] and "closed_at" in closed
    again = cli.run("ledger", "close", "--month", "2025-09", "--dry-run")
    assert again.returncode == 2 and "already closed" in again.stderr


def test_month_still_open_names_the_zone_where_the_month_ends_last() -> None:
    policy = read_policy(str(CONFIG)).policy
    at = lambda text: int(datetime.fromisoformat(text).timestamp())  # noqa: E731
    # 23:00 UTC on 31 January: over in Berlin and Luxembourg (UTC+1), not in UTC
    assert month_still_open(policy, "2030-01", at("2030-01-31T23:30:00+00:00")) == (
        "UTC",
        datetime(2030, 2, 1, tzinfo=ZoneInfo("UTC")),
    )
    assert month_still_open(policy, "2030-01", at("2030-02-01T00:00:00+00:00")) is None
    assert month_still_open(policy, "2030-12", at("2030-12-31T23:59:59+00:00"))[0] == "UTC"
    assert month_still_open(policy, "2025-09", at("2026-11-30T00:00:00+00:00")) is None
    only_berlin = parse_policy(
        '[calendars.c]\ntimezone = "Europe/Berlin"\nhours = { mon-fri = "09:00-17:00" }\n'
        '[plans.p]\ncalendar = "c"\ntargets.response = { 1 = "1h" }\n',
        "inline",
    ).policy
    assert month_still_open(only_berlin, "2030-01", at("2030-01-31T22:30:00+00:00")) == (
        "Europe/Berlin",
        datetime(2030, 2, 1, tzinfo=ZoneInfo("Europe/Berlin")),
    )
    assert month_still_open(only_berlin, "2030-01", at("2030-01-31T23:00:00+00:00")) is None


_OBJECTIVE = """
[[plans.advanced.objectives]]
metric = "response"
target = "90%"
credits = [ { below = "90%", credit = "5%" }, { below = "70%", credit = "10%" } ]
"""


def test_objective_credit_is_posted_at_close_and_corrected_after(store_url: str, tmp_path):
    """globex (plan advanced, fee 318.00) answers 2 of 3 responses in time in 2025-09: 10 %.
    A late ticket answered in time makes it 3 of 4 (75 %): 5 %, posted as a reversal and a new
    credit into the month closed next."""
    config = tmp_path / "objectives.toml"
    config.write_text(CONFIG.read_text() + _OBJECTIVE)
    cli = Cli(config, store_url, tmp_path)
    cli.json("ingest", str(EVENTS), "--clock", "event")
    closed = cli.json("ledger", "close", "--month", "2025-09")
    globex = next(c for c in closed["customers"] if c["customer_id"] == "globex")
    assert globex["objectives"] == [{
        "metric": "response", "priorities": None, "target": "90%", "met": 2, "breached": 1,
        "attainment": 0.6667, "assessed": True, "achieved": False, "credit": "10%",
        "amount": "31.80",
    }]  # fmt: skip
    per_breach = sum(Decimal(e["amount"]) for e in globex["entries"])
    assert Decimal(globex["subtotal"]) == per_breach + Decimal("31.80")
    posted = [e for e in cli.json("ledger", "show") if e["kind"] == "objective"]
    assert [(e["customer_id"], e["ticket_id"], e["amount"], e["attainment"]) for e in posted] == [
        ("globex", "objective:response:*", "31.80", 0.6667)
    ]
    assert posted[0]["month"] == posted[0]["posted_month"] == "2025-09"

    late = tmp_path / "late.jsonl"
    late.write_text("".join(json.dumps(e) + "\n" for e in [
        {"event_id": "late-c", "type": "ticket.created", "ticket_id": "T-LATE",
         "occurred_at": "2025-09-22T10:00:00+02:00", "customer_id": "globex", "priority": 3},
        {"event_id": "late-a", "type": "ticket.acknowledged", "ticket_id": "T-LATE",
         "occurred_at": "2025-09-22T10:30:00+02:00"},
    ]))  # fmt: skip
    cli.json("ingest", str(late), "--clock", "event")
    october = cli.json("ledger", "close", "--month", "2025-10")
    entries = cli.json("ledger", "show")
    later = [e for e in entries if e["posted_month"] == "2025-10" and "objective" in e["ticket_id"]]
    assert [(e["kind"], e["amount"], e["attainment"], e["month"]) for e in later] == [
        ("reversal", "-31.80", 0.6667, "2025-09"),
        ("objective", "15.90", 0.75, "2025-09"),
    ]
    assert later[0]["refers_to"] == posted[0]["entry_id"] and later[0]["adjustment"] is True
    globex = next(c for c in october["customers"] if c["customer_id"] == "globex")
    objective = [a for a in globex["adjustments"] if a["ticket_id"] == "objective:response:*"]
    assert [a["amount"] for a in objective] == ["-31.80", "15.90"]
    assert Decimal(globex["subtotal"]) == sum(
        Decimal(x["amount"]) for x in [*globex["entries"], *globex["adjustments"]]
    )
    # the closed month is frozen; closing again re-posts nothing
    assert cli.json("report", "credits", "--month", "2025-09", "--as-of", AS_OF) == closed
    cli.json("ledger", "close", "--month", "2025-11")
    assert len(cli.json("ledger", "show")) == len(entries)
