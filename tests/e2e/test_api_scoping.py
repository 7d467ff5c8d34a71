"""Token scoping on a real server, on SQLite and PostgreSQL: a customer token never sees
another customer's data by any route (JSON, CSV, queue, the dashboard's data); no token or a
bad or revoked one answers 401."""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from slaclock.api.app import create_app
from slaclock.config import read_policy
from slaclock.domain.policy import Policy
from slaclock.domain.ticket import Ticket
from slaclock.projections.api_tokens import TokenStore
from slaclock.projections.store import TicketStore
from tests.conftest import AS_OF, CONFIG, Cli
from tests.e2e.test_api_harness import ApiServer, prepare_store, serve

ACME = {"T-1001", "T-1002", "T-1003", "T-1004", "T-9003"}
GLOBEX = {"T-2001", "T-2002", "T-2003", "T-9001", "T-9002"}
API_ROUTES = [
    ("/api/me", {}),
    ("/api/tickets", {}),
    ("/api/tickets/T-1001", {}),
    ("/api/tickets/T-1001/explain", {}),
    ("/api/queue", {}),
    ("/api/reports/compliance", {"month": "2025-09"}),
    ("/api/reports/credits", {"month": "2025-09"}),
    ("/api/reports/compliance", {"month": "2025-09", "format": "csv"}),
    ("/api/reports/credits", {"month": "2025-09", "format": "csv"}),
    ("/api/reports/attainment", {}),
]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """One server per store kind for the module (each PostgreSQL run on its own schema)."""
    tmp = tmp_path_factory.mktemp("scoping")
    if request.param == "sqlite":
        yield from serve(tmp, f"sqlite:///{tmp / 'store.db'}")
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield from serve(tmp, f"{url}?schema={schema}")
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_analytics" CASCADE')  # its views


def _customers_in_csv(text: str) -> set[str]:
    return {row["customer_id"] for row in csv.DictReader(io.StringIO(text))}


def test_customer_tokens_see_only_their_customer(server: ApiServer) -> None:
    get, json = server.get, server.json
    at = {"as_of": AS_OF}
    assert json("/api/me", "acme") == {
        "token_id": json("/api/me", "acme")["token_id"],
        "customer_id": "acme",
        "admin": False,
    }

    # Tickets: the list holds only acme's; globex's tickets answer 404 exactly like unknown ones.
    page = json("/api/tickets", "acme", **at, limit=500)
    assert {t["ticket_id"] for t in page["items"]} == ACME and page["customer_id"] == "acme"
    assert page["total"] == len(ACME)
    for ticket in GLOBEX | {"T-5001"}:
        for suffix in ("", "/explain"):
            other = get(f"/api/tickets/{ticket}{suffix}", "acme", **at)
            unknown = get(f"/api/tickets/T-0000{suffix}", "acme", **at)
            assert other.status_code == unknown.status_code == 404
            assert other.json()["detail"] == f"ticket {ticket!r}: not found as of {AS_OF}"
            assert "globex" not in other.text and "hooli" not in other.text
            known_at = get(f"/api/tickets/{ticket}{suffix}", "acme", **at, known_at=AS_OF)
            assert known_at.status_code == 404 and "globex" not in known_at.text
    assert json("/api/tickets/T-1001", "acme", **at)["customer_id"] == "acme"
    assert json("/api/tickets/T-1001/explain", "acme", **at)["customer_id"] == "acme"

    # Naming another customer answers 404, on every route that takes a customer, JSON or CSV.
    for path, params in API_ROUTES[1:]:
        if path.startswith(("/api/tickets/", "/api/me")):
            continue
        for name in ("globex", "hooli", "ACME", "acme ", "nobody"):
            response = get(path, "acme", **params, **at, customer=name)
            assert response.status_code == 404, (path, name, response.text)
            assert response.json() == {"detail": f"customer {name!r}: not found"}

    # Without a customer parameter, every answer is filtered to acme.
    queue = json("/api/queue", "acme", **at)
    assert [i["ticket_id"] for i in queue["items"]] == ["T-9003", "T-1004"]
    for month in ("2025-08", "2025-09", "2025-10"):
        compliance = json("/api/reports/compliance", "acme", month=month, **at)
        assert {r["customer_id"] for r in compliance["rows"]} <= {"acme"}
        credits = json("/api/reports/credits", "acme", month=month, **at)
        assert {c["customer_id"] for c in credits["customers"]} <= {"acme"}
        for report in ("compliance", "credits"):
            text = get(f"/api/reports/{report}", "acme", month=month, format="csv", **at).text
            assert _customers_in_csv(text) <= {"acme"}
            assert "globex" not in text
    series = json("/api/reports/attainment", "acme", **at)
    assert {r["customer_id"] for m in series["months"] for r in m["rows"]} == {"acme"}

    # The dashboard page itself carries no data: it is the same static page for everyone.
    page_a = server.client.get("/dashboard/acme")
    page_g = server.client.get("/dashboard/globex")
    assert page_a.status_code == page_g.status_code == 200 and page_a.text == page_g.text
    assert "globex" not in page_g.text
    assert "script-src 'self'" in page_g.headers["content-security-policy"]

    # The admin token sees everybody.
    admin = json("/api/tickets", "admin", **at, limit=500)
    assert ACME | GLOBEX | {"T-5001"} <= {t["ticket_id"] for t in admin["items"]}
    assert len(json("/api/queue", "admin", **at)["items"]) == 5
    assert json("/api/tickets/T-2001", "admin", **at)["customer_id"] == "globex"
    assert json("/api/tickets/T-2001", "globex", **at)["customer_id"] == "globex"


def test_missing_bad_and_revoked_tokens_answer_401(server: ApiServer) -> None:
    admin = server.tokens["admin"]
    bad_tokens = [
        None,
        "not-a-token",
        admin[:-1],
        admin + "x",
        admin.upper(),
        server.tokens["revoked"],
        "x" * 5000,
    ]
    for path, params in API_ROUTES:
        for token in bad_tokens:
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            response = server.client.get(path, params=params, headers=headers)
            assert response.status_code == 401, (path, token, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["detail"].startswith("authorization:")
        for scheme in ("Bearer", f"Basic {admin}", admin, f"Token {admin}"):
            response = server.client.get(path, params=params, headers={"Authorization": scheme})
            assert response.status_code == 401, (path, scheme)
    # Validation never runs before authentication: a bad month without a token is still 401.
    assert server.client.get("/api/reports/credits", params={"month": "x"}).status_code == 401


def test_revoking_takes_effect_on_the_running_server(server: ApiServer) -> None:
    token = server.cli.json("token", "create", "--customer", "globex")
    assert server.get("/api/me", token["token"]).status_code == 200
    assert server.cli.json("token", "revoke", token["token_id"]) == {"revoked": True}
    assert server.get("/api/me", token["token"]).status_code == 401


class RecordingStore(TicketStore):
    """The real store, recording what each request reads: statements and loaded tickets."""

    def __init__(self, url: str, policy: Policy) -> None:
        super().__init__(url, policy)
        self.statements: list[str] = []
        self.loaded: list[str] = []

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        self.statements.append(statement)
        return super().query(statement, params)

    def get_tickets(self, ticket_ids: Iterable[str]) -> dict[str, Ticket]:
        wanted = list(ticket_ids)
        self.loaded.extend(wanted)
        return super().get_tickets(wanted)


@dataclass
class Recorded:
    url: str
    store: RecordingStore
    tokens: dict[str, str]

    def reads(self, path: str, token: str, **params: str) -> tuple[int, list[str], list[str]]:
        """The status of a GET and what the store was asked for while answering it."""
        self.store.statements.clear()
        self.store.loaded.clear()
        headers = {"Authorization": f"Bearer {self.tokens[token]}"}
        with httpx.Client(base_url=self.url, timeout=30) as client:
            answer = client.get(path, params=params, headers=headers)
        return answer.status_code, list(self.store.statements), list(self.store.loaded)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    """The app of ``slaclock serve``, run in this process on real HTTP over a recording
    store (the same store, policy and tokens as the server above)."""
    tmp = tmp_path_factory.mktemp("order")
    cli = Cli(CONFIG, f"sqlite:///{tmp / 'store.db'}", tmp)
    tokens = prepare_store(cli)
    loaded = read_policy(str(CONFIG))
    store = RecordingStore(cli.store, loaded.policy)
    store.version = loaded.version
    tokens["relay"] = TokenStore(store).create(source="open")[0]
    app = create_app(loaded.policy, store, policy_version=loaded.version)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the in-process server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]  # port 0: the one the system gave
    try:
        yield Recorded(f"http://127.0.0.1:{port}", store, tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def test_scope_is_checked_before_a_ticket_is_loaded(recorded: Recorded) -> None:
    """Another customer's ticket costs what a missing one does (the same reads, no ticket
    loaded or evaluated); a source token reads nothing but its own token (issue 18 item 9).
    As of 10:40 T-2001 (globex) is mid-life: its rows do not answer then, so a read that got
    past the scope would fold it from its events."""
    at = "2025-09-10T10:40:00+02:00"
    for suffix in ("", "/explain"):
        other = recorded.reads(f"/api/tickets/T-2001{suffix}", "acme", as_of=at)
        missing = recorded.reads(f"/api/tickets/T-0000{suffix}", "acme", as_of=at)
        assert other == missing
        assert other[0] == 404 and other[2] == []
        own = recorded.reads(f"/api/tickets/T-2001{suffix}", "globex", as_of=at)
        assert own[0] == 200 and own[2] == ["T-2001"]  # the recording does see loads
    status, statements, loaded = recorded.reads("/api/tickets/T-2001", "relay", as_of=at)
    assert (status, loaded) == (403, [])
    assert len(statements) == 1 and "sla_api_tokens" in statements[0]
