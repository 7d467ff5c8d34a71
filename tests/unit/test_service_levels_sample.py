"""The service-levels sample (tests/fixtures/service_levels, a copy of the contract's
``service-levels/``): its events ingested into a SQLite store by the command line, every
ticket at two instants and the compliance, credits and ownership reports of four months
agree with the expected answers of the independent reference (instants as instants, the
keys given, lists in order)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slaclock.cli import run
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
