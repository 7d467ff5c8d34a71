"""Two receivers of one source (two ``serve`` replicas, ``serve`` beside ``consume
--source``) never overwrite each other's kept snapshots: a batch whose kept state another
receiver changed since it read it is refused whole, and ``SourceIntake`` translates it again
against the newer state (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from slaclock.config import parse_policy
from slaclock.consumers import source_intake
from slaclock.consumers.dead_letter import DeadLetterList
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.source_intake import (
    Payload,
    SourceIntake,
    StoreKeeper,
    Translator,
    translate_batch,
)
from slaclock.projections.source_state import SourceStateMoved
from slaclock.projections.store import TicketStore
from tests.unit.test_source_samples import config_text, lines

TICKET = "73014"
LOADED = parse_policy(config_text("zammad"), "zammad.toml")
CONFIG = LOADED.sources["zam"]
ZAMMAD = [Payload(body, f"POST /hooks/zam #{n}") for n, body in enumerate(lines("zammad"))]


@pytest.fixture
def receivers(store_url: str) -> Iterator[tuple[SourceIntake, SourceIntake]]:
    """Two receivers, each with its own connections (as two processes)."""
    stores = [TicketStore(store_url, LOADED.policy) for _ in range(2)]
    try:
        yield tuple(  # type: ignore[misc]
            SourceIntake(CONFIG, Ingestor(store, LOADED.policy, DeadLetterList()))
            for store in stores
        )
    finally:
        for store in stores:
            store.close()


def _snapshots(intake: SourceIntake) -> int:
    rows = intake.ingestor.store.query(
        "SELECT state FROM {p}sla_source_state WHERE ticket_id = ?", [TICKET]
    )
    return len(json.loads(rows[0]["state"])["snapshots"])


def test_a_batch_translated_against_a_state_another_receiver_replaced_is_refused(
    receivers: tuple[SourceIntake, SourceIntake],
) -> None:
    first, second = receivers
    assert first.take(ZAMMAD[:2]).accepted == 2
    keeper = StoreKeeper(second.ingestor.store, "zam")  # the second reads the kept state ...
    batch = translate_batch(Translator(CONFIG, keeper), ZAMMAD[2:3], LOADED.policy)
    assert first.take(ZAMMAD[3:4]).read == 1  # ... the first keeps a newer one meanwhile
    events = "SELECT COUNT(*) AS n FROM {p}sla_event_ids"
    before = second.ingestor.store.query(events)[0]["n"]
    with pytest.raises(SourceStateMoved, match="another receiver kept the state of 1"):
        second.ingestor.process_decoded(
            batch.decoded.facts, batch.decoded.rejected, source_state=keeper.rows()
        )
    assert second.ingestor.store.query(events)[0]["n"] == before  # nothing of it was stored
    assert _snapshots(first) == 3  # the first receiver's snapshot is still there


def test_source_intake_translates_again_against_the_newer_state(
    receivers: tuple[SourceIntake, SourceIntake], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = receivers
    assert first.take(ZAMMAD[:2]).accepted == 2
    read_state = source_intake.read_state
    raced: list[bool] = []

    def read_then_race(store: TicketStore, source: str, ticket_id: str) -> str | None:
        text = read_state(store, source, ticket_id)
        if store is second.ingestor.store and not raced:  # the first receiver keeps a
            raced.append(True)  # newer state right after this read
            assert first.take(ZAMMAD[3:4]).read == 1
        return text

    monkeypatch.setattr(source_intake, "read_state", read_then_race)
    result = second.take(ZAMMAD[2:3])
    assert raced == [True] and result.read == 1 and result.rejected == 0
    assert _snapshots(first) == 4  # both receivers' snapshots kept, none overwritten
