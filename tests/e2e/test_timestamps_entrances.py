"""One timestamp format and one range of instants, with the same words, wherever an instant
comes in: events' ``occurred_at`` (ingest), command-line options and API parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from slaclock.domain.instants import InstantError, parse_instant
from tests.conftest import CONFIG, Cli
from tests.e2e.test_api_harness import ApiServer, serve

# ----------------------------------------------------- the same words at every entrance
SAMPLES = [
    "20251006T120000+0200",
    "2025-10-06T12:00:00",
    "2025-02-29T12:00:00Z",
    "2205-09-15T09:00:00+02:00",
    "1969-12-31T23:59:59Z",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp("timestamps")
    yield from serve(tmp, f"sqlite:///{tmp / 'store.db'}", open_tickets=False)


def test_command_line_api_and_events_reject_alike(server: ApiServer, tmp_path: Path) -> None:
    cli = server.cli
    events = tmp_path / "events.jsonl"
    lines = [
        {
            "event_id": f"ts-{n}",
            "type": "ticket.created",
            "ticket_id": f"TS-{n}",
            "customer_id": "acme",
            "priority": 2,
            "occurred_at": text,
        }
        for n, text in enumerate([*SAMPLES, "2199-12-31T20:00:00Z"])
    ]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    dead = tmp_path / "dead.jsonl"
    counts = cli.json("ingest", str(events), "--dead-letter", str(dead))
    assert (counts["read"], counts["accepted"], counts["rejected"]) == (6, 1, 5)
    ingest_reasons = [json.loads(line)["reason"] for line in dead.read_text().splitlines()]
    for text, reason in zip(SAMPLES, ingest_reasons, strict=True):
        with pytest.raises(InstantError) as caught:
            parse_instant(text)
        problem = str(caught.value)
        assert reason == f"occurred_at: {problem}"
        done = cli.run("ticket", "T-1001", "--as-of", text)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert f"--as-of: {problem}" in done.stderr
        done = cli.run("queue", "--as-of", text)
        assert done.returncode == 2 and f"--as-of: {problem}" in done.stderr
        answer = server.get("/api/tickets/T-1001", as_of=text)
        assert answer.status_code == 422
        assert f"as_of: {problem}" in answer.text
    # the last instant of the range is served end to end, deadline in 2200 included
    ticket = cli.json("ticket", "TS-5", "--as-of", "2199-12-31T23:59:59Z")
    assert ticket["clocks"]["response"]["deadline"].startswith("2200-01-01")
    assert server.json("/api/tickets/TS-5", as_of="2199-12-31T23:59:59Z")["ticket_id"] == "TS-5"


def test_months_on_the_command_line_share_the_range(tmp_path: Path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    done = cli.run("report", "compliance", "--month", "2200-01")
    assert done.returncode == 2
    assert "--month: '2200-01' is outside 1970-2199" in done.stderr


def test_a_deadline_beyond_what_calendars_serve_is_a_usage_error(tmp_path: Path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    last = "2199-12-31T12:00:00Z"
    done = cli.run("calendar", "add", "office", "--start", last, "--duration", "100000h")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--duration: calendar office: deadline beyond the supported range" in done.stderr
    assert cli.json("calendar", "add", "office", "--start", last, "--duration", "8h")[
        "deadline"
    ].startswith("2200-01-")
