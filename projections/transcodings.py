"""How the Ticket aggregate's events store facts and alerts (JSON, via ``eventsourcing``).

A ``Fact`` is stored as its event fields (``occurred_at`` as ISO 8601 with its offset, absent
optional fields left out; ``group``, written only when a fact has one, was added later:
a fact stored without it has none, so no stored event's shape or version changed);
``recorded_at`` is not stored: it is the timestamp of the event
that records the fact. An ``Alert`` is stored as ``[metric, kind, percent, at]``.
:class:`TicketTranscoder` writes the same JSON, faster.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from eventsourcing.persistence import JSONTranscoder, Transcoding

from slaclock.domain.alerts import Alert
from slaclock.domain.facts import Fact


class FactAsDict(Transcoding):
    type = Fact
    name = "fact"

    def encode(self, obj: Fact) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event_id": obj.event_id,
            "type": obj.type,
            "occurred_at": obj.occurred_at_text or obj.occurred_at.isoformat(),
        }
        if obj.customer_id is not None:
            data["customer_id"] = obj.customer_id
        if obj.priority is not None:
            data["priority"] = obj.priority
        if obj.details:
            data["details"] = dict(obj.details)
        if obj.group is not None:
            data["group"] = obj.group
        return data

    def decode(self, data: dict[str, Any]) -> Fact:
        return Fact(
            event_id=data["event_id"],
            type=data["type"],
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            customer_id=data.get("customer_id"),
            priority=data.get("priority"),
            details=data.get("details"),
            group=data.get("group"),
        )


class AlertAsList(Transcoding):
    type = Alert
    name = "alert"

    def encode(self, obj: Alert) -> list[Any]:
        return [obj.metric, obj.kind, obj.percent, obj.at]

    def decode(self, data: list[Any]) -> Alert:
        metric, kind, percent, at = data
        return Alert(metric, kind, int(percent), int(at))


class DatetimeAsISO(Transcoding):
    """eventsourcing's datetime transcoding (same name, same text), remembering the last
    instant: every event of a batch carries the same ``recorded_at`` object."""

    type = datetime
    name = "datetime_iso"

    def __init__(self) -> None:
        self._last: tuple[datetime | None, str] = (None, "")

    def encode(self, obj: datetime) -> str:
        last = self._last  # one read: safe if another thread replaces it meanwhile
        if last[0] is not obj:
            last = self._last = (obj, obj.isoformat())
        return last[1]

    def decode(self, data: str) -> datetime:
        return datetime.fromisoformat(data)


class TicketTranscoder(JSONTranscoder):
    """The library's JSON transcoder, whose encoding of a ticket event's state runs in
    ``msgspec`` (C) instead of ``json`` with a Python ``default`` hook: the same JSON.

    ``msgspec`` writes some types natively (datetimes, UUIDs, dataclasses such as ``Alert``)
    where the library writes ``{"_type_": ..., "_data_": ...}``; so the fast way takes only
    states whose values are plain scalars, instants, lists of facts and alerts, or dicts of
    text, and turns the instants, facts and alerts into their transcoded form itself.
    Anything else is encoded by the library's way."""

    def __init__(self) -> None:
        super().__init__()
        self._fast = msgspec.json.Encoder()

    def encode(self, obj: Any) -> bytes:
        if type(obj) is not dict:
            return super().encode(obj)
        state: dict[str, Any] = {}
        for key, value in obj.items():
            kind = type(value)
            if kind in _SCALARS:
                state[key] = value
            elif kind is datetime:
                state[key] = self._encode_obj(value)
            elif kind is list and all(type(item) in (Fact, Alert) for item in value):
                state[key] = [self._encode_obj(item) for item in value]
            elif kind is dict and all(type(k) is str and type(v) is str for k, v in value.items()):
                state[key] = value
            else:
                return super().encode(obj)
        return self._fast.encode(state)


_SCALARS = (str, int, bool, type(None))
