"""Turn decoded records (JSON objects or Avro records) into validated ``Fact``s.

Every way an event can be wrong ends in :class:`Rejected` with a reason that starts with the
field it is about (``"priority: 7 is not one of [1, 2, 3]"``), never in a traceback.
:func:`decode` does it for a batch and needs nothing but the policy, so that it can run in
another process (``consumers.decode_worker``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from slaclock.consumers.sources import RawEvent
from slaclock.domain.facts import (
    ASSIGNED,
    CREATED,
    DETAIL_FIELDS,
    EVENT_TYPES,
    REPRIORITISED,
    WORK_LOGGED,
    Fact,
)
from slaclock.domain.instants import check_range, parse_instant
from slaclock.domain.policy import Policy

Id = Annotated[StrictStr, Field(min_length=1, max_length=128)]
Group = Annotated[StrictStr, Field(min_length=1, max_length=128)]
_GROUP_TYPES = frozenset({CREATED, ASSIGNED})
"""The event types whose ``group`` means something (on any other it is ignored)."""


class Rejected(Exception):
    """An event that cannot be accepted; ``reason`` names the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TicketEvent(BaseModel):
    """The wire shape of one ticket event. Unknown fields are ignored, so that upstream
    systems can add fields without breaking slaclock."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Id
    type: StrictStr
    ticket_id: Id
    occurred_at: datetime
    customer_id: StrictStr | None = None
    priority: StrictInt | None = None
    reason: StrictStr | None = None
    channel: StrictStr | None = None
    actor: StrictStr | None = None
    source: StrictStr | None = None
    minutes: StrictInt | None = None
    mode: StrictStr | None = None
    group: Group | None = None

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _rfc3339_with_offset(cls, value: Any) -> datetime:
        if isinstance(value, datetime):  # Avro records carry a datetime already
            if value.utcoffset() is None:
                raise ValueError(f"{value.isoformat()!r} has no UTC offset")
            return check_range(value)
        return parse_instant(value)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in EVENT_TYPES:
            raise ValueError(f"unknown event type {value!r}, expected one of {list(EVENT_TYPES)}")
        return value


_FIELDS = frozenset(TicketEvent.model_fields)


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "event"
    if first["type"] == "missing":
        return f"{field}: required field missing"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] in ("string_type", "int_type"):
        message = f"{message}, got {first.get('input')!r}"
    return f"{field}: {message}"


def parse_json(raw: str | bytes) -> dict[str, Any]:
    """One JSON object from one line; :class:`Rejected` when it is not one."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Rejected(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Rejected(f"not a JSON object: {type(data).__name__}")
    return data


def check_text(data: dict[str, Any]) -> None:
    """:class:`Rejected` naming the field when a string field of the event cannot be stored
    as text: a lone surrogate (JSON allows ``"\\ud800"``; it is not Unicode, so not UTF-8)
    or a NUL character (PostgreSQL text cannot hold one). Unknown fields are ignored, as
    everywhere."""
    for field, value in data.items():
        if (
            type(value) is not str
            or field not in _FIELDS
            or ("\x00" not in value and value.isascii())
        ):
            continue  # the common case, kept cheap: this runs for every string of every event
        if "\x00" in value:
            raise Rejected(f"{field}: contains U+0000 (NUL) at character {value.index(chr(0))}")
        if (where := _surrogate(value)) is not None:
            raise Rejected(
                f"{field}: not valid Unicode: lone surrogate U+{ord(value[where]):04X}"
                f" at character {where}"
            )


def _surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in ``text``, None if there is none."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def to_fact(data: dict[str, Any], policy: Policy) -> tuple[str, Fact]:
    """Validate a decoded event against the contract and the policy: (ticket_id, fact)."""
    check_text(data)
    try:
        event = TicketEvent.model_validate(data)
    except ValidationError as exc:
        raise Rejected(_reason(exc)) from None
    if event.type == CREATED and not event.customer_id:
        raise Rejected("customer_id: required on ticket.created")
    if event.type == REPRIORITISED and event.priority is None:
        raise Rejected("priority: required on ticket.reprioritised")
    if event.type == WORK_LOGGED:
        if event.minutes is None:
            raise Rejected("minutes: required on ticket.work_logged")
        if event.minutes <= 0:
            raise Rejected(f"minutes: {event.minutes} must be greater than 0")
        if event.mode not in ("on_site", "remote"):
            raise Rejected(f"mode: {event.mode!r} is not one of ['on_site', 'remote']")
        if not event.actor:
            raise Rejected("actor: required on ticket.work_logged")
    if event.type == ASSIGNED and event.group is None:
        raise Rejected("group: required on ticket.assigned")
    if event.priority is not None:
        problem = policy.check_priority(event.priority)
        if problem:
            raise Rejected(problem)
    details = {k: str(v) for k in DETAIL_FIELDS if (v := getattr(event, k)) is not None}
    fact = Fact(
        event_id=event.event_id,
        type=event.type,
        occurred_at=event.occurred_at,
        customer_id=event.customer_id,
        priority=event.priority,
        details=details,
        group=event.group if event.type in _GROUP_TYPES else None,
    )
    return event.ticket_id, fact


DecodedFact = tuple[int, RawEvent, str, Fact]
"""An event that passed validation: its index in the batch, as received, ticket id, fact."""
Rejection = tuple[int, str, str, str, bytes | None]
"""An event that did not: its index in the batch, source, reason, text for the dead letter,
and the exact bytes when they are not valid UTF-8 (the text then has replacements)."""


@dataclass
class Decoded:
    """A batch after validation: how many events were read, the facts, the rejections."""

    read: int
    facts: list[DecodedFact]
    rejected: list[Rejection]
    # What source translation keeps, written in the batch's transaction (sources only).
    source_state: Sequence[tuple[str, str, str]] = ()


def decode(batch: Sequence[RawEvent], policy: Policy) -> Decoded:
    """Parse and validate a batch; needs nothing but the policy (no store)."""
    rejected: list[Rejection] = []
    facts: list[DecodedFact] = []
    for index, raw in enumerate(batch):
        try:
            if raw.error is not None:
                raise Rejected(raw.error)
            data = raw.data if raw.data is not None else parse_json(raw.raw)
            ticket_id, fact = to_fact(data, policy)
        except Rejected as exc:
            rejected.append((index, raw.source, exc.reason, raw.text(), raw.raw_bytes))
            continue
        facts.append((index, raw, ticket_id, fact))
    return Decoded(len(batch), facts, rejected)
