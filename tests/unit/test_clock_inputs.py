"""A resolved ticket's clock inputs evaluate exactly as its facts do: any history, in any
arrival order, with instants that tie to the second or differ by a fraction of one."""

from __future__ import annotations

import random
from datetime import UTC, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.domain.clocks import evaluate
from slaclock.domain.facts import Fact
from slaclock.projections.clock_inputs import FORMAT, decode, encode
from tests.helpers import fact
from tests.unit.test_order_properties import POLICY, _facts, histories

ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]


@st.composite
def blurred(draw, facts: list[Fact]) -> list[Fact]:
    """``facts`` with instants moved by under a second, shown in other offsets, some made
    equal to the one before (ties keep arrival order) or a few microseconds from it (in the
    same second, either side), then shuffled."""
    out: list[Fact] = []
    for item in facts:
        instant = item.occurred_at + timedelta(microseconds=draw(st.integers(0, 999_999)))
        if out and item.type != "ticket.created":
            near = draw(st.sampled_from([None, 0, -1, 1]))
            if near is not None:
                step = near * draw(st.integers(1, 999))
                instant = out[-1].occurred_at + timedelta(microseconds=step)
        instant = instant.astimezone(draw(st.sampled_from(ZONES)))
        out.append(
            Fact(item.event_id, item.type, instant, item.customer_id, item.priority, item.details)
        )
    draw(st.randoms(use_true_random=False)).shuffle(out)
    return out


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_inputs_evaluate_as_the_facts_they_were_kept_from(data: st.DataObject) -> None:
    facts = data.draw(blurred(_facts(data.draw(histories()))))
    kept = decode(encode(facts) or b"")
    assert kept is not None
    assert evaluate("T", kept, POLICY) == evaluate("T", facts, POLICY)


@settings(max_examples=100, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_the_same_facts_give_the_same_bytes(events: list[dict], rnd: random.Random) -> None:
    facts = _facts(events)  # distinct instants: any arrival order is the same history
    shuffled = facts[:]
    rnd.shuffle(shuffled)
    assert encode(shuffled) == encode(facts)


def test_a_fact_type_without_a_code_keeps_no_inputs() -> None:
    facts = [fact(1, "created", "2025-09-01T10:00:00+02:00", customer="acme", priority=2)]
    assert encode([*facts, fact(2, "escalated", "2025-09-01T11:00:00+02:00")]) is None
    assert encode(facts) is not None


def test_inputs_of_another_format_are_not_used() -> None:
    facts = [fact(1, "created", "2025-09-01T10:00:00+02:00", customer="acme", priority=2)]
    blob = encode(facts)
    assert blob is not None and blob[1] == FORMAT  # msgpack: a 2-array, then the format
    assert decode(blob[:1] + bytes([FORMAT + 1]) + blob[2:]) is None
