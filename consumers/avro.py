"""Avro encoding of ticket events: one record type per event type, in one union schema.

The schema files live in ``schemas/``; ``schemas/registry.json`` maps the schema ids used on
Kafka (Confluent wire format) to files, for consumers running without a schema registry.
Timestamps travel as UTC ``timestamp-micros`` with the original UTC offset beside them, so a
decoded event prints the same instant with the same offset as its JSON twin.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

from slaclock import schemas
from slaclock.domain import facts

SCHEMA_DIR = Path(schemas.__file__).resolve().parent
NAMESPACE = "dev.slaclock.events"
CURRENT_SCHEMA_ID = 4
"""The schema this slaclock writes and reads into (``schemas/registry.json``): version 3 added
the ``TicketWorkLogged`` record, version 4 the ``TicketCustomerReplied``,
``TicketAgentReplied`` and ``TicketAssigned`` records and an optional ``group`` on
``TicketCreated``; messages written with versions 1 to 3 still decode."""

RECORD_FOR_TYPE: dict[str, str] = {
    facts.CREATED: "TicketCreated",
    facts.ACKNOWLEDGED: "TicketAcknowledged",
    facts.INTERVENTION_STARTED: "TicketInterventionStarted",
    facts.REPRIORITISED: "TicketReprioritised",
    facts.PAUSED: "TicketPaused",
    facts.RESUMED: "TicketResumed",
    facts.RESOLVED: "TicketResolved",
    facts.REOPENED: "TicketReopened",
    facts.WORK_LOGGED: "TicketWorkLogged",
    facts.CUSTOMER_REPLIED: "TicketCustomerReplied",
    facts.AGENT_REPLIED: "TicketAgentReplied",
    facts.ASSIGNED: "TicketAssigned",
}
TYPE_FOR_RECORD: dict[str, str] = {
    f"{NAMESPACE}.{name}": kind for kind, name in RECORD_FOR_TYPE.items()
}
_OPTIONAL = ("customer_id", "priority", "group", *facts.DETAIL_FIELDS)


@cache
def schema_by_id(schema_id: int) -> Any:
    """The parsed schema shipped in ``schemas/`` under ``schema_id`` (KeyError if unknown)."""
    index = json.loads((SCHEMA_DIR / "registry.json").read_text())
    return fastavro.parse_schema(json.loads((SCHEMA_DIR / index[str(schema_id)]).read_text()))


def current_schema() -> Any:
    return schema_by_id(CURRENT_SCHEMA_ID)


def to_record(event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A JSON-shaped event as (record name, Avro record); the event must already be valid."""
    occurred = (
        datetime.fromisoformat(event["occurred_at"])
        if isinstance(event["occurred_at"], str)
        else event["occurred_at"]
    )
    offset = occurred.utcoffset()
    record = {
        "event_id": event["event_id"],
        "ticket_id": event["ticket_id"],
        "occurred_at": occurred.astimezone(UTC),
        "occurred_at_offset_minutes": None if offset is None else int(offset.total_seconds() // 60),
    }
    for key in _OPTIONAL:
        record[key] = event.get(key)
    return f"{NAMESPACE}.{RECORD_FOR_TYPE[event['type']]}", record


def from_record(name: str, record: dict[str, Any]) -> dict[str, Any]:
    """A decoded Avro record as the JSON-shaped event ``consumers.events`` validates;
    ValueError (naming the field) when its offset cannot be one."""
    if name not in TYPE_FOR_RECORD:
        return {"type": name.rsplit(".", 1)[-1], **record}
    event = {k: v for k, v in record.items() if v is not None and k != "occurred_at_offset_minutes"}
    event["type"] = TYPE_FOR_RECORD[name]
    occurred = record.get("occurred_at")
    minutes = record.get("occurred_at_offset_minutes")
    if isinstance(occurred, datetime) and minutes is not None:
        if not -24 * 60 < minutes < 24 * 60:
            raise ValueError(f"occurred_at_offset_minutes: {minutes} is not a UTC offset")
        event["occurred_at"] = occurred.astimezone(timezone(timedelta(minutes=minutes)))
    return event


def to_json_text(event: dict[str, Any]) -> str:
    """An event as one JSON line (for dead letters of binary input)."""
    return json.dumps(event, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))
