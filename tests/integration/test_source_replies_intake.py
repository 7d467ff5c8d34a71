"""Section 5 into a real store (SQLite and PostgreSQL): the Zammad webhook lifecycle with
``replies = true`` and ``group`` ingested by ``ingest --source``: replies and assignments are
accepted, a second delivery adds only duplicates (the kept state, with its group, read back
from the store), and the response clock is what it is without the keys."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli
from tests.integration.test_source_lifecycles import HOOKS

AS_OF = "2025-11-24T12:00:00+01:00"
GROUP_CHANGE = (
    '{"ticket":{"number":"91007","created_at":"2025-11-17T08:20:00.120Z",'
    '"updated_at":"2025-11-17T09:20:00.000Z","state":"open","customer_id":211,'
    '"priority":{"name":"3 high"},"organization":{"name":"Initech GmbH"},'
    '"group":{"name":"1st Level"}},"article":{}}'
)


def test_replies_and_assignments_are_ingested_and_redelivery_adds_duplicates_only(
    store_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "slaclock.toml"
    config.write_text(
        (HOOKS / "slaclock.toml").read_text()
        + "\n"
        + (HOOKS / "zammad" / "source.toml").read_text()
        + 'replies = true\ngroup = "group.name"\n'
        + 'groups = { "2nd Level" = "L2", "1st Level" = "L1" }\n'
    )
    lines = (HOOKS / "zammad" / "payloads.jsonl").read_text().splitlines()
    payloads = tmp_path / "payloads.jsonl"
    payloads.write_text("\n".join([*lines[:4], GROUP_CHANGE, *lines[4:]]) + "\n")
    cli = Cli(config, store_url, tmp_path)

    first = cli.json("ingest", "--source", "zm", str(payloads))
    # 8 lifecycle events + 2 agent replies + 2 customer replies + 2 assignments (to L1 at
    # 09:20, back to L2 with the next body); the redelivered resolution is the one
    # duplicate; one body is rejected (its priority)
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (14, 1, 1)
    again = cli.json("ingest", "--source", "zm", str(payloads))
    assert (again["accepted"], again["rejected"]) == (0, 1)

    explained = cli.json("explain", "91007", "--as-of", AS_OF)
    types = [e["type"] for e in explained["events"]]
    assert types.count("ticket.agent_replied") == 2
    assert types.count("ticket.customer_replied") == 2
    moves = [e["source"] for e in explained["events"] if e["type"] == "ticket.assigned"]
    assert moves == [
        "zm: snapshot group L2 -> L1",
        "zm: snapshot state open -> pending reminder group L1 -> L2",
    ]
    response = cli.json("ticket", "91007", "--as-of", AS_OF)["clocks"]["response"]
    assert (response["status"], response["elapsed_seconds"]) == ("met", 1800)
