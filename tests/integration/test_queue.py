"""The work queue: contract customers first, then priority, then arrival; resolved tickets
leave it, also those of customers without a contract."""

from __future__ import annotations

import json

from tests.conftest import EVENTS, Cli

AS_OF = "2025-10-06T12:00:00+02:00"


def _queue_ids(cli: Cli, *extra: str) -> list[str]:
    data = cli.json("queue", "--as-of", AS_OF, *extra)
    items = data["items"] if isinstance(data, dict) else data
    return [item["ticket_id"] for item in items]


def test_resolved_ticket_without_contract_leaves_the_queue(cli: Cli, tmp_path) -> None:
    cli.json("ingest", str(EVENTS))
    before = _queue_ids(cli)
    assert before == ["T-1004", "T-5001"]  # contract customer first; hooli has no contract
    resolved = tmp_path / "resolved.jsonl"
    resolved.write_text(json.dumps({
        "event_id": "r-5001", "type": "ticket.resolved", "ticket_id": "T-5001",
        "occurred_at": "2025-09-08T10:00:00+02:00",
    }) + "\n")  # fmt: skip
    cli.json("ingest", str(resolved))
    assert _queue_ids(cli) == ["T-1004"]
    # as of before the resolution it was still open
    data = cli.json("queue", "--as-of", "2025-09-08T09:30:00+02:00")
    items = data["items"] if isinstance(data, dict) else data
    assert "T-5001" in [item["ticket_id"] for item in items]
