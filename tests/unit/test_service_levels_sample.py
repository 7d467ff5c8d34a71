"""The service-levels sample (tests/fixtures/service_levels, a copy of the contract's
``service-levels/``): its events ingested into a SQLite store by the command line, every
ticket at two instants and the compliance, credits and ownership reports of four months
agree with the expected answers of the independent reference (instants as instants, the
keys given, lists in order); and the stored cycles do not depend on arrival order, batches
or runs (hypothesis)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slaclock.cli import run
from slaclock.config import load_policy
from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.sources import RawEvent
from slaclock.projections.store import TicketStore
from tests.contract_compare import differences

SAMPLE = Path(__file__).parent.parent / "fixtures" / "service_levels"
EXPECTED = SAMPLE / "expected"
AS_OF = "2025-11-20T00:00:00Z"
MONTHS = ("2025-03", "2025-04", "2025-10", "2025-11")


@pytest.fixture(scope="module")
def slaclock(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('sl') / 'store.db'}"
    base = ["--config", str(SAMPLE / "slaclock.toml"), "--store", store]
    assert run([*base, "ingest", str(SAMPLE / "events.jsonl")]) == 0

    def answer(capsys, *argv: str):
        capsys.readouterr()
        assert run([*base, *argv, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    return answer


@pytest.mark.parametrize(
    ("as_of", "name"),
    [
        ("2025-04-06T03:00:00Z", "tickets_as_of_2025-04-06T03-00.json"),
        (AS_OF, "tickets_as_of_2025-11-20T00-00.json"),
    ],
)
def test_every_ticket_agrees(slaclock, capsys, as_of: str, name: str) -> None:
    expected = json.loads((EXPECTED / name).read_text())
    got = slaclock(capsys, "tickets", "--as-of", as_of)
    assert differences(expected, got) == []
    assert any(t["clocks"]["ownership"].get("cycles") for t in got)  # cycles are checked


@pytest.mark.parametrize("report", ["compliance", "credits", "ownership"])
@pytest.mark.parametrize("month", MONTHS)
def test_every_report_agrees(slaclock, capsys, report: str, month: str) -> None:
    expected = json.loads((EXPECTED / f"{report}_{month}.json").read_text())
    got = slaclock(capsys, "report", report, "--month", month, "--as-of", AS_OF)
    assert differences(expected, got) == []


def test_the_comparison_sees_a_difference() -> None:
    expected = {"at": "2025-04-01T17:00:00+02:00", "rows": [{"n": 1}]}
    assert differences(expected, {"at": "2025-04-01T15:00:00Z", "rows": [{"n": 1, "x": 2}]}) == []
    assert differences(expected, {"at": "2025-04-01T15:00:01Z", "rows": [{"n": 1}]}) != []
    assert differences(expected, {"at": "2025-04-01T15:00:00Z", "rows": []}) != []


def _cycle_rows(store_url: str, policy, runs: list[list[str]]) -> list[tuple]:
    store = TicketStore(store_url, policy)
    try:
        for lines in runs:  # each run a new ingestor, as separate commands would be
            ingestor = Ingestor(store, policy, DeadLetterList(), batch_size=7, clock="event")
            ingestor.run([RawEvent(f"x:{i}", line) for i, line in enumerate(lines)])
        rows = store.query("SELECT * FROM {p}sla_cycles ORDER BY ticket_id, cycle_id")
        return [tuple(row) for row in rows]
    finally:
        store.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 3))
def test_stored_cycles_ignore_arrival_order_and_run_splits(rnd, runs: int) -> None:
    """The sample's events shuffled (creations arriving late: pending events), split over
    several runs with small batches: the same cycle rows as one ordered run."""
    policy = load_policy(SAMPLE / "slaclock.toml")[0]
    lines = (SAMPLE / "events.jsonl").read_text().splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        reference = _cycle_rows(f"sqlite:///{tmp}/sorted.db", policy, [lines])
        mixed = lines[:]
        rnd.shuffle(mixed)
        cuts = sorted(rnd.sample(range(1, len(mixed)), k=runs - 1))
        parts = [mixed[a:b] for a, b in zip([0, *cuts], [*cuts, len(mixed)], strict=True)]
        assert _cycle_rows(f"sqlite:///{tmp}/mixed.db", policy, parts) == reference
    assert len(reference) == 23
