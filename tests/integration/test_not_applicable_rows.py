"""A clock that stops applying loses its read-model row, on SQLite and PostgreSQL.

A plan may promise a metric for some priorities only. A ticket reprioritised to one
without a target has that clock ``not_applicable``: its ``sla_clocks`` row must go, or
the reports would go on counting the old priority's clock (``replay --verify`` calls such
a row extra).
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

from slaclock.cli import main
from tests.conftest import CONFIG

FULL = 'targets.resolution = { 1 = { within = "8h", calendar = "always" }, 2 = "24h", 3 = "40h" }'
P1_ONLY = 'targets.resolution = { 1 = { within = "8h", calendar = "always" } }'


def _event(event_id: str, kind: str, at: str, **fields: object) -> str:
    return json.dumps(
        {"event_id": event_id, "type": kind, "ticket_id": "G-1", "occurred_at": at, **fields}
    )


def _run(config: Path, store_url: str, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--config", str(config), "--store", store_url, *argv])
    return code, out.getvalue()


def _ingest(config: Path, store_url: str, path: Path, *lines: str) -> None:
    path.write_text("".join(line + "\n" for line in lines))
    code, _ = _run(config, store_url, "ingest", str(path))
    assert code == 0


def _resolution_rows(config: Path, store_url: str) -> list[dict[str, object]]:
    code, text = _run(
        config,
        store_url,
        "report",
        "compliance",
        "--month",
        "2025-09",
        "--json",
        "--as-of",
        "2025-10-15T00:00:00+00:00",
    )
    assert code == 0
    return [row for row in json.loads(text)["rows"] if row["metric"] == "resolution"]


def test_a_clock_that_stops_applying_leaves_the_reports_and_the_store(
    store_url: str, tmp_path: Path
) -> None:
    text = CONFIG.read_text()
    assert FULL in text  # the sample's "advanced" plan, which globex is on
    config = tmp_path / "slaclock.toml"
    config.write_text(text.replace(FULL, P1_ONLY))
    created = _event(
        "na-1",
        "ticket.created",
        "2025-09-02T09:00:00+00:00",
        customer_id="globex",
        priority=1,
        channel="email",
    )
    _ingest(config, store_url, tmp_path / "a.jsonl", created)
    assert [(r["priority"], r["breached"]) for r in _resolution_rows(config, store_url)] == [(1, 1)]

    lowered = _event("na-2", "ticket.reprioritised", "2025-09-02T10:00:00+00:00", priority=2)
    _ingest(config, store_url, tmp_path / "b.jsonl", lowered)
    assert _resolution_rows(config, store_url) == []
    code, text = _run(config, store_url, "replay", "--verify")
    assert code == 0, text
    assert "the read model matches the event store" in text

    raised = _event("na-3", "ticket.reprioritised", "2025-09-02T11:00:00+00:00", priority=1)
    _ingest(config, store_url, tmp_path / "c.jsonl", raised)
    assert [r["priority"] for r in _resolution_rows(config, store_url)] == [1]
