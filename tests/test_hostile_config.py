"""Mutated configurations through the loader: a :class:`ConfigError` naming the file and the
key, or a policy that ingest can run with; never a traceback.

Each example takes the contract's ``slaclock.toml`` and changes it the way a hurried
operator would: one value replaced by something hostile (wrong type, negative, huge,
infinite, far-off date, odd text), a line dropped or repeated, the text cut short, or bytes
that are not UTF-8.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaclock.config import ConfigError, read_policy
from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.sources import read_events
from slaclock.domain.policy import Policy
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG, EVENTS
from tests.test_hostile_input import SETTINGS

TEXT = CONFIG.read_text()
LINES = TEXT.splitlines()
ASSIGNMENTS = [n for n, line in enumerate(LINES) if re.match(r"\s*[\w.\"-]+\s*=", line)]
HOSTILE_VALUES = [
    "-1",
    "0",
    "99999999999999999999999",
    "1e400",
    "nan",
    "-inf",
    "true",
    "[]",
    "{}",
    '[1, "a"]',
    '""',
    '" "',
    '"\\u0000"',
    '"-1h"',
    '"0m"',
    '"99999999h"',
    '"1000000d"',
    '"PT0S"',
    '"25:00-26:00"',
    '"09:00-08:00"',
    '"17:00-09:00"',
    '"mon-fri"',
    '"Europe/Nowhere"',
    '"../../etc/passwd"',
    '"XX"',
    '"200%"',
    '"-10%"',
    '"NaN"',
    '"1e999"',
    "2205-01-01",
    "0001-01-01",
    "9999-12-31",
    '"2205-01-01"',
    "1979-05-27T07:32:00Z",
    '"9x5x4"',
    '"24x7x0"',
    '"0x0x0"',
    '{ within = "1h", calendar = "nowhere" }',
    '{ within = "0h", calendar = "always" }',
    '["75%", "75%"]',
    "[101]",
    '["0%"]',
    '{ country = "XX" }',
    '{ country = "DE", subdivision = "ZZ" }',
    '{ country = "DE", categories = ["nope"] }',
    '{ "sun-mon" = "09:00-17:00" }',
    '{ "mon-fri" = ["09:00-12:00", "11:00-13:00"] }',
]
#: Open tickets of every customer and priority at the end of the supported range: their
#: deadlines are the furthest any configuration must serve.
LAST_TICKETS = b"".join(
    json.dumps(
        {
            "event_id": f"last-{customer}-{priority}",
            "type": "ticket.created",
            "ticket_id": f"LAST-{customer}-{priority}",
            "occurred_at": "2199-12-31T23:59:59Z",
            "customer_id": customer,
            "priority": priority,
        }
    ).encode()
    + b"\n"
    for customer in ("acme", "globex", "initech", "umbrella", "hooli")
    for priority in (1, 2, 3)
)
VALUES = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.text(max_size=8).map(lambda text: json.dumps(text, ensure_ascii=False)),
    st.integers(-(2**70), 2**70).map(str),
)


@st.composite
def mutated(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["value"] * 5 + ["drop", "repeat", "cut", "bytes"]))
    lines = list(LINES)
    if kind == "value":
        number = draw(st.sampled_from(ASSIGNMENTS))
        key = lines[number].split("=", 1)[0]
        lines[number] = f"{key}= {draw(VALUES)}"
    elif kind in ("drop", "repeat"):
        number = draw(st.integers(0, len(lines) - 1))
        lines[number : number + 1] = [] if kind == "drop" else [lines[number]] * 2
    text = "\n".join(lines) + "\n"
    if kind == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    data = text.encode()
    if kind == "bytes":
        where = draw(st.integers(0, len(data)))
        data = (
            data[:where] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + data[where:]
        )
    return data


@settings(max_examples=80, **SETTINGS)
@given(data=mutated())
def test_a_mutated_configuration_is_refused_by_key_or_runs(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "slaclock.toml"
        path.write_bytes(data)
        try:
            loaded = read_policy(path)
        except ConfigError as exc:
            message = str(exc)
            assert message.startswith(f"{path}: "), message
            rest = message.removeprefix(f"{path}: ")
            if rest.startswith("not valid UTF-8"):
                where = data.index(next(b for b in (b"\xff", b"\xc3", b"\xed") if b in data))
                assert rest.startswith(
                    f"not valid UTF-8: byte 0x{data[where]:02x} at offset {where}"
                )
            elif not rest.startswith("not valid TOML"):
                key, _, problem = rest.partition(": ")
                assert key and problem and " " not in key.strip(), message
            return
        ingest(loaded.policy, EVENTS.read_bytes(), Path(tmp) / "store.db")
        # a policy of its own: a calendar compiles every year from its earliest to its latest
        ingest(read_policy(path).policy, LAST_TICKETS, Path(tmp) / "last.db")


def ingest(policy: Policy, events: bytes, store_path: Path) -> None:
    path = store_path.with_suffix(".jsonl")
    path.write_bytes(events)
    store = TicketStore(f"sqlite:///{store_path}", policy)
    try:
        ingestor = Ingestor(store, policy, DeadLetterList(), clock="event")
        stats = ingestor.run(read_events(str(path)))
    finally:
        store.close()
    assert stats.read == events.count(b"\n")
    assert stats.read == stats.accepted + stats.duplicates + stats.rejected


def test_a_target_no_calendar_can_serve_is_refused_naming_it(tmp_path: Path) -> None:
    """A deadline beyond the years calendars serve would fail every event of its batch."""
    path = tmp_path / "slaclock.toml"
    path.write_text(TEXT.replace('2 = "6h", 3 = "9h"', '2 = "99999999h", 3 = "9h"', 1))
    with pytest.raises(ConfigError) as caught:
        read_policy(path)
    assert str(caught.value) == (
        f"{path}: plans.professional.targets.response.2: 99999999 h of open time is too long"
        " (calendar office: deadline beyond the supported range (year 2200))"
    )
