"""Rules 1-8 of source translation on small hand-written changes: first sight, status
transitions, first-only acknowledgement and intervention, reprioritisation, the order of one
change's events, late snapshots, deterministic ids."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from slaclock.consumers.events import Rejected
from slaclock.consumers.source_config import SourceConfig, parse_source
from slaclock.consumers.source_intake import Payload, Translator
from slaclock.consumers.source_rules import MemoryKeeper, event_id

ZAMMAD = {
    "kind": "zammad",
    "customer": "organization.name",
    "priority": "priority.name",
    "priorities": {"3 high": 1, "2 normal": 2, "1 low": 3},
    "paused_statuses": ["waiting"],
    "resolved_statuses": ["closed"],
    "acknowledge_statuses": ["assigned"],
    "intervention_statuses": ["working"],
}


def zammad(**overrides: Any) -> SourceConfig:
    return parse_source("zam", {**ZAMMAD, **overrides}, [1, 2, 3])


def snapshot(state: str, at: str, priority: str = "2 normal", **extra: Any) -> bytes:
    ticket = {
        "number": "7",
        "organization": {"name": "acme"},
        "priority": {"name": priority},
        "state": state,
        "created_at": "2025-11-03T08:00:00Z",
        "updated_at": at,
        "customer_id": 58,
    }
    return json.dumps({"ticket": ticket, **extra}).encode()


def run(translator: Translator, *bodies: bytes) -> list[tuple[str, str]]:
    out = []
    for body in bodies:
        out += [
            (e["type"], e["occurred_at"][:16]) for e in translator.translate(Payload(body, "t"))
        ]
    return out


def test_first_sight_creates_then_applies_the_change_from_a_running_status() -> None:
    events = run(Translator(zammad()), snapshot("waiting", "2025-11-03T09:00:00Z"))
    assert events == [("ticket.created", "2025-11-03T08:00"), ("ticket.paused", "2025-11-03T09:00")]


def test_status_transitions() -> None:
    translator = Translator(zammad())
    events = run(
        translator,
        snapshot("new", "2025-11-03T08:00:00Z"),
        snapshot("waiting", "2025-11-03T09:00:00Z"),
        snapshot("waiting", "2025-11-03T09:30:00Z"),  # paused -> paused: nothing
        snapshot("open", "2025-11-03T10:00:00Z"),
        snapshot("closed", "2025-11-03T11:00:00Z"),
        snapshot("open", "2025-11-03T12:00:00Z"),
        snapshot("closed", "2025-11-03T13:00:00Z"),
        snapshot("waiting", "2025-11-03T14:00:00Z"),
    )
    assert [t for t, _ in events] == [
        "ticket.created",
        "ticket.paused",
        "ticket.resumed",
        "ticket.resolved",
        "ticket.reopened",
        "ticket.resolved",
        "ticket.reopened",  # resolved -> paused: reopened, then paused
        "ticket.paused",
    ]


def test_acknowledge_and_intervention_only_the_first_time() -> None:
    translator = Translator(zammad())
    events = run(
        translator,
        snapshot("new", "2025-11-03T08:00:00Z"),
        snapshot("assigned", "2025-11-03T08:10:00Z"),
        snapshot("working", "2025-11-03T08:20:00Z"),
        snapshot("assigned", "2025-11-03T08:30:00Z"),
        snapshot("working", "2025-11-03T08:40:00Z"),
    )
    assert [t for t, _ in events] == [
        "ticket.created",
        "ticket.acknowledged",
        "ticket.intervention_started",
    ]


def test_a_public_agent_article_acknowledges_once_a_customer_article_never() -> None:
    agent = {"internal": False, "sender": "Agent", "created_by_id": 14, "id": 1}
    customer = {"internal": False, "sender": "Customer", "created_by_id": 58, "id": 2}
    internal = {"internal": True, "sender": "Agent", "created_by_id": 14, "id": 3}
    translator = Translator(zammad())
    events = run(
        translator,
        snapshot("new", "2025-11-03T08:00:00Z", article=customer),
        snapshot("new", "2025-11-03T08:05:00Z", article=internal),
        snapshot("new", "2025-11-03T08:10:00Z", article=agent),
        snapshot("new", "2025-11-03T08:20:00Z", article={**agent, "id": 4}),
    )
    assert events == [
        ("ticket.created", "2025-11-03T08:00"),
        ("ticket.acknowledged", "2025-11-03T08:10"),
    ]


def test_one_change_emits_in_rule_6_order() -> None:
    translator = Translator(zammad())
    run(translator, snapshot("closed", "2025-11-03T08:00:00Z"))
    events = run(translator, snapshot("working", "2025-11-03T09:00:00Z", priority="3 high"))
    assert [t for t, _ in events] == [
        "ticket.reopened",
        "ticket.reprioritised",
        "ticket.intervention_started",
    ]
    translator = Translator(zammad(intervention_statuses=[], acknowledge_statuses=["waiting2"]))
    run(translator, snapshot("new", "2025-11-03T08:00:00Z"))
    agent = {"internal": False, "sender": "Agent", "created_by_id": 14}
    events = run(translator, snapshot("closed", "2025-11-03T09:00:00Z", "1 low", article=agent))
    assert [t for t, _ in events] == [
        "ticket.reprioritised",
        "ticket.acknowledged",
        "ticket.resolved",
    ]


def test_a_null_priority_means_the_default_and_no_reprioritisation() -> None:
    translator = Translator(zammad())
    first = json.loads(snapshot("new", "2025-11-03T08:00:00Z"))
    first["ticket"]["priority"] = None
    created = translator.translate(Payload(json.dumps(first).encode(), "t"))
    assert created[0]["type"] == "ticket.created" and "priority" not in created[0]
    later = json.loads(snapshot("new", "2025-11-03T09:00:00Z"))
    del later["ticket"]["priority"]
    assert translator.translate(Payload(json.dumps(later).encode(), "t")) == []
    events = translator.translate(Payload(snapshot("new", "2025-11-03T10:00:00Z", "3 high"), "t"))
    assert [(e["type"], e["priority"]) for e in events] == [("ticket.reprioritised", 1)]


def test_a_late_snapshot_is_compared_with_the_one_before_and_the_next_compares_again() -> None:
    """Delivered 09:00 (open), 11:00 (open), then the late 10:00 (waiting): the late one
    reveals a pause, and 11:00 compared with it again reveals the resumption."""
    translator = Translator(zammad())
    run(
        translator,
        snapshot("new", "2025-11-03T08:00:00Z"),
        snapshot("open", "2025-11-03T09:00:00Z"),
    )
    assert run(translator, snapshot("open", "2025-11-03T11:00:00Z")) == []
    late = translator.translate(Payload(snapshot("waiting", "2025-11-03T10:00:00Z"), "late"))
    assert [(e["type"], e["occurred_at"][:16]) for e in late] == [
        ("ticket.paused", "2025-11-03T10:00"),
        ("ticket.resumed", "2025-11-03T11:00"),
    ]
    assert "re-compared after a late delivery" in late[1]["source"]


def test_a_late_snapshot_withdraws_nothing_and_repeats_known_ids() -> None:
    """09:00 paused was emitted; a late 08:30 that is already paused adds the pause at 08:30
    and the 09:00 snapshot compared again emits nothing new."""
    translator = Translator(zammad())
    first = translator.translate(Payload(snapshot("new", "2025-11-03T08:00:00Z"), "a"))
    paused = translator.translate(Payload(snapshot("waiting", "2025-11-03T09:00:00Z"), "b"))
    late = translator.translate(Payload(snapshot("waiting", "2025-11-03T08:30:00Z"), "c"))
    assert [e["type"] for e in first] == ["ticket.created"]
    assert [(e["type"], e["occurred_at"][:16]) for e in late] == [
        ("ticket.paused", "2025-11-03T08:30")
    ]
    assert paused[0]["event_id"] not in {e["event_id"] for e in late}


def test_a_redelivered_payload_emits_the_same_ids_again() -> None:
    keeper = MemoryKeeper()
    translator = Translator(zammad(), keeper)
    bodies = [
        snapshot("new", "2025-11-03T08:00:00Z"),
        snapshot("assigned", "2025-11-03T09:00:00Z"),
        snapshot("waiting", "2025-11-03T10:00:00Z"),
    ]
    first = [translator.translate(Payload(b, "x")) for b in bodies]
    again = [translator.translate(Payload(b, "x")) for b in bodies]
    assert [[e["event_id"] for e in events] for events in again] == [
        [e["event_id"] for e in events] for events in first
    ]


def test_event_ids_are_the_sha256_of_ticket_change_and_type() -> None:
    digest = hashlib.sha256(b"NWS-1\n10234\nticket.paused").hexdigest()[:40]
    assert event_id("jsm", "NWS-1", "10234", "ticket.paused") == f"jsm:{digest}"
    body = snapshot("new", "2025-11-03T08:00:00Z")
    canonical = json.dumps(
        json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    change = hashlib.sha256(canonical.encode()).hexdigest()
    created = Translator(zammad()).translate(Payload(body, "x"))[0]
    assert created["event_id"] == event_id("zam", "7", change, "ticket.created")


def test_tickets_created_before_since_are_ignored() -> None:
    translator = Translator(zammad(since="2025-11-04"))
    assert translator.translate(Payload(snapshot("waiting", "2025-11-05T09:00:00Z"), "x")) == []
    translator = Translator(zammad(since="2025-11-03"))
    assert translator.translate(Payload(snapshot("new", "2025-11-05T09:00:00Z"), "x")) != []


def test_an_ignored_ticket_is_not_kept_so_every_later_body_is_a_first_sight_again() -> None:
    translator = Translator(zammad(since="2025-11-04"))
    bodies = [snapshot("new", "2025-11-05T09:00:00Z"), snapshot("waiting", "2025-11-05T10:00:00Z")]
    assert [translator.translate(Payload(body, "x")) for body in bodies] == [[], []]
    assert translator.keeper.load("7") is None
    without = json.loads(bodies[1])
    del without["ticket"]["created_at"]  # a first sight again: the creation time is needed
    with pytest.raises(Rejected) as caught:
        translator.translate(Payload(json.dumps(without).encode(), "x"))
    assert caught.value.reason == "ticket.created_at: creation time missing"


def test_ticket_prefix_and_path_overrides() -> None:
    config = zammad(ticket_prefix="Z-", id="id", status="state_name", updated="changed")
    body = json.loads(snapshot("x", "2025-11-03T08:00:00Z"))
    body["ticket"] |= {"id": 4187, "state_name": "waiting", "changed": "2025-11-03T12:00:00+01:00"}
    events = Translator(config).translate(Payload(json.dumps(body).encode(), "x"))
    assert [(e["ticket_id"], e["type"], e["occurred_at"]) for e in events] == [
        ("Z-4187", "ticket.created", "2025-11-03T08:00:00+00:00"),
        ("Z-4187", "ticket.paused", "2025-11-03T12:00:00+01:00"),
    ]


def test_a_late_earlier_acknowledgement_is_still_emitted_a_later_one_never() -> None:
    translator = Translator(zammad())
    run(translator, snapshot("new", "2025-11-03T08:00:00Z"))
    assert run(translator, snapshot("assigned", "2025-11-03T10:00:00Z")) == [
        ("ticket.acknowledged", "2025-11-03T10:00")
    ]
    late = run(translator, snapshot("assigned", "2025-11-03T09:00:00Z"))
    assert late == [("ticket.acknowledged", "2025-11-03T09:00")]
    again = run(translator, snapshot("new", "2025-11-03T11:00:00Z"))
    assert run(translator, snapshot("assigned", "2025-11-03T12:00:00Z")) == [] and again == []
