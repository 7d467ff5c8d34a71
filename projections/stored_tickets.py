"""Ticket aggregates folded straight from their stored events' JSON, for bulk reads.

A recompute, rebuild or verify folds thousands of tickets from one query's rows.
``eventsourcing``'s way (its transcoder's ``object_hook`` on every JSON object, a domain
event object per stored event, then ``mutate``) is about half of that work; the stored
shapes are few and known (``projections.transcodings``), so this module decodes them into
typed ``msgspec`` structures (instants parsed on the way: about half the cost of
``json.loads`` into dicts) and builds the same :class:`Ticket` the library would: same
facts (with their ``recorded_at``), voided facts, alerts, id, version and timestamps.

Anything it does not recognise is left to the library, per ticket: an unknown topic, a
stored ``class_version`` (an older shape, which needs the class's upcasters), any
transcoded value other than the event's timestamp and its facts or alerts (counted in the
raw JSON), a missing field or an instant without a UTC offset (the library then raises
its own error), or a store whose events are compressed or encrypted (then every ticket).
``tests/integration/test_stored_tickets.py`` checks that both ways give equal tickets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Mapper, StoredEvent

from slaclock.domain.alerts import Alert
from slaclock.domain.facts import Fact
from slaclock.domain.ticket import Ticket
from slaclock.projections.stored_topics import topics_of

_KIND: dict[str, str] = {
    **dict.fromkeys(topics_of(Ticket.Registered), "registered"),
    **dict.fromkeys(topics_of(Ticket.FactsRecorded), "recorded"),
    **dict.fromkeys(topics_of(Ticket.AlertsReconciled), "alerts"),
}
_TICKET_TOPICS = frozenset(topics_of(Ticket))
_TYPED = b'"_type_":'  # how a transcoded value starts (in a JSON string it is escaped)


class Unknown(Exception):
    """A stored event this module does not decode itself (the library will)."""


Row = Any  # a database row with originator_id, originator_version, topic, state


def fold_tickets(mapper: Mapper[Any], rows: Sequence[Row], library: bool = False) -> list[Ticket]:
    """The tickets of ``rows`` (ordered by originator id, then version), one per
    aggregate that is a ticket, in that order; ``library``: all folded by the library."""
    fast = not library and mapper.cipher is None and mapper.compressor is None
    raws = [bytes(row["state"]) for row in rows] if fast else []
    states = _decode_all(rows, raws) if fast else []
    times = _Timestamps()
    tickets: list[Ticket] = []
    start = 0
    for end in range(1, len(rows) + 1):
        if end < len(rows) and rows[end]["originator_id"] == rows[start]["originator_id"]:
            continue
        events = rows[start:end]
        ticket: Ticket | None = None
        if fast:
            try:
                ticket = _fold_fast(events, raws[start:end], states[start:end], times)
            except (Unknown, KeyError, TypeError, ValueError):
                ticket = _by_library(mapper, events)  # which folds it, or raises its error
        else:
            ticket = _by_library(mapper, events)
        if ticket is not None:
            tickets.append(ticket)
        start = end
    return tickets


class _Stamp(msgspec.Struct):
    type_: str = msgspec.field(name="_type_")
    data: str = msgspec.field(name="_data_")


class _FactData(msgspec.Struct):
    event_id: str
    type: str
    occurred_at: datetime
    customer_id: str | None = None
    priority: int | None = None
    details: dict[str, Any] | None = None
    group: str | None = None


class _FactItem(msgspec.Struct):
    type_: str = msgspec.field(name="_type_")
    data: _FactData = msgspec.field(name="_data_")


class _AlertItem(msgspec.Struct):
    type_: str = msgspec.field(name="_type_")
    data: tuple[str, str, int, int] = msgspec.field(name="_data_")


class _Facts(msgspec.Struct):
    """A stored ``Registered`` or ``FactsRecorded`` (the first two fields: creation only)."""

    timestamp: _Stamp
    facts: list[_FactItem]
    voided: dict[str, str]
    originator_topic: str | None = None
    ticket_id: str | None = None
    class_version: int | None = None


class _Alerts(msgspec.Struct):
    timestamp: _Stamp
    raised: list[_AlertItem]
    withdrawn: list[_AlertItem]
    class_version: int | None = None


_DECODERS = {
    "registered": msgspec.json.Decoder(list[_Facts]),
    "recorded": msgspec.json.Decoder(list[_Facts]),
    "alerts": msgspec.json.Decoder(list[_Alerts]),
}


def _decode_all(rows: Sequence[Row], raws: list[bytes]) -> list[Any]:
    """The stored states, decoded by kind, each kind's as one JSON array (one call instead
    of one per event); one by one if that fails (then a bad one fails alone: None, and it
    goes to the library, as does an event of a kind this module does not know)."""
    states: list[Any] = [None] * len(raws)
    by_kind: dict[str, list[int]] = {}
    for at, row in enumerate(rows):
        kind = _KIND.get(row["topic"])
        if kind is not None:
            by_kind.setdefault(kind, []).append(at)
    for kind, places in by_kind.items():
        decoder = _DECODERS[kind]
        try:
            decoded = decoder.decode(b"[" + b",".join(raws[at] for at in places) + b"]")
        except (msgspec.DecodeError, msgspec.ValidationError):
            decoded = [_decode_one(decoder, raws[at]) for at in places]
        for at, state in zip(places, decoded, strict=True):
            states[at] = state
    return states


def _decode_one(decoder: Any, raw: bytes) -> Any:
    try:
        return decoder.decode(b"[" + raw + b"]")[0]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # not in a shape this module knows: the library says what it is


def _by_library(mapper: Mapper[Any], rows: list[Row]) -> Ticket | None:
    """The aggregate as ``eventsourcing`` folds it (None if it is not a ticket)."""
    aggregate: Any = None
    for row in rows:
        event = mapper.to_domain_event(
            StoredEvent(
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=bytes(row["state"]),
            )
        )
        aggregate = event.mutate(aggregate)
    return aggregate if isinstance(aggregate, Ticket) else None


def _fold_fast(rows: list[Row], raws: list[bytes], states: list[Any], times: _Timestamps) -> Ticket:
    ticket: Ticket | None = None
    for version, (row, raw, state) in enumerate(zip(rows, raws, states, strict=True), start=1):
        kind = _KIND.get(row["topic"])
        if kind is None or row["originator_version"] != version or state is None:
            raise Unknown(row["topic"])
        if state.class_version is not None:
            raise Unknown("an older stored shape: the class's upcasters apply")
        items = state.raised + state.withdrawn if kind == "alerts" else state.facts
        if raw.count(_TYPED) != 1 + len(items):
            raise Unknown("a value in a transcoding this module does not decode")
        timestamp, stamp = times.decode(state.timestamp)
        if kind == "registered":
            if ticket is not None or state.originator_topic not in _TICKET_TOPICS:
                raise Unknown("not a ticket's creation")
            if state.ticket_id is None:
                raise Unknown("no ticket id")
            ticket = _new_ticket(row["originator_id"], state.ticket_id, timestamp)
        elif ticket is None:
            raise Unknown("no creation")
        if kind == "alerts":
            raised = [_alert(item) for item in state.raised]
            ticket._reconcile(raised, [_alert(item) for item in state.withdrawn])
        else:
            ticket._record_stamped([_fact(item) for item in items], state.voided, stamp)
        ticket._version = version
        ticket._modified_on = timestamp
    if ticket is None:
        raise Unknown("no events")
    return ticket


def _new_ticket(originator_id: Any, ticket_id: str, timestamp: datetime) -> Ticket:
    ticket = Ticket.__new__(Ticket)
    key = UUID(originator_id) if isinstance(originator_id, str) else originator_id
    ticket.__base_init__(key, 1, timestamp)
    ticket.__init__(ticket_id)  # type: ignore[misc]
    return ticket


class _Timestamps:
    """Decoded event timestamps (a batch stamps all its events alike) and their epochs."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[datetime, int]] = {}

    def decode(self, value: _Stamp) -> tuple[datetime, int]:
        if value.type_ != "datetime_iso":
            raise Unknown("timestamp")
        text = value.data
        found = self.seen.get(text)
        if found is None:
            if len(self.seen) >= 4096:
                self.seen.clear()
            instant = datetime.fromisoformat(text)
            _aware(instant)
            found = self.seen[text] = (instant, math.floor(instant.timestamp()))
        return found


def _aware(instant: datetime) -> None:
    if instant.tzinfo is None:
        raise Unknown("no UTC offset")  # the library refuses it: let it say so


def _fact(item: _FactItem) -> Fact:
    if item.type_ != "fact":
        raise Unknown("fact")
    data = item.data
    occurred_at = data.occurred_at
    _aware(occurred_at)
    return Fact(
        data.event_id,
        data.type,
        occurred_at,
        data.customer_id,
        data.priority,
        data.details,
        at=math.floor(occurred_at.timestamp()),
        group=data.group,
    )


def _alert(item: _AlertItem) -> Alert:
    if item.type_ != "alert":
        raise Unknown("alert")
    metric, kind, percent, at = item.data
    return Alert(metric, kind, percent, at)
