"""``POST /hooks/SOURCE`` against a real ``slaclock serve``: signed deliveries of every kind
stored (SQLite and PostgreSQL), redeliveries counted as duplicates, bad signatures, body
limits, unmappable payloads, the admin-token fallback, and concurrent deliveries."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Cli
from tests.e2e.test_api_harness import ApiServer
from tests.webhook_helpers import (
    KINDS,
    SECRETS,
    SOURCES,
    TICKETS,
    Delivery,
    env_name,
    expected,
    lifecycle,
    metric,
    secret_env,
    signed,
    stored,
    write_config,
)


def start(tmp: Path, store_url: str, monkeypatch: pytest.MonkeyPatch, *extra: str) -> ApiServer:
    """``slaclock serve`` with the sample sources, their secrets in the environment, and an
    admin and a customer token."""
    for name, value in secret_env().items():
        monkeypatch.setenv(name, value)
    cli = Cli(write_config(tmp), store_url, tmp)
    tokens = {
        "admin": cli.run("token", "create", "--admin").stdout.strip(),
        "acme": cli.run("token", "create", "--customer", "acme").stdout.strip(),
    }
    return ApiServer(cli, tokens, *extra)


def post(server: ApiServer, delivery: Delivery) -> httpx.Response:
    response = server.client.post(
        f"/hooks/{delivery.source}", content=delivery.body, headers=delivery.headers
    )
    assert "Traceback" not in response.text
    return response


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One SQLite-backed server for the tests that need no fresh store."""
    tmp = tmp_path_factory.mktemp("hooks")
    with pytest.MonkeyPatch.context() as monkeypatch:
        running = start(
            tmp, f"sqlite:///{tmp / 'store.db'}", monkeypatch, "--hook-max-body", "65536"
        )
    try:
        yield running
    finally:
        running.stop()


def test_signed_deliveries_of_every_kind_are_stored(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start(tmp_path, store_url, monkeypatch)
    try:
        for kind in KINDS:
            answers = [post(server, delivery) for delivery in lifecycle(kind)]
            assert [a.status_code for a in answers] == [202] * len(answers), [
                a.text for a in answers
            ]
            facts = stored(store_url, server.cli.config, TICKETS[kind])
            assert sorted(facts) == sorted(expected(kind)), kind
            # the redelivered line (byte-identical to the one before it) adds nothing
            repeat = next(
                i
                for i, d in enumerate(lifecycle(kind)[1:], 1)
                if d.body == lifecycle(kind)[i - 1].body
            )
            assert answers[repeat].json()["accepted"] == 0
            assert answers[repeat].json()["delivery_id"] in (None, f"d-{kind}-{repeat}")
        again = post(server, lifecycle("jira")[2])  # a late redelivery: durable, duplicates
        assert again.status_code == 202 and again.json()["accepted"] == 0
        assert again.json()["duplicates"] >= 1
        text = server.client.get("/metrics").text
        for kind in KINDS:
            source = SOURCES[kind]
            assert metric(
                text, "slaclock_webhook_deliveries_total", source=source, outcome="accepted"
            ) == 7 + (kind == "jira")
            assert (
                metric(text, "slaclock_webhook_events_total", source=source, outcome="accepted")
                == 6
            )
            assert (
                metric(text, "slaclock_webhook_events_total", source=source, outcome="duplicate")
                >= 1
            )
    finally:
        server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_bad_or_missing_signature_is_401_and_nothing_is_stored(
    server: ApiServer, kind: str
) -> None:
    body = lifecycle(kind)[0].body.replace(TICKETS[kind].encode(), b"99001", 1)
    forged = signed(kind, body, "forged-1", secret="not-the-secret")
    before = server.client.get("/metrics").text
    answer = post(server, forged)
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("signature: ")
    unsigned = Delivery(forged.source, body, {"Content-Type": "application/json"})
    assert post(server, unsigned).status_code == 401
    tampered = signed(kind, body, "forged-2")
    assert post(server, Delivery(tampered.source, body + b" ", tampered.headers)).status_code == 401
    assert stored(server.cli.store, server.cli.config, "99001") == []
    after = server.client.get("/metrics").text
    source = SOURCES[kind]
    count = metric(
        after, "slaclock_webhook_deliveries_total", source=source, outcome="unauthorised"
    )
    assert (
        count
        - metric(before, "slaclock_webhook_deliveries_total", source=source, outcome="unauthorised")
        == 3
    )
    log = server.log.read_text()
    assert f"hooks/{source}: unauthorised delivery" in log
    assert "99001" not in log and SECRETS[kind] not in log  # neither body nor secret logged


def test_unknown_source_is_404(server: ApiServer) -> None:
    answer = server.client.post("/hooks/nosuch", content=b"{}")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "source 'nosuch': not found"}


def test_oversized_bodies_are_413(server: ApiServer) -> None:
    big = b'{"pad": "' + b"x" * 70_000 + b'"}'
    delivery = signed("jira", big, "big-1")
    announced = post(server, delivery)
    assert announced.status_code == 413
    assert announced.json() == {"detail": "body: larger than 65536 bytes"}

    def chunks() -> Iterator[bytes]:  # no Content-Length: found out while reading
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = httpx.post(
        f"{server.url}/hooks/jsm", content=chunks(), headers=delivery.headers, timeout=30
    )
    assert streamed.status_code == 413
    text = server.client.get("/metrics").text
    assert metric(text, "slaclock_webhook_deliveries_total", source="jsm", outcome="too_large") >= 2


def test_unmappable_payload_is_422_and_dead_lettered(server: ApiServer) -> None:
    answers = {
        body: post(server, signed("jira", body, f"bad-{n}"))
        for n, body in enumerate([b'{"webhookEvent": "jira:issue_updated"}', b"not json at all"])
    }
    for answer in answers.values():
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"]
    assert "issue" in answers[b'{"webhookEvent": "jira:issue_updated"}'].json()["detail"]
    letters = server.cli.json("dead-letters")
    raws = {letter["raw"]: letter for letter in letters}
    for body, answer in answers.items():
        assert raws[body.decode()]["reason"] == answer.json()["detail"]
        assert raws[body.decode()]["source"] == "POST /hooks/jsm"
    text = server.client.get("/metrics").text
    assert metric(text, "slaclock_webhook_deliveries_total", source="jsm", outcome="rejected") >= 2


def test_a_source_without_secret_needs_an_admin_token(server: ApiServer) -> None:
    body = lifecycle("jira")[0].body
    plain = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": "open-1"}
    assert server.client.post("/hooks/open", content=body, headers=plain).status_code == 401
    customer = {**plain, "Authorization": f"Bearer {server.tokens['acme']}"}
    refused = server.client.post("/hooks/open", content=body, headers=customer)
    assert refused.status_code == 401
    assert "admin token" in refused.json()["detail"]
    signature_only = {**plain, **signed("jira", body, None).headers}
    assert (
        server.client.post("/hooks/open", content=body, headers=signature_only).status_code == 401
    )
    assert stored(server.cli.store, server.cli.config, "OPEN-NWS-2291") == []
    admin = {**plain, "Authorization": f"Bearer {server.tokens['admin']}"}
    taken = server.client.post("/hooks/open", content=body, headers=admin)
    assert taken.status_code == 202, taken.text
    assert taken.json()["delivery_id"] == "open-1"
    assert [t for t, _ in stored(server.cli.store, server.cli.config, "OPEN-NWS-2291")] == [
        "ticket.created"
    ]


def test_a_source_token_delivers_its_source_only_and_reads_nothing(server: ApiServer) -> None:
    """A relay's token (``token create --source``) is taken on its source's webhooks alone:
    403 on another source's and on every read route (issue 18 item 9)."""
    relay = server.cli.json("token", "create", "--source", "open", "--label", "relay")
    assert (relay["source"], relay["customer_id"], relay["admin"]) == ("open", None, False)
    other = server.cli.run("token", "create", "--source", "jsm").stdout.strip()
    listed = server.cli.run("token", "list").stdout
    assert "source open" in listed and "source jsm" in listed
    missing = server.cli.run("token", "create", "--source", "nosuch")
    assert missing.returncode == 2
    assert missing.stderr.endswith("--source: the configuration has no [sources.nosuch]\n")

    body = lifecycle("jira")[0].body
    plain = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": "relay-1"}
    wrong = server.client.post(
        "/hooks/open", content=body, headers={**plain, "Authorization": f"Bearer {other}"}
    )
    assert wrong.status_code == 403 and "may only deliver jsm" in wrong.json()["detail"]
    bearer = {"Authorization": f"Bearer {relay['token']}"}
    for path, params in [
        ("/api/me", {}),
        ("/api/tickets", {}),
        ("/api/tickets/OPEN-NWS-2291", {}),
        ("/api/tickets/OPEN-NWS-2291/explain", {}),
        ("/api/queue", {}),
        ("/api/reports/compliance", {"month": "2025-09"}),
        ("/api/reports/attainment", {}),
    ]:
        refused = server.client.get(path, params=params, headers=bearer)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["detail"].endswith("may only deliver webhooks of open")
    taken = server.client.post("/hooks/open", content=body, headers={**plain, **bearer})
    assert taken.status_code == 202, taken.text
    assert taken.json()["delivery_id"] == "relay-1"


def test_concurrent_deliveries_lose_no_transition(server: ApiServer) -> None:
    """Twelve tickets' lifecycles at once (each ticket's deliveries in order), and one
    ticket's deliveries all at once: every transition is stored."""
    bodies = [d.body for d in lifecycle("jira")]
    failures: list[str] = []

    def ticket(number: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for n, body in enumerate(bodies):
                own = body.replace(b"NWS-2291", f"CON-{number}".encode())
                d = signed("jira", own, f"con-{number}-{n}")
                answer = client.post("/hooks/jsm", content=d.body, headers=d.headers)
                if answer.status_code != 202:
                    failures.append(answer.text)

    threads = [threading.Thread(target=ticket, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for number in range(12):
        got = stored(server.cli.store, server.cli.config, f"CON-{number}")
        assert sorted(got) == sorted(expected("jira")), number

    # one ticket: its creation first, then every other delivery at the same moment (Jira
    # changes are deltas, so any arrival order of those must give the same transitions; the
    # creation goes first because a first sight is read as a change from a running status,
    # so a resume seen before anything else of its ticket has nothing to resume)
    first = signed("jira", bodies[0].replace(b"NWS-2291", b"SAME-1"), "same-0")
    answer = httpx.post(
        f"{server.url}/hooks/jsm", content=first.body, headers=first.headers, timeout=60
    )
    assert answer.status_code == 202
    bodies = bodies[1:]
    barrier = threading.Barrier(len(bodies))
    codes: list[int] = []

    def deliver(n: int, body: bytes) -> None:
        d = signed("jira", body.replace(b"NWS-2291", b"SAME-1"), f"same-{n + 1}")
        barrier.wait()
        codes.append(
            httpx.post(
                f"{server.url}/hooks/jsm", content=d.body, headers=d.headers, timeout=60
            ).status_code
        )

    threads = [threading.Thread(target=deliver, args=item) for item in enumerate(bodies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [202] * len(bodies)
    got = stored(server.cli.store, server.cli.config, "SAME-1")
    assert sorted(got) == sorted(expected("jira"))


def test_a_missing_secret_variable_stops_serve_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    for name in secret_env():
        monkeypatch.delenv(name, raising=False)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaclock",
            "--config",
            str(config),
            "--store",
            f"sqlite:///{tmp_path / 'store.db'}",
            "serve",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"sources.jsm.secret_env: environment variable {env_name('jira')} is not set" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_serve_takes_deliveries_under_the_policy_version_another_process_applied(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slaclock.config import parse_policy
    from slaclock.projections.store import TicketStore
    from slaclock.projections.verify import verify

    server = start(tmp_path, store_url, monkeypatch)
    try:
        deliveries = lifecycle("jira")
        assert [post(server, d).status_code for d in deliveries[:3]] == [202] * 3
        changed = tmp_path / "changed.toml"  # plan 'professional': P1 within 30m, not 3h
        changed.write_text(server.cli.config.read_text().replace('{ 1 = "3h"', '{ 1 = "30m"'))
        new = parse_policy(changed.read_text(), str(changed))
        applied = Cli(changed, store_url, tmp_path).json("policy", "status")
        assert applied["policy_version"] == new.version
        answers = [post(server, d) for d in deliveries[3:]]  # refused once, taken again
        assert [a.status_code for a in answers] == [202] * len(answers), [a.text for a in answers]
        assert sorted(stored(store_url, changed, TICKETS["jira"])) == sorted(expected("jira"))
    finally:
        server.stop()
    opened = TicketStore(store_url, new.policy)
    try:
        assert opened.policy_version() == new.version
        assert verify(opened).ok  # every row is of the new version
    finally:
        opened.close()
