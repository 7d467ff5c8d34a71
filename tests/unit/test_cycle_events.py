"""The reply and assignment events (docs/events.md): validation naming ``group``, Avro
schema version 4 (and older records still read), and stored facts with and without a group."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eventsourcing.persistence import Transcoder

from slaclock.consumers.avro import schema_by_id, to_record
from slaclock.consumers.events import Rejected, to_fact
from slaclock.consumers.kafka_wire import WireDecoder, encode_avro, encode_record
from slaclock.domain.clocks import evaluate
from slaclock.projections.transcodings import FactAsDict
from tests.helpers import at, calendar, contract, fact, plan, policy

ALWAYS = calendar("always")
POLICY = policy(contract("acme", plan("p", ALWAYS, {"response": {1: 1, 2: 4, 3: 8}})))


def event(type_: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "type": f"ticket.{type_}",
        "ticket_id": "T-1",
        "occurred_at": "2025-09-01T10:00:00+02:00",
        **fields,
    }


@pytest.mark.parametrize("kind", ["customer_replied", "agent_replied"])
def test_reply_events_are_accepted_without_extra_fields(kind: str) -> None:
    ticket_id, accepted = to_fact(event(kind), POLICY)
    assert ticket_id == "T-1" and accepted.type == f"ticket.{kind}" and accepted.group is None


def test_an_assignment_keeps_its_group_and_a_creation_may_carry_one() -> None:
    _, assigned = to_fact(event("assigned", group="L1"), POLICY)
    assert assigned.group == "L1"
    _, created = to_fact(event("created", customer_id="acme", group="L2"), POLICY)
    assert created.group == "L2"
    _, reply = to_fact(event("agent_replied", group="L2"), POLICY)
    assert reply.group is None  # only a creation and an assignment hand a ticket over


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "group: required on ticket.assigned"),
        ({"group": None}, "group: required on ticket.assigned"),
        ({"group": ""}, "group: String should have at least 1 character"),
        ({"group": 17}, "group: Input should be a valid string, got 17"),
        ({"group": "x" * 129}, "group: String should have at most 128 characters"),
    ],
)
def test_a_bad_group_is_rejected_naming_it(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        to_fact(event("assigned", **fields), POLICY)
    assert caught.value.reason == reason


def test_an_agent_reply_stops_the_response_clock_like_an_acknowledgement() -> None:
    facts = [
        fact(0, "created", "2025-09-01T10:00:00+00:00", customer="acme", priority=2),
        fact(1, "customer_replied", "2025-09-01T10:30:00+00:00"),
        fact(2, "agent_replied", "2025-09-01T11:00:00+00:00"),
    ]
    snapshot = evaluate("T", facts, POLICY)
    assert snapshot is not None
    view = snapshot.clocks["response"].view(at("2025-09-02T00:00:00+00:00"))
    assert view.status == "met" and view.stopped_at == at("2025-09-01T11:00:00+00:00")


@pytest.mark.parametrize(
    "data",
    [
        event("assigned", group="L1"),
        event("customer_replied"),
        event("agent_replied", actor="ann"),
        event("created", customer_id="acme", priority=1, group="L1"),
    ],
)
def test_the_new_events_travel_in_avro_version_4(data: dict[str, Any]) -> None:
    value = encode_avro(data)
    assert value[:5] == b"\x00\x00\x00\x00\x04"
    raw = WireDecoder().decode(value, "t/0/0")
    assert raw.data is not None
    _, decoded = to_fact(raw.data, POLICY)
    _, direct = to_fact(data, POLICY)
    assert decoded == direct


def test_a_version_3_creation_still_reads_with_no_group() -> None:
    created = event("created", customer_id="acme", priority=1)
    value = encode_record(schema_by_id(3), 3, to_record(created))
    raw = WireDecoder().decode(value, "t/0/0")
    assert raw.data is not None and "group" not in raw.data
    _, decoded = to_fact(raw.data, POLICY)
    assert decoded.group is None and decoded.customer_id == "acme"


def _transcoder() -> Transcoder:
    from slaclock.projections.transcodings import TicketTranscoder

    transcoder = TicketTranscoder()
    transcoder.register(FactAsDict())
    return transcoder


def test_a_stored_fact_keeps_its_group_and_one_stored_without_the_key_has_none() -> None:
    transcoder = _transcoder()
    assigned = fact(1, "assigned", "2025-09-01T10:00:00+00:00", group="L1")
    stored = transcoder.encode({"facts": [assigned]})
    assert transcoder.decode(stored)["facts"][0].group == "L1"
    old = json.loads(
        transcoder.encode({"facts": [fact(2, "acknowledged", "2025-09-01T10:00:00+00:00")]})
    )
    assert "group" not in json.dumps(old)  # a fact without a group is stored as before
    assert transcoder.decode(json.dumps(old).encode())["facts"][0].group is None
