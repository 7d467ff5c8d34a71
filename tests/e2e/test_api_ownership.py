"""The ownership report route on a real server: an admin token sees every customer's
tickets' groups, a customer token only its own tickets' (the service-levels sample)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from slaclock.config import load_policy
from slaclock.projections.api_tokens import TokenStore
from slaclock.projections.store import TicketStore
from tests.conftest import Cli
from tests.contract_compare import differences
from tests.e2e.test_api_harness import ApiServer

SAMPLE = Path(__file__).parent.parent / "fixtures" / "service_levels"
AS_OF = "2025-11-20T00:00:00Z"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp("ownership")
    cli = Cli(SAMPLE / "slaclock.toml", f"sqlite:///{tmp / 'store.db'}", tmp)
    assert cli.json("ingest", str(SAMPLE / "events.jsonl"))["accepted"] == 111
    store = TicketStore(cli.store, load_policy(cli.config)[0])
    try:
        tokens = TokenStore(store)
        made = {"admin": tokens.create(admin=True, label="tests")[0]}
        for customer in ("c-alpha", "c-beta"):
            made[customer] = tokens.create(customer=customer)[0]
    finally:
        store.close()
    server = ApiServer(cli, made)
    try:
        yield server
    finally:
        server.stop()


def _rows(server: ApiServer, token: str, **params: str) -> list[tuple]:
    data = server.json("/api/reports/ownership", token=token, as_of=AS_OF, **params)
    return [(r["group"], r["priority"], r["met"], r["breached"]) for r in data["rows"]]


def test_an_admin_sees_every_group_as_the_command_line_does(server: ApiServer) -> None:
    expected = json.loads((SAMPLE / "expected" / "ownership_2025-04.json").read_text())
    rows = _rows(server, "admin", month="2025-04")
    assert rows == [(r["group"], r["priority"], r["met"], r["breached"]) for r in expected["rows"]]
    assert _rows(server, "admin", month="2025-04", group="N1") == [("N1", 3, 1, 1)]


def test_a_customer_token_sees_only_its_own_tickets_groups(server: ApiServer) -> None:
    differ = False
    for month in ("2025-04", "2025-10"):
        everyone = _rows(server, "admin", month=month)
        alpha = _rows(server, "c-alpha", month=month)
        beta = _rows(server, "c-beta", month=month)
        gamma = _rows(server, "admin", month=month, customer="c-gamma")
        assert alpha == _rows(server, "admin", month=month, customer="c-alpha")
        total: dict[tuple, list[int]] = {}
        for group, priority, met, breached in alpha + beta + gamma:
            counts = total.setdefault((group, priority), [0, 0])
            counts[0] += met
            counts[1] += breached
        assert sorted((*key, *n) for key, n in total.items()) == everyone
        differ = differ or alpha != everyone
    assert differ  # the scope made a difference somewhere
    other = server.get(
        "/api/reports/ownership", token="c-alpha", month="2025-04", customer="c-beta"
    )
    assert other.status_code == 404


def test_ticket_routes_carry_the_cycles(server: ApiServer) -> None:
    expected = json.loads((SAMPLE / "expected" / "tickets_as_of_2025-11-20T00-00.json").read_text())
    wanted = next(t for t in expected if t["ticket_id"] == "L900-T005")
    ticket = server.json("/api/tickets/L900-T005", as_of=AS_OF)
    assert differences(wanted, ticket) == []
    page = server.json("/api/tickets", as_of=AS_OF, limit="500")
    assert differences(expected, page["items"]) == []
    explained = server.json("/api/tickets/L900-T005/explain", as_of=AS_OF)
    cycles = explained["clocks"]["ownership"]["cycles"]
    assert [c["group"] for c in cycles] == ["L2", "N1"] and all(c["timeline"] for c in cycles)
