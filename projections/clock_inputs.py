"""A resolved ticket's clock inputs, kept compact in its ``sla_tickets`` row.

A change of calendars or plans moves clock rows only, and recomputing a clock needs only
what the clock rules read of each fact: its type, its instant (whole seconds), a priority,
the creation's customer. Folding a ticket from its stored events costs about 30 µs;
decoding these inputs about 5. They are kept for resolved tickets only, the bulk of a
store and rarely touched again (about 3 µs per row written: for every ticket on every batch
that would be 6-7 % of a varied ingest, for resolved ones it is 2-3 %). They are written
with the row, so they are never older than it; an open ticket, or a row written before they
existed, has none and is folded from its events. MessagePack (``msgspec``): the same facts
give the same bytes, so rows compare equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from slaclock.domain.facts import (
    ACKNOWLEDGED,
    AGENT_REPLIED,
    CREATED,
    CUSTOMER_REPLIED,
    INTERVENTION_STARTED,
    PAUSED,
    REOPENED,
    REPRIORITISED,
    RESOLVED,
    RESUMED,
    WORK_LOGGED,
    Fact,
    in_order,
)
from slaclock.projections.tables import Dialect

COLUMN = "clock_inputs"  # in sla_tickets
FORMAT = 1  # the first item of every encoding; another value is not decoded (no inputs)

# Stored codes of the fact types: append new ones, never renumber.
_CODES = {
    CREATED: 1,
    ACKNOWLEDGED: 2,
    INTERVENTION_STARTED: 3,
    REPRIORITISED: 4,
    PAUSED: 5,
    RESUMED: 6,
    RESOLVED: 7,
    REOPENED: 8,
    WORK_LOGGED: 9,
    CUSTOMER_REPLIED: 10,
    AGENT_REPLIED: 11,
}
# ticket.assigned has no code, nor does a creation with a group: a ticket with a group is
# folded from its events (its inputs would need the group, which this format does not hold).
_TYPES = {code: type_ for type_, code in _CODES.items()}

Item = tuple[int, int, int | None, str | None]  # type code, at, priority, customer
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(tuple[int, list[Item]])


def encode(facts: Sequence[Fact]) -> bytes | None:
    """The clock inputs of a ticket's (accepted) ``facts``, in the order the clock rules
    take them; None if one has a type without a code or a group."""
    if any(fact.group is not None for fact in facts):
        return None
    try:
        items = [
            (_CODES[fact.type], fact.at, fact.priority, fact.customer_id)
            if fact.type == CREATED
            else (_CODES[fact.type], fact.at, fact.priority, None)
            for fact in in_order(list(facts))
        ]
    except KeyError:
        return None
    return _encoder.encode((FORMAT, items))


def decode(blob: bytes) -> list[Fact] | None:
    """Facts the clock rules evaluate exactly as the ticket's own (no event ids, details
    or recording times: the clocks do not read them); None for another format."""
    version, items = _decoder.decode(blob)
    if version != FORMAT:
        return None
    return [
        Fact(
            "",
            _TYPES[code],
            datetime.fromtimestamp(at, UTC),
            customer,
            priority,
            at=at,
        )
        for code, at, priority, customer in items
    ]


class Kept(NamedTuple):
    """What a resolved ticket's row keeps for a recompute."""

    facts: list[Fact]  # decoded clock inputs
    last_recorded_at: int  # when the engine last learnt something of the ticket
    blob: bytes  # the inputs as stored
    terms: tuple[str | None, str | None, int | None]  # its contract, plan and priority


def read(cursor: Any, dialect: Dialect, ticket_ids: Sequence[str]) -> dict[str, Kept]:
    """What the rows of ``ticket_ids`` keep, by ticket id (those with clock inputs of this
    format)."""
    if not ticket_ids:
        return {}
    marks = ", ".join("?" * len(ticket_ids))
    cursor.execute(
        dialect.sql(
            f"SELECT ticket_id, last_recorded_at, {COLUMN}, contract, plan, priority"
            f" FROM {{p}}sla_tickets WHERE ticket_id IN ({marks}) AND {COLUMN} IS NOT NULL"
        ),
        list(ticket_ids),
    )
    found = {}
    for row in cursor.fetchall():
        blob = bytes(row[COLUMN])
        facts = decode(blob)
        if facts is not None:
            terms = (row["contract"], row["plan"], row["priority"])
            found[row["ticket_id"]] = Kept(facts, row["last_recorded_at"], blob, terms)
    return found
