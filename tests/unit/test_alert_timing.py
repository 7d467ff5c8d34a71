"""When time-driven alerts fall due live and how fast their deliveries are looked at: the
wall-clock watermark, the consumer's tick schedule, the store's next alert instant, and the
wake-up of the delivery thread. No timed assertions: instants are passed in."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from slaclock.config import read_policy
from slaclock.consumers.alert_delivery import Deliverer
from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.ingest_records import _iso
from slaclock.consumers.notifiers import open_notifiers
from slaclock.consumers.sources import read_events
from slaclock.consumers.tick_schedule import TickSchedule
from slaclock.domain.alerts import BREACH, alerts_due, falls_due_at, wall_watermark
from slaclock.domain.clocks import ClockSnapshot, TicketSnapshot
from slaclock.projections import alert_outbox
from slaclock.projections.store import TicketStore

S = 1_741_000_000  # an instant in whole seconds


@given(st.integers(0, 2**40), st.floats(0, 2**40, allow_nan=False))
def test_an_alert_falls_due_exactly_when_the_wall_watermark_passes_it(at: int, now: float) -> None:
    assert (at < wall_watermark(now)) == (now >= falls_due_at(at))


def _snapshot(breach_at: int) -> TicketSnapshot:
    clock = ClockSnapshot("response", 1, target_seconds=3600, deadline=breach_at,
                          breach_at=breach_at, running_since=breach_at - 3600)  # fmt: skip
    return TicketSnapshot("T", "acme", None, 1, breach_at - 3600, breach_at - 3600,
                          {"response": clock})  # fmt: skip


def test_a_breach_waits_for_its_second_to_end_and_not_longer() -> None:
    """A stop stamped within the deadline's second (floored to it) meets the target, so the
    breach is raised when that second is over: at S + 1, not before and not a second later."""
    snapshot = _snapshot(S)
    assert alerts_due(snapshot, wall_watermark(S + 0.999)) == set()
    raised = alerts_due(snapshot, wall_watermark(falls_due_at(S)))
    assert [(a.kind, a.at) for a in raised] == [(BREACH, S)]


def test_the_tick_fires_when_the_next_alert_falls_due_or_the_period_ends() -> None:
    ticks = TickSchedule(every=5.0, last=100.0)
    assert ticks.stale and not ticks.due(101.0, S)
    ticks.learn(S)  # the store's next alert: at S, due at S + 1
    assert not ticks.stale
    assert not ticks.due(101.0, S + 0.5)
    assert ticks.due(101.0, S + 1.0)  # long before the period is over
    assert ticks.due(105.0, S)  # the period is over
    assert ticks.due(101.0, S, backlog=True)  # the last tick left due tickets
    ticks.ticked(101.0)
    assert ticks.stale and ticks.next_due is None
    assert not ticks.due(102.0, S + 10)  # nothing known: wait for the period
    ticks.learn(None)
    assert not ticks.due(105.9, S + 10) and ticks.due(106.0, S + 10)
    ticks.learn(S)
    ticks.forget()  # the store could not say: by the period only
    assert ticks.stale and not ticks.due(102.0, S + 10)


def test_a_poll_waits_no_longer_than_until_the_next_alert_falls_due() -> None:
    ticks = TickSchedule(every=5.0, last=0.0)
    assert ticks.poll_timeout_ms(S, 1000) == 1000  # nothing known
    ticks.learn(S)
    assert ticks.poll_timeout_ms(S + 0.25, 1000) == 750
    assert ticks.poll_timeout_ms(S - 10, 1000) == 1000
    assert ticks.poll_timeout_ms(S + 3, 1000) == 0  # already due


CONFIG = """
priorities = [1, 2]
default_priority = 2
[calendars.always]
timezone = "UTC"
hours = { "mon-sun" = "00:00-24:00" }
[plans.p]
calendar = "always"
targets = { response = { "1" = "4h", "2" = "8h" } }
[[plans.p.escalations]]
level = 1
at = "50%"
notify = ["log"]
[[plans.p.escalations]]
level = 2
at = "0"
notify = ["log"]
[[contracts]]
customer = "acme"
plan = "p"
from = "2025-01-01"
monthly_fee = 100
[notifiers.log]
kind = "file"
path = "LOG"
"""


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def _setup(tmp_path: Path):
    (tmp_path / "c.toml").write_text(CONFIG.replace("LOG", str(tmp_path / "log.jsonl")))
    loaded = read_policy(tmp_path / "c.toml")
    return loaded, TicketStore(f"sqlite:///{tmp_path / 's.db'}", loaded.policy)


def _ingest(ingestor: Ingestor, tmp_path: Path, events: list[dict], name: str) -> None:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    ingestor.run(read_events(str(path)))


def _created(ticket: str, when: str, priority: int) -> dict:
    return {"event_id": f"c-{ticket}", "type": "ticket.created", "ticket_id": ticket,
            "occurred_at": when, "customer_id": "acme", "priority": priority}  # fmt: skip


def test_the_store_names_its_next_alert_and_a_batch_with_deliveries_wakes(tmp_path) -> None:
    loaded, store = _setup(tmp_path)
    woken: list[int] = []
    ingestor = Ingestor(store, loaded.policy, DeadLetterList(), clock="event",
                        on_deliveries=lambda: woken.append(1))  # fmt: skip
    try:
        _ingest(ingestor, tmp_path, [_created("T1", "2025-03-03T08:00:00Z", 1)], "a.jsonl")
        # Watermark 08:00: T1's level 1 (50 % of 4 h) at 10:00 is next; nothing was due.
        assert store.watermark() == _epoch("2025-03-03T08:00:00")
        assert store.next_alert_at(store.watermark() or 0) == _epoch("2025-03-03T10:00:00")
        assert woken == []
        _ingest(ingestor, tmp_path, [_created("T2", "2025-03-03T11:00:00Z", 2)], "b.jsonl")
        # Watermark 11:00 raised T1's level 1 (one delivery row): the batch woke the thread.
        assert woken == [1] and len(alert_outbox.listing(store)) == 1
        # Each clock row names its next alert only: T1's is its 75 % warning at 11:00 (due
        # once the watermark is past it), T2's (8 h from 11:00) its level 1 at 15:00.
        looks = ["11:00:00", "11:00:01", "15:00:00", "15:00:01"]
        after = [store.next_alert_at(_epoch(f"2025-03-03T{t}")) for t in looks]
        expected = [_epoch("2025-03-03T11:00:00"), *[_epoch("2025-03-03T15:00:00")] * 2, None]
        assert after == expected
    finally:
        store.close()


def test_a_woken_delivery_thread_sends_at_once_without_waiting_for_its_interval(
    tmp_path,
) -> None:
    """The thread looks every hour here: the row written after its first look is sent
    only because the writer woke it."""
    loaded, store = _setup(tmp_path)
    deliverer = Deliverer(store, open_notifiers(loaded.notifiers))
    looked, stop, wake = threading.Event(), threading.Event(), threading.Event()
    look = deliverer.run_once

    def counted_look() -> int:
        claimed = look()
        looked.set()
        return claimed

    deliverer.run_once = counted_look  # type: ignore[method-assign]
    thread = threading.Thread(target=deliverer.follow, args=(stop, 3600.0, wake))
    thread.start()
    try:
        assert looked.wait(30)  # the first look found nothing
        looked.clear()
        row = alert_outbox.delivery_row("a1", "log", "T1", '{"id": "a1"}', 0.0)
        with store.write() as cursor:
            cursor.execute(store.dialect.sql(alert_outbox.INSERT_DELIVERY), row)
        wake.set()
        assert looked.wait(30)
        assert deliverer.stats.delivered == 1
        lines = (tmp_path / "log.jsonl").read_text().splitlines()
        assert [json.loads(line) for line in lines] == [{"id": "a1"}]
    finally:
        stop.set()
        wake.set()
        thread.join(30)
        deliverer.close()
        store.close()
    assert not thread.is_alive()


@given(st.integers(0, 253_402_300_799))  # up to 9999-12-31T23:59:59Z
def test_payload_instants_read_as_datetime_writes_them(epoch: int) -> None:
    assert _iso(epoch) == datetime.fromtimestamp(epoch, UTC).isoformat()


def test_a_tick_that_changes_nothing_stores_nothing_but_names_its_watermark(tmp_path) -> None:
    """The consumer asks the store for the next alert after the last tick's watermark, not
    the stored one: a tick that raised nothing (the due ticket is another consumer's)
    stores nothing, and asking after the stored watermark would name the same instant,
    already due, again and again."""
    loaded, store = _setup(tmp_path)
    ingestor = Ingestor(store, loaded.policy, DeadLetterList(), clock="wall")
    try:
        before = wall_watermark(time.time())
        ingestor.process([])
        assert store.watermark() is None
        assert ingestor.watermark is not None and ingestor.watermark >= before
    finally:
        store.close()
