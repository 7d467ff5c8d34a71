"""Ticket aggregates folded straight from their stored events' JSON, for bulk reads.

A recompute, rebuild or verify folds thousands of tickets from one query's rows.
``eventsourcing``'s way (its transcoder's ``object_hook`` on every JSON object, a domain
event object per stored event, then ``mutate``) is about half of that work; the stored
shapes are few and known (``projections.transcodings``), so this module decodes them with
a plain ``json.loads`` and builds the same :class:`Ticket` the library would: same facts
(with their ``recorded_at``), voided facts, alerts, id, version and timestamps.

Anything it does not recognise is left to the library, per ticket: an unknown topic, a
stored ``class_version`` (an older shape, which needs the class's upcasters), any
transcoded value other than the event's timestamp and its facts or alerts (counted in the
raw JSON), a missing field or an instant without a UTC offset (the library then raises
its own error), or a store whose events are compressed or encrypted (then every ticket).
``tests/integration/test_stored_tickets.py`` checks that both ways give equal tickets.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

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
    states = _decode_all(raws) if fast else []
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


def _decode_all(raws: list[bytes]) -> list[Any]:
    """The stored states, parsed as one JSON array (one call instead of one per event);
    each on its own if that fails (then a bad one fails alone, and goes to the library)."""
    try:
        states = json.loads(b"[" + b",".join(raws) + b"]")
        if len(states) == len(raws) and all(type(state) is dict for state in states):
            return states  # type: ignore[no-any-return]
    except ValueError:
        pass
    return [_decode_one(raw) for raw in raws]


def _decode_one(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None  # not JSON: the library says what it is


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
        if kind is None or row["originator_version"] != version or type(state) is not dict:
            raise Unknown(row["topic"])
        if "class_version" in state:
            raise Unknown("an older stored shape: the class's upcasters apply")
        items = state["raised"] + state["withdrawn"] if kind == "alerts" else state["facts"]
        if raw.count(_TYPED) != 1 + len(items):
            raise Unknown("a value in a transcoding this module does not decode")
        timestamp, stamp = times.decode(state["timestamp"])
        if kind == "registered":
            if ticket is not None or state["originator_topic"] not in _TICKET_TOPICS:
                raise Unknown("not a ticket's creation")
            ticket = _new_ticket(row["originator_id"], state["ticket_id"], timestamp)
        elif ticket is None:
            raise Unknown("no creation")
        if kind == "alerts":
            raised = [_alert(item) for item in state["raised"]]
            ticket._reconcile(raised, [_alert(item) for item in state["withdrawn"]])
        else:
            ticket._record_stamped([_fact(item) for item in items], state["voided"], stamp)
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

    def decode(self, value: dict[str, Any]) -> tuple[datetime, int]:
        if value["_type_"] != "datetime_iso":
            raise Unknown("timestamp")
        text = value["_data_"]
        found = self.seen.get(text)
        if found is None:
            if len(self.seen) >= 4096:
                self.seen.clear()
            instant = _instant(text)
            found = self.seen[text] = (instant, math.floor(instant.timestamp()))
        return found


def _instant(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    if instant.tzinfo is None:
        raise Unknown("no UTC offset")  # the library refuses it: let it say so
    return instant


def _fact(item: dict[str, Any]) -> Fact:
    if item["_type_"] != "fact":
        raise Unknown("fact")
    data = item["_data_"]
    occurred_at = _instant(data["occurred_at"])
    return Fact(
        data["event_id"],
        data["type"],
        occurred_at,
        data.get("customer_id"),
        data.get("priority"),
        data.get("details"),
        at=math.floor(occurred_at.timestamp()),
    )


def _alert(item: dict[str, Any]) -> Alert:
    if item["_type_"] != "alert":
        raise Unknown("alert")
    metric, kind, percent, at = item["_data_"]
    return Alert(metric, kind, int(percent), int(at))
