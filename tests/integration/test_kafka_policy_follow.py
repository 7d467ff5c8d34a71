"""A running ``consume`` follows a configuration change another process applied: batches it
computed under the old policy version are not stored once the read model switched (nothing
of two versions mixes), and it goes on under the store's new version (real broker)."""

from __future__ import annotations

import json
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slaclock.config import parse_policy
from slaclock.projections.store import TicketStore
from slaclock.projections.verify import verify
from tests.integration.test_recompute_readers import FASTER_P1, LATE_TICKET
from tests.kafka_helpers import (
    CONFIG,
    EVENTS,
    create_topic,
    finish,
    require_kafka,
    send_all,
    slaclock,
    sqlite_store,
    start_consumer,
    tracked_offsets,
    unique,
)

pytestmark = pytest.mark.kafka


@pytest.fixture(autouse=True)
def _broker() -> None:
    require_kafka()


def _send(events: list[dict], topic: str) -> int:
    return send_all(((e["ticket_id"].encode(), json.dumps(e).encode()) for e in events), topic)


def _wait_stored(store: str, topic: str, offset: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (tracked_offsets(store, topic, {0})[0] or 0) < offset:
        assert time.monotonic() < deadline, f"offset {offset} not stored within {timeout}s"
        time.sleep(0.1)


def test_consume_goes_on_under_the_policy_version_another_process_applied(
    tmp_path: Path,
) -> None:
    events = [json.loads(line) for line in EVENTS.read_text().splitlines() if line.strip()]
    changed = tmp_path / "changed.toml"
    changed.write_text(CONFIG.read_text().replace(*FASTER_P1))
    new = parse_policy(changed.read_text(), str(changed))
    topic = create_topic(unique("policy-follow"))
    store = sqlite_store(tmp_path)
    log = tmp_path / "consumer.log"
    proc = start_consumer(store, topic, unique("g"), "--clock", "event", log=log)
    try:
        sent = _send(events, topic)
        _wait_stored(store, topic, sent)
        status = slaclock(store, "policy", "status", "--json", config=changed)  # applies V2
        assert status["policy_version"] == new.version
        sent += _send(LATE_TICKET, topic)
        _wait_stored(store, topic, sent)
        proc.send_signal(signal.SIGTERM)
        counts = finish(proc, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert f"the store moved to policy version {new.version}" in text, text[-2000:]
    assert counts["read"] == sent  # the batch refused under the old version was read again
    opened = TicketStore(store, new.policy)
    try:
        assert opened.policy_version() == new.version
        assert verify(opened).ok  # every row, the late ticket's too, is of the new version
        late = "SELECT deadline FROM {p}sla_clocks WHERE ticket_id = 'T-3999' AND metric = ?"
        half_an_hour = datetime(2025, 9, 10, 10, 30, tzinfo=timezone(timedelta(hours=2)))
        assert opened.query(late, ["response"])[0]["deadline"] == half_an_hour.timestamp()
    finally:
        opened.close()
