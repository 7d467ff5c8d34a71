"""``slaclock serve --publish-topic``: webhook deliveries become events on the real broker,
acknowledged before the 202; the store keeps only the source's state, no events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.e2e.test_api_harness import ApiServer
from tests.integration.test_webhooks import post, start
from tests.kafka_helpers import KAFKA_BOOTSTRAP, create_topic, read_topic, require_kafka, unique
from tests.webhook_helpers import TICKETS, expected, lifecycle, signed, stored


def hostile_jira(body: bytes) -> list[tuple[bytes, str]]:
    """A Jira status change made hostile: a list, a lone surrogate as the new status."""
    data = json.loads(body)
    assert data["changelog"]["items"][0]["field"] == "status"
    found = []
    for value, reason in [
        (["Done"], "changelog.items.0.toString: expected a status, got a list"),
        ("Done\ud800", "changelog.items.0.toString: not valid Unicode: lone surrogate U+D800"),
    ]:
        data["changelog"]["items"][0]["toString"] = value
        found.append((json.dumps(data).encode(), reason))
    return found


def test_published_events_arrive_on_the_topic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_kafka()
    topic = create_topic(unique("hooks-events"))
    server: ApiServer = start(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        monkeypatch,
        "--publish-topic",
        topic,
        "--bootstrap-servers",
        KAFKA_BOOTSTRAP,
    )
    try:
        for kind in ("jira", "zammad"):
            answers = [post(server, delivery) for delivery in lifecycle(kind)]
            assert [a.status_code for a in answers] == [202] * len(answers), [
                a.text for a in answers
            ]
        # every 202 came after the broker's acknowledgement: the events are there now
        records = read_topic(topic, expect=12, timeout=15)
        events = {}
        for record in records:
            event = json.loads(record.value)
            assert record.key == event["ticket_id"].encode()
            events[event["event_id"]] = event
        for kind in ("jira", "zammad"):
            mine = [e for e in events.values() if e["ticket_id"] == TICKETS[kind]]
            got = sorted((e["type"], e["occurred_at"]) for e in mine)
            assert [t for t, _ in got] == sorted(t for t, _ in expected(kind)), kind
            # published, not stored
            assert stored(server.cli.store, server.cli.config, TICKETS[kind]) == []
        # hostile bodies are 422 one by one (not 503: the group is not failed), the next is taken
        for number, (body, reason) in enumerate(hostile_jira(lifecycle("jira")[3].body)):
            answer = post(server, signed("jira", body, f"hostile-{number}"))
            assert answer.status_code == 422, answer.text
            assert answer.json()["detail"].startswith(reason)
        assert post(server, lifecycle("jira")[0]).status_code == 202
        text = server.client.get("/metrics").text
        assert 'slaclock_webhook_events_total{outcome="emitted",source="jsm"}' in text or (
            'slaclock_webhook_events_total{source="jsm",outcome="emitted"}' in text
        )
    finally:
        server.stop()


def test_publishing_goes_on_after_another_process_changed_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_kafka()
    topic = create_topic(unique("hooks-follow"))
    server: ApiServer = start(
        tmp_path, f"sqlite:///{tmp_path / 'store.db'}", monkeypatch,
        "--publish-topic", topic, "--bootstrap-servers", KAFKA_BOOTSTRAP,
    )  # fmt: skip
    try:
        jira, zammad = lifecycle("jira"), lifecycle("zammad")
        assert post(server, jira[0]).status_code == 202
        changed = tmp_path / "changed.toml"  # another process applies a change
        text = server.cli.config.read_text()
        changed.write_text(text.replace('{ 1 = "3h", 2 = "6h"', '{ 1 = "30m", 2 = "6h"'))
        assert changed.read_text() != text
        Cli(changed, server.cli.store, tmp_path).json("policy", "status")
        answers = [post(server, delivery) for delivery in [*jira[1:], *zammad]]
        assert [a.status_code for a in answers] == [202] * len(answers), [a.text for a in answers]
        assert len(read_topic(topic, expect=12, timeout=15)) >= 12
    finally:
        server.stop()
