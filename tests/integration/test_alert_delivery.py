"""Escalations delivered for real, on SQLite and PostgreSQL: a local receiver fails a third of
the requests (500, 429 + Retry-After, no answer until the sender's timeout), the delivering
process is killed with SIGKILL while a request is in flight and started again. Every due
escalation arrives at least once, under one id, with the same key on every retry and a
signature that verifies; nothing stays pending. And a Kafka notifier on the real broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from slaclock.projections import alert_outbox
from slaclock.projections.event_store import EventStore
from tests.alert_receiver import Receiver, every_third_fails, receiving, signature_holds
from tests.kafka_helpers import (
    KAFKA_BOOTSTRAP,
    create_topic,
    publish_file,
    read_topic,
    require_kafka,
    unique,
)

SECRET = "an-integration-secret"
CONFIG = """
priorities = [1, 2]
default_priority = 2
[calendars.always]
timezone = "UTC"
hours = { "mon-sun" = "00:00-24:00" }
[plans.p]
calendar = "always"
targets = { response = { "1" = "1h", "2" = "8h" } }
[[plans.p.escalations]]
level = 1
at = "50%"
notify = ["duty"]
[[plans.p.escalations]]
level = 2
at = "0"
priorities = [1]
notify = ["duty"]
[[contracts]]
customer = "acme"
plan = "p"
from = "2025-01-01"
monthly_fee = 100
"""
WEBHOOK = """
[notifiers.duty]
kind = "webhook"
url = "URL"
secret_env = "SLACLOCK_TEST_ALERT_SECRET"
timeout = 0.5
backoff = 0.2
max_backoff = 1
give_up_after = "5m"
"""
TICKETS = 9
LATE_ACKS = 3  # acknowledged between 50 % and breach, known only afterwards: level 2 withdrawn


def _events() -> list[dict]:
    events = [
        {"event_id": f"c{n}", "type": "ticket.created", "ticket_id": f"T{n}",
         "occurred_at": f"2025-03-03T08:{n:02d}:00Z", "customer_id": "acme", "priority": 1}
        for n in range(TICKETS)
    ]  # fmt: skip
    events.append({"event_id": "late", "type": "ticket.created", "ticket_id": "LAST",
                   "occurred_at": "2025-03-04T08:00:00Z", "customer_id": "acme"})  # fmt: skip
    return events


def _acks() -> list[dict]:
    return [
        {"event_id": f"a{n}", "type": "ticket.acknowledged", "ticket_id": f"T{n}",
         "occurred_at": f"2025-03-03T08:{n + 45:02d}:00Z"}
        for n in range(LATE_ACKS)
    ]  # fmt: skip


def _slaclock(tmp_path: Path, store: str, *argv: str, **popen) -> list[str]:
    return [sys.executable, "-m", "slaclock", "--config", str(tmp_path / "c.toml"),
            "--store", store, *argv]  # fmt: skip


def _run(tmp_path: Path, store: str, *argv: str) -> str:
    env = {**os.environ, "SLACLOCK_TEST_ALERT_SECRET": SECRET}
    done = subprocess.run(_slaclock(tmp_path, store, *argv), capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _ingest(tmp_path: Path, store: str, events: list[dict], name: str) -> None:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    _run(tmp_path, store, "ingest", str(path), "--clock", "event")


def _follow(tmp_path: Path, store: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SLACLOCK_TEST_ALERT_SECRET": SECRET}
    argv = _slaclock(tmp_path, store, "notify", "--follow", "--lease", "2", "--interval", "0.1")
    return subprocess.Popen(
        argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_every_escalation_arrives_through_failures_and_a_killed_sender(store_url, tmp_path):
    hanging = threading.Event()

    def fault(n: int) -> str:
        what = every_third_fails(n)
        if what == "hang":
            hanging.set()
        return what

    with receiving(fault, hang_seconds=0.5) as receiver:  # the sender's timeout
        text = CONFIG + WEBHOOK.replace("URL", receiver.url)
        (tmp_path / "c.toml").write_text(text)
        _ingest(tmp_path, store_url, _events(), "events.jsonl")
        _ingest(tmp_path, store_url, _acks(), "acks.jsonl")
        store = EventStore(store_url, cache_size=0)
        try:
            outbox = alert_outbox.listing(store)
            assert len(outbox) == 2 * TICKETS + LATE_ACKS  # 2 levels each, 3 withdrawn
            first = _follow(tmp_path, store_url)
            try:
                _wait(hanging.is_set)  # a request is in flight and unanswered: kill now
                first.send_signal(signal.SIGKILL)
            finally:
                first.wait(10)
            killed_in_flight = receiver.received[-1].headers["Idempotency-Key"]
            # Two processes deliver from now on: they never send one delivery at once.
            followers = [_follow(tmp_path, store_url) for _ in range(2)]
            try:
                _wait(lambda: alert_outbox.summary(store, time.time())["pending"] == 0)
            finally:
                for follower in followers:
                    follower.send_signal(signal.SIGTERM)
                done = [f.communicate(timeout=30) for f in followers]
            assert [f.returncode for f in followers] == [0, 0], done
            assert all(out.strip() for out, _ in done), done
            outs = [json.loads(out) for out, _ in done]
            assert all(out["delivered"] > 0 and out["pending"] == 0 for out in outs)
            _check(receiver, alert_outbox.listing(store), killed_in_flight)
        finally:
            store.close()


def _check(receiver: Receiver, outbox: list[alert_outbox.Delivery], killed: str) -> None:
    assert {d.status for d in outbox} == {"delivered"}
    # (the killed process's request ran out before its lease did, so none overlap)
    assert receiver.overlapping() == []
    expected = {d.alert_id for d in outbox}
    keys_by_alert: dict[tuple, set[str]] = defaultdict(set)
    attempts: dict[str, int] = defaultdict(int)
    for request in receiver.received:
        payload, key = request.payload, request.headers["Idempotency-Key"]
        assert key == payload["id"] and signature_holds(request, SECRET.encode())
        keys_by_alert[(payload["ticket_id"], payload["level"], payload["kind"])].add(key)
        attempts[key] += 1
    assert {r.headers["Idempotency-Key"] for r in receiver.delivered()} == expected
    assert all(len(keys) == 1 for keys in keys_by_alert.values())  # never under two ids
    assert len(keys_by_alert) == len(expected)
    assert attempts[killed] >= 2  # the request in flight when killed was sent again
    assert sum(n > 1 for n in attempts.values()) >= len(expected) // 4  # retries happened
    kinds = sorted(p["kind"] for p in (r.payload for r in receiver.delivered()))
    assert kinds.count("withdrawn") >= LATE_ACKS


def test_a_kafka_notifier_produces_keyed_by_ticket(tmp_path) -> None:
    require_kafka()
    topic = create_topic(unique("escalations"))
    notifier = f"""
[notifiers.duty]
kind = "kafka"
topic = "{topic}"
bootstrap_servers = "{KAFKA_BOOTSTRAP}"
timeout = 10
ticket_url = "https://desk.example/browse/{{ticket_id}}"
"""
    (tmp_path / "c.toml").write_text(CONFIG + notifier)
    store = f"sqlite:///{tmp_path / 'k.db'}"
    _ingest(tmp_path, store, _events()[:3] + _events()[-1:], "events.jsonl")
    counts = json.loads(_run(tmp_path, store, "notify"))
    assert counts == {"delivered": 6, "retried": 0, "failed": 0, "pending": 0}
    records = read_topic(topic, expect=6)
    assert len(records) == 6
    for record in records:
        payload = json.loads(record.value)
        assert record.key.decode() == payload["ticket_id"]
        assert dict(record.headers)["Idempotency-Key"].decode() == payload["id"]
        assert payload["ticket_url"] == f"https://desk.example/browse/{payload['ticket_id']}"
    listed = json.loads(_run(tmp_path, store, "alerts", "deliveries", "--json"))
    assert {d["status"] for d in listed} == {"delivered"} and len(listed) == 6


def test_consume_writes_and_delivers_the_escalations_it_raises(tmp_path) -> None:
    require_kafka()
    topic = create_topic(unique("esc-events"))
    with receiving() as receiver:
        (tmp_path / "c.toml").write_text(CONFIG + WEBHOOK.replace("URL", receiver.url))
        events = tmp_path / "events.jsonl"
        events.write_text("".join(json.dumps(e) + "\n" for e in _events()[:3] + _events()[-1:]))
        publish_file(events, topic, "json")
        store = f"sqlite:///{tmp_path / 'c.db'}"
        out = _run(tmp_path, store, "consume", "--bootstrap-servers", KAFKA_BOOTSTRAP,
                   "--topic", topic, "--group", unique("g"), "--clock", "event",
                   "--exit-when-idle", "1", "--json")  # fmt: skip
        assert json.loads(out)["accepted"] == 4
        keys = {r.headers["Idempotency-Key"] for r in receiver.delivered()}
        assert len(keys) == 6  # 3 tickets, 2 levels: sent before consume exited
        listed = json.loads(_run(tmp_path, store, "alerts", "deliveries", "--json"))
        assert {d["alert_id"] for d in listed if d["status"] == "delivered"} == keys


def test_serve_hands_webhook_escalations_to_the_outbox_and_delivers_them(tmp_path, monkeypatch):
    """``/hooks/SOURCE`` writes escalations to the outbox (before this, its alerts were marked
    raised with no sink); ``serve`` delivers them and ``/metrics`` counts them."""
    from tests.conftest import Cli
    from tests.e2e.test_api_harness import ApiServer
    from tests.webhook_helpers import lifecycle, metric, secret_env, write_config

    for name, value in {**secret_env(), "SLACLOCK_TEST_ALERT_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    with receiving() as receiver:
        # NWS-2291 (initech, professional, P2: 6 h response) is acknowledged after 35 min.
        extra = """
[[plans.professional.escalations]]
level = 1
at = "5%"
notify = ["duty"]
""" + WEBHOOK.replace("URL", receiver.url)
        cli = Cli(write_config(tmp_path, extra=extra), f"sqlite:///{tmp_path / 's.db'}", tmp_path)
        server = ApiServer(cli, {"admin": cli.run("token", "create", "--admin").stdout.strip()})
        try:
            for delivery in lifecycle("jira"):
                answer = server.client.post(
                    f"/hooks/{delivery.source}", content=delivery.body, headers=delivery.headers
                )
                assert answer.status_code == 202, answer.text
            _wait(lambda: receiver.delivered(), timeout=30)
            got = [r.payload for r in receiver.delivered()]
            assert [(p["ticket_id"], p["level"], p["kind"]) for p in got] == [
                ("NWS-2291", 1, "raised")
            ]
            _wait(lambda: 'status="delivered"} 1.0' in server.client.get("/metrics").text)
            text = server.client.get("/metrics").text
            assert metric(text, "slaclock_alert_deliveries", status="pending") == 0
        finally:
            server.stop()


def test_a_refused_delivery_fails_at_once_is_listed_and_retried_by_command(tmp_path) -> None:
    answers = iter(["404"] * 2)

    def fault(n: int) -> str:
        return next(answers, "ok")

    with receiving(fault) as receiver:
        receiver.statuses["404"] = 404
        (tmp_path / "c.toml").write_text(CONFIG + WEBHOOK.replace("URL", receiver.url))
        store = f"sqlite:///{tmp_path / 'r.db'}"
        _ingest(tmp_path, store, _events()[:1] + _events()[-1:], "events.jsonl")
        assert json.loads(_run(tmp_path, store, "notify")) == {
            "delivered": 0, "retried": 0, "failed": 2, "pending": 0
        }  # fmt: skip
        failed = json.loads(_run(tmp_path, store, "alerts", "deliveries", "--failed", "--json"))
        assert [(d["attempts"], d["last_error"]) for d in failed] == [(1, "HTTP 404 Not Found")] * 2
        one = failed[0]["id"]
        assert json.loads(_run(tmp_path, store, "alerts", "retry", one)) == {"retried": 1}
        assert json.loads(_run(tmp_path, store, "notify"))["delivered"] == 1
        assert json.loads(_run(tmp_path, store, "alerts", "retry")) == {"retried": 1}
        assert json.loads(_run(tmp_path, store, "notify"))["delivered"] == 1
        keys = [r.headers["Idempotency-Key"] for r in receiver.received]
        assert sorted(keys) == sorted(d["alert_id"] for d in failed for _ in range(2))
