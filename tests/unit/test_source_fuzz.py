"""Every source kind's translation under hostile payloads: events or a rejection, nothing else.

Each example takes a real payload of a kind's sample lifecycle (``tests/fixtures/sources``),
translates the lines before it, then translates the payload with one to three values replaced
by something hostile (``tests.hostile_payloads.mutated_payload``: wrong types, nulls, huge strings,
lone surrogates, NUL, deep nesting, numbers of any size). The translation must return events
or raise :class:`Rejected` (with a reason), never anything else; a rejected payload keeps
nothing; what is kept can be stored (valid UTF-8, no NUL, ticket ids of at most 128
characters); the events go through validation without raising.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.config import parse_policy
from slaclock.consumers.events import Rejected, decode
from slaclock.consumers.source_config import SourceConfig
from slaclock.consumers.source_intake import Payload, Translator
from slaclock.consumers.source_rules import MemoryKeeper, TicketState
from slaclock.consumers.sources import RawEvent
from slaclock.projections.source_state import state_text
from tests.hostile import POLICY, SETTINGS
from tests.hostile_payloads import mutated_payload, read_paths
from tests.unit.test_source_samples import KINDS, SAMPLES, lines, sample_config

HOOKS = SAMPLES / "hooks"
LIFECYCLES = [(kind, "sample") for kind in KINDS] + [
    (kind, "hooks") for kind in KINDS if (HOOKS / kind).is_dir()
]


@cache
def config(kind: str, variant: str) -> SourceConfig:
    """The sample source of ``kind``; for the webhook lifecycles, without their customer
    map (customers are then taken as the payload has them). Read once: it takes a while."""
    if variant == "sample":
        return sample_config(kind)
    table = (HOOKS / kind / "source.toml").read_text()
    table = re.sub(r"(?m)^customers = .*$", "", table)
    sources = parse_policy((HOOKS / "slaclock.toml").read_text() + table, kind).sources
    return next(iter(sources.values()))


@cache
def bodies(kind: str, variant: str) -> list[bytes]:
    if variant == "sample":
        return lines(kind)
    found = (HOOKS / kind / "payloads.jsonl").read_bytes().splitlines()
    return [body for body in found if body.strip()]


@cache
def states_before(kind: str, variant: str, index: int) -> dict[str, TicketState]:
    """What translating the lifecycle's payloads before ``index`` keeps (once each)."""
    keeper = MemoryKeeper()
    translator = Translator(config(kind, variant), keeper)
    for body in bodies(kind, variant)[:index]:
        with contextlib.suppress(Rejected):  # the lifecycles end with an unmappable payload
            translator.translate(Payload(body, "before"))
    return keeper.states


@cache
def hot_paths(kind: str, variant: str, index: int) -> list[tuple[object, ...]]:
    return read_paths(config(kind, variant), bodies(kind, variant)[index])


def assert_storable(keeper: MemoryKeeper, source: str) -> None:
    """What ``TicketStore.save`` would write for the kept states: UTF-8 text without NUL
    (PostgreSQL text holds none), ticket ids that fit the key."""
    for ticket_id, state in keeper.states.items():
        assert len(ticket_id) <= 128
        for text in (source, ticket_id, state_text(state.to_json())):
            assert "\x00" not in text
            text.encode("utf-8")  # raises on a lone surrogate


@pytest.mark.parametrize(("kind", "variant"), LIFECYCLES)
@settings(max_examples=120, **SETTINGS)
@given(data=st.data())
def test_a_mutated_payload_is_translated_or_rejected(
    kind: str, variant: str, data: st.DataObject
) -> None:
    source = config(kind, variant)
    lifecycle = bodies(kind, variant)
    index = data.draw(st.integers(0, len(lifecycle) - 1))
    keeper = MemoryKeeper()
    keeper.states = copy.deepcopy(states_before(kind, variant, index))
    kept = copy.deepcopy(keeper.states)
    translator = Translator(source, keeper)
    body = data.draw(mutated_payload(lifecycle[index], hot_paths(kind, variant, index)))
    try:
        events = translator.translate(Payload(body, "mutant"))
    except Rejected as exc:
        assert exc.reason
        assert keeper.states == kept  # a rejected payload keeps nothing
        return
    assert_storable(keeper, source.name)
    raws = [RawEvent("mutant", json.dumps(event, ensure_ascii=False)) for event in events]
    decoded = decode(raws, POLICY)
    assert len(decoded.facts) + len(decoded.rejected) == len(events)
