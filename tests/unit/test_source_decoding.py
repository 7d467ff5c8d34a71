"""``consume --source``'s decoding step on the Debezium sample: batches of message values
become the sample's events; tombstones emit nothing; the kept state rides with each batch
(remembered while the batch before is in its transaction, forgotten on reset)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slaclock.config import parse_policy
from slaclock.consumers import source_decoding
from slaclock.consumers.source_decoding import SourceDecoding
from slaclock.projections.store import TicketStore

SAMPLE = Path(__file__).parents[1] / "fixtures" / "sources" / "debezium"
BASE = Path(__file__).parents[2] / "examples" / "slaclock.toml"


@pytest.fixture
def decoding(tmp_path: Path):  # type: ignore[no-untyped-def]
    loaded = parse_policy(BASE.read_text() + (SAMPLE / "source.toml").read_text(), "db.toml")
    store = TicketStore(f"sqlite:///{tmp_path / 's.db'}", loaded.policy)
    yield SourceDecoding(loaded.sources["db"], loaded.policy, store)
    store.close()


def values() -> list[bytes]:
    return (SAMPLE / "payloads.jsonl").read_bytes().splitlines()


def types(decoded) -> list[str]:  # type: ignore[no-untyped-def]
    return [fact.type for _, _, _, fact in decoded.facts]


def test_batches_give_the_sample_events_and_their_kept_state(decoding: SourceDecoding) -> None:
    expected = [
        json.loads(line)["type"]
        for line in (SAMPLE / "expected_events.jsonl").read_text().splitlines()
    ]
    batch = values()
    decoding.submit([batch[0], None, batch[1]], ["t/0/0", "t/0/1", "t/0/2"])  # None: tombstone
    decoding.submit(batch[2:], [f"t/0/{n}" for n in range(3, 3 + len(batch) - 2)])
    first, second = decoding.result(), decoding.result()
    # The sample redelivers one change: its events come again with the same ids (the
    # ingest step counts them as duplicates).
    facts = [fact for _, _, _, fact in first.facts + second.facts]
    once = {fact.event_id: fact.type for fact in facts}
    assert list(once.values()) == expected and len(facts) > len(once)
    assert first.read == 2 and not first.rejected
    assert [source for _, raw, _, _ in first.facts for source in [raw.source]] == [
        "t/0/0",
        "t/0/2",
    ]
    # Each batch carries the state it changed, to be written in its own transaction; the
    # second batch was translated on top of the first without reading the store.
    assert [row[:2] for row in first.source_state] == [("db", "HD-50917")]
    assert [row[:2] for row in second.source_state] == [("db", "HD-50917")]
    assert json.loads(second.source_state[0][2]) != json.loads(first.source_state[0][2])


def test_reset_reads_the_store_again(decoding: SourceDecoding) -> None:
    batch = values()
    decoding.submit(batch[:1], ["t/0/0"])
    assert types(decoding.result()) == ["ticket.created"]
    decoding.submit(batch[1:2], ["t/0/1"])
    assert types(decoding.result()) == ["ticket.acknowledged"]  # remembered
    decoding.reset()  # those batches were never stored: the ticket is unknown again
    decoding.submit(batch[1:2], ["t/0/1"])
    assert types(decoding.result()) == ["ticket.created", "ticket.acknowledged"]


def test_unmappable_values_are_rejections_with_their_origin(decoding: SourceDecoding) -> None:
    decoding.submit([b"not json", values()[0]], ["t/0/7", "t/0/8"])
    decoded = decoding.result()
    assert types(decoded) == ["ticket.created"]
    [(_, origin, reason, text, _)] = decoded.rejected
    assert (origin, text) == ("t/0/7", "not json") and reason


def test_memory_stays_bounded_keeping_the_last_batch(
    decoding: SourceDecoding, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_decoding, "MAX_REMEMBERED", 0)
    batch = values()
    decoding.submit(batch[:1], ["t/0/0"])
    decoding.submit(batch[1:2], ["t/0/1"])
    decoding.result()
    # Over the limit: everything but the last batch's tickets is forgotten, and the last
    # batch's ticket (maybe not stored yet) is still known: no second ticket.created.
    assert types(decoding.result()) == ["ticket.acknowledged"]
