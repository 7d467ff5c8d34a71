"""Hypothesis strategies for hostile event input, and how to compare what got stored.

A drawn :class:`HostileSet` is a list of JSON Lines lines: good events (tickets with a
creation, maybe an acknowledgement and a resolution, some repeated as redeliveries, with odd
but valid Unicode and instants at both ends of the supported range) and, mixed in, mutants
that must each be rejected with a known reason: wrong types, missing fields, lone
surrogates, NUL characters, bytes that are not UTF-8, instants outside the range or not in
RFC 3339, truncated lines, JSON that is not an object.

Also the checks the hostile-input tests share (in-process, command line and Kafka): one dead
letter per mutant, every line accounted for, and ``run_ingest`` for the command line; and the
hostile corpus of ``fixtures/hostile`` (:func:`corpus`, :func:`interleave`). Strategies for
helpdesk payloads are in ``tests/hostile_payloads.py``.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck
from hypothesis import strategies as st

from slaclock.domain.policy import Policy
from slaclock.projections.store import TicketStore
from tests.conftest import CONFIG
from tests.helpers import contract_policy

CUSTOMERS = ["acme", "globex", "initech", "umbrella"]
ZONES = [timezone(timedelta(hours=h, minutes=m)) for h, m in [(0, 0), (2, 0), (-5, 0), (5, 45)]]
ZONES += [timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]
REQUIRED = ("event_id", "type", "ticket_id", "occurred_at")
KINDS = (
    "wrong_type",
    "missing",
    "surrogate",
    "surrogate_bytes",
    "nul",
    "bad_bytes",
    "bad_instant",
    "far_instant",
    "truncated",
    "not_object",
    "unknown_type",
    "bad_priority",
)
BAD_SEQUENCES = [
    b"\xff",
    b"\xfe\xff",
    b"\x80",
    b"\xc3",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf0\x9f\x98",
    b"\xf5\x80\x80\x80",
]
BAD_INSTANTS = [
    "20251006T120000+0200",
    "2025-10-06 12:00:00+02:00",
    "2025-10-06T12:00:00",
    "2025-10-06",
    "2025-02-30T12:00:00Z",
    "2025-10-06T12:00:60Z",
    "2025-10-06T12:00:00+25:00",
    "",
    "now",
    "2025-10-06T12:00:00+02:00\n",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
]

#: Characters that are valid text: anything but surrogates and NUL.
ODD_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=6,
)


@dataclass
class HostileSet:
    lines: list[bytes] = field(default_factory=list)
    good: list[bool] = field(default_factory=list)
    expected: list[str | None] = field(default_factory=list)  # a mutant's reason, its start

    @property
    def good_lines(self) -> list[bytes]:
        return [line for line, good in zip(self.lines, self.good, strict=True) if good]

    @property
    def mutants(self) -> int:
        return self.good.count(False)

    def jsonl(self, lines: list[bytes] | None = None) -> bytes:
        return b"".join(line + b"\n" for line in (self.lines if lines is None else lines))


def instants(low: datetime, high: datetime) -> st.SearchStrategy[datetime]:
    return st.datetimes(min_value=low, max_value=high, timezones=st.sampled_from(ZONES))


#: Start times of tickets: mostly today's, some at either end of the supported range.
STARTS = st.one_of(
    instants(datetime(2024, 1, 1), datetime(2026, 12, 31)),
    instants(datetime(1970, 1, 2), datetime(1970, 3, 1)),
    instants(datetime(2199, 10, 1), datetime(2199, 12, 20)),
)
#: Instants outside the supported range (UTC years 1970..2199), with any offset.
FAR_INSTANTS = st.one_of(
    instants(datetime(1, 1, 2), datetime(1969, 12, 30)),
    instants(datetime(2200, 1, 2), datetime(9999, 12, 30)),
)


@st.composite
def tickets(draw: Any, number: int) -> list[dict[str, Any]]:
    """The good events of one ticket, in order."""
    suffix = draw(ODD_TEXT)
    ticket_id = f"H-{number}{suffix}"
    start = draw(STARTS)
    created: dict[str, Any] = {
        "event_id": f"h{number}-c{draw(ODD_TEXT)}",
        "type": "ticket.created",
        "ticket_id": ticket_id,
        "occurred_at": start.isoformat(),
        "customer_id": draw(st.sampled_from(CUSTOMERS)),
        "priority": draw(st.sampled_from([1, 2, 3])),
    }
    if draw(st.booleans()):
        created["channel"] = draw(ODD_TEXT)
    events = [created]
    at = start
    for kind in ("acknowledged", "resolved"):
        if not draw(st.booleans()):
            break
        at = at + timedelta(minutes=draw(st.integers(1, 3 * 24 * 60)))
        events.append(
            {
                "event_id": f"h{number}-{kind[0]}",
                "type": f"ticket.{kind}",
                "ticket_id": ticket_id,
                "occurred_at": at.isoformat(),
            }
        )
    return events


def _dump(event: Any, ascii_only: bool) -> str:
    return json.dumps(event, ensure_ascii=ascii_only)


@st.composite
def mutant(draw: Any, template: dict[str, Any], number: int, kind: str) -> tuple[bytes, str]:
    """A line made from ``template`` (a good event) that must be rejected, and the start of
    the reason it must be rejected with."""
    event = dict(template, event_id=f"m{number}")
    strings = [k for k, v in event.items() if isinstance(v, str)]
    ascii_only = draw(st.booleans())
    if kind == "wrong_type":
        key = draw(st.sampled_from(sorted(event)))
        wrong = st.one_of(
            st.floats(allow_nan=False),
            st.booleans(),
            st.lists(st.integers(), max_size=2),
            st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
        )
        event[key] = draw(wrong if key == "priority" else st.one_of(wrong, st.integers()))
        return _dump(event, ascii_only).encode(), f"{key}: "
    if kind == "missing":
        key = draw(
            st.sampled_from([*REQUIRED, "customer_id"] if "customer_id" in event else REQUIRED)
        )
        del event[key]
        return _dump(event, ascii_only).encode(), f"{key}: required"
    if kind in ("surrogate", "surrogate_bytes", "nul"):
        key = draw(st.sampled_from(strings))
        where = draw(st.integers(0, len(event[key])))
        bad = "\x00" if kind == "nul" else chr(draw(st.integers(0xD800, 0xDFFF)))
        event[key] = event[key][:where] + bad + event[key][where:]
        if kind == "nul":
            return _dump(event, ascii_only).encode(), f"{key}: contains U+0000 (NUL)"
        if kind == "surrogate":
            return _dump(event, True).encode(), f"{key}: not valid Unicode: lone surrogate"
        text = _dump(event, False)  # the surrogate written out as bytes (CESU-8 style)
        offset = len(text[: text.index(bad)].encode())
        data = text.encode("utf-8", "surrogatepass")
        return data, f"not valid UTF-8: byte 0x{data[offset]:02x} at offset {offset}"
    if kind == "bad_bytes":
        text = _dump(event, ascii_only)
        cut = draw(st.integers(0, len(text)))
        offset = len(text[:cut].encode())
        sequence = draw(st.sampled_from(BAD_SEQUENCES))
        data = text[:cut].encode() + sequence + text[cut:].encode()
        return data, f"not valid UTF-8: byte 0x{sequence[0]:02x} at offset {offset}"
    if kind in ("bad_instant", "far_instant"):
        if kind == "bad_instant":
            event["occurred_at"] = draw(st.sampled_from(BAD_INSTANTS))
        else:
            event["occurred_at"] = draw(FAR_INSTANTS).isoformat()
        return _dump(event, ascii_only).encode(), "occurred_at: "
    if kind == "truncated":
        text = _dump(event, ascii_only)
        cut = draw(st.integers(1, len(text) - 1))
        return text[:cut].encode(), "not valid JSON"
    if kind == "not_object":
        value = draw(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.none())))
        return json.dumps(value).encode(), "not a JSON object"
    if kind == "unknown_type":
        event["type"] = draw(st.sampled_from(["ticket.exploded", "", "TICKET.CREATED"]))
        return _dump(event, ascii_only).encode(), "type: unknown event type"
    assert kind == "bad_priority"
    event["priority"] = draw(st.sampled_from([0, 4, -1, 2**63]))
    return _dump(event, ascii_only).encode(), "priority: "


@st.composite
def hostile_sets(draw: Any, every_kind: bool = False, max_tickets: int = 4) -> HostileSet:
    """Good events with mutants mixed in (with ``every_kind``: at least one of each kind)."""
    good: list[dict[str, Any]] = []
    for number in range(draw(st.integers(1, max_tickets))):
        good += draw(tickets(number))
    lines = [(_dump(e, draw(st.booleans())).encode(), True, None) for e in good]
    repeats = draw(st.lists(st.sampled_from(range(len(lines))), max_size=3))
    lines += [lines[i] for i in repeats]  # redeliveries: duplicates
    kinds = list(KINDS) if every_kind else []
    kinds += draw(st.lists(st.sampled_from(KINDS), max_size=8))
    for number, kind in enumerate(kinds):
        template = draw(st.sampled_from(good))
        data, reason = draw(mutant(template, number, kind))
        where = draw(st.integers(0, len(lines)))
        lines.insert(where, (data, False, reason))
    drawn = HostileSet()
    for data, is_good, reason in lines:
        drawn.lines.append(data)
        drawn.good.append(is_good)
        drawn.expected.append(reason)
    return drawn


def stored(store_url: str, policy: Policy) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored ticket's accepted facts (what an event said, not when it was stored)."""
    store = TicketStore(store_url, policy)
    try:
        tickets = store.get_tickets(store.ticket_ids())
        return {
            ticket_id: sorted(
                (
                    f.event_id,
                    f.type,
                    f.occurred_at.isoformat(),
                    f.customer_id,
                    f.priority,
                    tuple(sorted(f.details.items())),
                )
                for f in ticket.facts
            )
            for ticket_id, ticket in tickets.items()
        }
    finally:
        store.close()


# ----------------------------------------------------------- checks the tests share
POLICY = contract_policy()
SETTINGS = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
}


def check_dead_letters(drawn: HostileSet, dead_letter: Path, name: str) -> None:
    """One dead letter per mutant, in order, with its reason, its line number and, for
    bytes that are not UTF-8, those exact bytes."""
    text = dead_letter.read_text(encoding="utf-8") if dead_letter.exists() else ""
    letters = [json.loads(line) for line in text.splitlines()]
    mutants = [
        (number, line, reason)
        for number, (line, reason) in enumerate(zip(drawn.lines, drawn.expected, strict=True), 1)
        if reason is not None
    ]
    assert len(letters) == len(mutants)
    for letter, (number, line, reason) in zip(letters, mutants, strict=True):
        assert letter["source"] == f"{name}:{number}"
        assert letter["reason"].startswith(reason), (letter["reason"], reason)
        if reason.startswith("not valid UTF-8"):
            assert base64.b64decode(letter["raw_base64"]) == line
            assert letter["raw"] == line.decode("utf-8", errors="replace")
        else:
            assert "raw_base64" not in letter
            assert letter["raw"] == line.decode()


def assert_accounted(got: dict[str, int], good: dict[str, int], drawn: HostileSet) -> None:
    assert got["read"] == len(drawn.lines)
    assert got["read"] == got["accepted"] + got["duplicates"] + got["rejected"]
    assert got["rejected"] == good["rejected"] + drawn.mutants
    assert (got["accepted"], got["duplicates"]) == (good["accepted"], good["duplicates"])


def run_ingest(store_url: str, cwd: Path, *argv: str, stdin: bytes | None = None) -> Any:
    command = [sys.executable, "-m", "slaclock", "--config", str(CONFIG), "--store", store_url]
    done = subprocess.run(
        [*command, "ingest", *argv, "--clock", "event", "--json"],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        timeout=300,
    )
    assert "Traceback" not in done.stderr.decode(errors="replace"), done.stderr
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --------------------------------------------------------------------- the hostile corpus
CORPUS = Path(__file__).parent / "fixtures" / "hostile"


def corpus(name: str) -> list[tuple[bytes, str]]:
    """The lines of ``fixtures/hostile/<name>.jsonl`` with how each one's reason starts."""
    lines = (CORPUS / f"{name}.jsonl").read_bytes().split(b"\n")[:-1]
    reasons = (CORPUS / f"{name}.reasons").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(reasons)
    return list(zip(lines, reasons, strict=True))


def interleave(
    good: list[bytes], bad: list[tuple[bytes, str]]
) -> tuple[list[bytes], list[str | None]]:
    """The good lines in their order with the bad ones between them (one after each good
    line, the rest at the end), and per line the reason expected (None for a good one)."""
    lines: list[bytes] = []
    expected: list[str | None] = []
    rest = list(bad)
    for line in good:
        lines.append(line)
        expected.append(None)
        if rest:
            body, reason = rest.pop(0)
            lines.append(body)
            expected.append(reason)
    lines += [body for body, _ in rest]
    expected += [reason for _, reason in rest]
    return lines, expected


def assert_letters(letters: list[tuple[str, str]], expected: list[str | None], source: Any) -> None:
    """One dead letter (source, reason) per bad line, in order: ``source(n)`` names line
    ``n`` (from 0), and its reason starts as expected."""
    wanted = [(source(n), reason) for n, reason in enumerate(expected) if reason is not None]
    assert len(letters) == len(wanted), letters
    got = [
        (where, reason[: len(w)]) for (where, reason), (_, w) in zip(letters, wanted, strict=True)
    ]
    assert got == wanted
