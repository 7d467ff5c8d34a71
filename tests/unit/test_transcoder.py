"""The store's transcoder writes exactly the JSON the library's own would, faster
(``projections.transcodings.TicketTranscoder``), and leaves what it does not know to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
from eventsourcing.persistence import JSONTranscoder, UUIDAsHex

from slaclock.domain.alerts import Alert
from slaclock.domain.facts import Fact
from slaclock.projections.transcodings import (
    AlertAsList,
    DatetimeAsISO,
    FactAsDict,
    TicketTranscoder,
)

BERLIN = timezone(timedelta(hours=2))
FACTS = [
    Fact("e1", "ticket.created", datetime(2025, 9, 1, 9, 0, tzinfo=BERLIN), "acme", 2,
         {"channel": "mail", "note": 'a "quoted"\\nline – ünïcode\u2028'}),
    Fact("e2", "ticket.paused", datetime(2025, 9, 1, 9, 30, 0, 250000, tzinfo=UTC)),
]  # fmt: skip
STATES = [
    {"timestamp": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "originator_topic": "t:T",
     "ticket_id": "T-1", "facts": FACTS, "voided": {"e0": "a second creation"}},
    {"timestamp": datetime(2026, 1, 2, tzinfo=UTC), "facts": [], "voided": {}},
    {"timestamp": datetime(2026, 1, 2, tzinfo=UTC),
     "raised": [Alert("response", "warning", 75, 1756710000)], "withdrawn": []},
    {"id": UUID(int=7), "when": {"nested": datetime(2026, 1, 2, tzinfo=UTC)}},  # the library's
]  # fmt: skip


def _register(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DatetimeAsISO(), FactAsDict(), AlertAsList()):
        transcoder.register(transcoding)
    return transcoder


@pytest.mark.parametrize("state", STATES)
def test_it_writes_the_bytes_the_library_writes(state: dict) -> None:
    library = _register(JSONTranscoder())
    mine = _register(TicketTranscoder())
    assert mine.encode(state) == library.encode(state)
    assert mine.decode(mine.encode(state)) == library.decode(library.encode(state))
