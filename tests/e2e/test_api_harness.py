"""A real ``slaclock serve`` on loopback for the API tests, and the tests of its commands.

``ApiServer`` starts ``python -m slaclock serve`` as a subprocess on a free port against a
store filled through ``slaclock ingest`` (the contract's events plus a few tickets still open
at ``AS_OF``), with tokens made by ``slaclock token create``. The other ``test_api*`` modules
and the browser test import it from here.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slaclock.config import load_policy
from slaclock.projections.api_tokens import TokenStore
from slaclock.projections.store import TicketStore
from tests.conftest import AS_OF, CONFIG, EVENTS, Cli

# Tickets still open at AS_OF (Monday 2025-10-06 12:00 Berlin), so that the queue and the
# dashboard's open clocks have something to show besides T-1004 (acme, breached) and T-5001
# (hooli, no contract).
OPEN_EVENTS = [
    {
        "event_id": "api-1",
        "type": "ticket.created",
        "ticket_id": "T-9001",
        "occurred_at": "2025-10-06T09:15:00+02:00",
        "customer_id": "globex",
        "priority": 2,
    },
    {
        "event_id": "api-2",
        "type": "ticket.created",
        "ticket_id": "T-9002",
        "occurred_at": "2025-10-06T11:00:00+02:00",
        "customer_id": "globex",
        "priority": 3,
    },
    {
        "event_id": "api-3",
        "type": "ticket.created",
        "ticket_id": "T-9003",
        "occurred_at": "2025-10-06T11:30:00+02:00",
        "customer_id": "acme",
        "priority": 1,
    },
]
QUEUE_BY_PRIORITY = ["T-9003", "T-1004", "T-9001", "T-9002", "T-5001"]
QUEUE_BY_DEADLINE = ["T-1004", "T-9001", "T-9003", "T-9002", "T-5001"]
# uvicorn names the port the system gave it (serve --port 0) at log level info
LISTENING = re.compile(r"Uvicorn running on http://[^ ]+:(\d+)")


def prepare_store(cli: Cli, *, open_tickets: bool = True) -> dict[str, str]:
    """Ingest the contract events (and the open tickets) with ``slaclock ingest``; create
    tokens. Returns the tokens: ``admin``, ``acme``, ``globex``, ``revoked`` (a globex token,
    revoked). The token commands themselves are tested below."""
    files = [str(EVENTS)]
    if open_tickets:
        path = cli.cwd / "open_events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in OPEN_EVENTS))
        files.append(str(path))
    accepted = cli.json("ingest", *files)["accepted"]
    assert accepted == 30 + (len(OPEN_EVENTS) if open_tickets else 0)
    store = TicketStore(cli.store, load_policy(cli.config)[0])
    try:
        tokens = TokenStore(store)
        made = {"admin": tokens.create(admin=True, label="tests")[0]}
        for customer in ("acme", "globex"):
            made[customer] = tokens.create(customer=customer)[0]
        made["revoked"], record = tokens.create(customer="globex")
        assert tokens.revoke(record.token_id)
    finally:
        store.close()
    return made


class ApiServer:
    """``slaclock serve`` in a subprocess, and an HTTP client for it.

    The server listens on port 0 (a port the system picks, so that parallel test workers
    never collide) and logs at level info, where uvicorn names the port it got."""

    def __init__(self, cli: Cli, tokens: dict[str, str], *extra: str) -> None:
        self.cli, self.tokens = cli, tokens
        self.log = cli.cwd / f"serve-{uuid.uuid4().hex[:10]}.log"
        command = [sys.executable, "-m", "slaclock", "--config", str(cli.config)]
        command += ["--store", cli.store, "serve", "--port", "0", "--log-level", "info", *extra]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command, cwd=cli.cwd, stdout=log, stderr=subprocess.STDOUT
            )
        self.client: httpx.Client | None = None
        deadline = time.monotonic() + 60  # generous: parallel workers load the machine
        self.port = self._listening_port(deadline)
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=30)
        while True:
            try:
                if self.client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            self._check_alive(deadline)
            time.sleep(0.1)

    def _listening_port(self, deadline: float) -> int:
        while True:
            found = LISTENING.search(self.log.read_text(errors="replace"))
            if found:
                return int(found.group(1))
            self._check_alive(deadline)
            time.sleep(0.05)

    def _check_alive(self, deadline: float) -> None:
        if self.process.poll() is not None or time.monotonic() > deadline:
            self.stop()
            raise AssertionError(f"slaclock serve did not start:\n{self.log.read_text()}")

    def get(self, path: str, token: str | None = "admin", **params: Any) -> httpx.Response:
        """GET with the named token (a key of ``tokens``), a literal token, or none."""
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(token, token)}"
        response = self.client.get(path, params=params, headers=headers)
        assert response.status_code < 500, (path, params, response.text)
        assert "Traceback" not in response.text
        return response

    def json(self, path: str, token: str | None = "admin", **params: Any) -> Any:
        response = self.get(path, token, **params)
        assert response.status_code == 200, (path, params, response.text)
        return response.json()

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(
    tmp: Path, store_url: str, *extra: str, open_tickets: bool = True, config: Path = CONFIG
) -> Iterator[ApiServer]:
    cli = Cli(config, store_url, tmp)
    server = ApiServer(cli, prepare_store(cli, open_tickets=open_tickets), *extra)
    try:
        yield server
    finally:
        server.stop()


def sqlite_serve(factory: pytest.TempPathFactory, *extra: str) -> Iterator[ApiServer]:
    """A server on a fresh SQLite store (for module-scoped fixtures)."""
    tmp = factory.mktemp("api")
    yield from serve(tmp, f"sqlite:///{tmp / 'store.db'}", *extra)


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    yield from sqlite_serve(tmp_path_factory)


# ---------------------------------------------------------------------------------- tests
def test_health_and_readiness(sqlite_server: ApiServer) -> None:
    assert sqlite_server.json("/healthz", token=None) == {"status": "ok"}
    assert sqlite_server.json("/readyz", token=None) == {"status": "ready"}


def test_readyz_answers_503_when_the_store_is_gone(tmp_path: Path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    server = ApiServer(cli, prepare_store(cli, open_tickets=False))
    try:
        assert server.get("/readyz", token=None).status_code == 200
        with sqlite3.connect(tmp_path / "store.db") as db:
            db.execute("DROP TABLE sla_meta")
        ready = server.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"detail": "store: unavailable, try again later"}
        assert server.get("/healthz", token=None).status_code == 200
    finally:
        server.stop()


def test_tokens_are_printed_once_and_stored_as_hashes(tmp_path: Path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    created = cli.run("token", "create", "--customer", "acme", "--label", "portal")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("slk_") and "\n" not in token
    assert "shown once" in created.stderr
    listing = cli.run("token", "list")
    assert token not in listing.stdout and "customer acme" in listing.stdout
    records = cli.json("token", "list")
    assert [(r["customer_id"], r["admin"], r["label"]) for r in records] == [
        ("acme", False, "portal")
    ]
    with sqlite3.connect(tmp_path / "store.db") as db:
        rows = db.execute("SELECT * FROM sla_api_tokens").fetchall()
    assert token not in repr(rows)
    assert hashlib.sha256(token.encode()).hexdigest() in repr(rows)

    assert cli.run("token", "create").returncode == 2  # --customer or --admin is required
    assert cli.run("token", "create", "--customer", "x", "--admin").returncode == 2
    missing = cli.run("token", "revoke", "nope")
    assert missing.returncode == 1 and "no active token" in missing.stderr
    assert cli.run("token", "revoke", token).returncode == 0  # by the token itself
    assert cli.json("token", "list")[0]["revoked_at"] is not None
    assert cli.run("token", "revoke", records[0]["token_id"]).returncode == 1  # already


def test_queue_command(tmp_path: Path) -> None:
    cli = Cli(CONFIG, f"sqlite:///{tmp_path / 'store.db'}", tmp_path)
    prepare_store(cli)
    by_priority = cli.json("queue", "--as-of", AS_OF)
    assert [i["ticket_id"] for i in by_priority["items"]] == QUEUE_BY_PRIORITY
    assert [i["position"] for i in by_priority["items"]] == [1, 2, 3, 4, 5]
    by_deadline = cli.json("queue", "--as-of", AS_OF, "--order", "deadline")
    assert [i["ticket_id"] for i in by_deadline["items"]] == QUEUE_BY_DEADLINE
    globex = cli.json("queue", "--as-of", AS_OF, "--customer", "globex", "--limit", "1")
    assert globex["total"] == 2 and [i["ticket_id"] for i in globex["items"]] == ["T-9001"]
    human = cli.run("queue", "--as-of", AS_OF)
    assert human.returncode == 0 and "T-9003" in human.stdout and "5 open" in human.stdout
    bad = cli.run("queue", "--as-of", "yesterday")
    assert bad.returncode == 2 and "--as-of:" in bad.stderr
    assert cli.run("queue", "--order", "random").returncode == 2
