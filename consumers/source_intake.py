"""Payloads from a helpdesk in, slaclock events out: translation and durable intake.

:class:`Translator` is pure: one payload (a webhook body, a file line, a Kafka message value)
becomes the slaclock wire events of README section 1 (``consumers.source_kinds`` reads the
payload, ``consumers.source_rules`` applies rules 1-8); what it must remember between payloads
(kept snapshots, first-only markers) sits behind a :class:`~slaclock.consumers.source_rules.
Keeper`. :class:`SourceIntake` translates a batch with a store-backed keeper and ingests the
events through the normal validation and deduplication path, writing the keeper's rows in the
same transaction: when :meth:`SourceIntake.take` returns, the batch is durable.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slaclock.consumers.events import Decoded, Rejected, Rejection, decode
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.source_config import SourceConfig
from slaclock.consumers.source_readers import read_change
from slaclock.consumers.source_rules import Keeper, MemoryKeeper, TicketState, apply_change
from slaclock.consumers.sources import RawEvent
from slaclock.domain.policy import Policy
from slaclock.projections.source_state import SourceStateMoved, StateRow, read_state, state_text

RETRIES = 3
"""Times a batch is translated again after another receiver kept a newer state first."""


@dataclass(frozen=True)
class Payload:
    """One change as received."""

    body: bytes  # exactly as received (a file line, an HTTP body, a Kafka value)
    origin: str  # "file.jsonl:3", "topic/partition/offset", "POST /hooks/NAME"
    delivery_id: str | None = None  # the vendor's delivery header, when it came over HTTP


class Translator:
    """Pure translation of one source's payloads; state through ``keeper``."""

    def __init__(self, config: SourceConfig, keeper: Keeper | None = None) -> None:
        self.config = config
        self.keeper: Keeper = keeper if keeper is not None else MemoryKeeper()

    def translate(self, payload: Payload) -> list[dict[str, Any]]:
        """The slaclock wire events of one payload, in rule 6's order (``[]`` for a change
        that moves nothing, a deleted row, a ticket older than ``since``); raises
        :class:`~slaclock.consumers.events.Rejected` with a reason naming the path."""
        try:
            change = read_change(self.config, payload.body)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # A shape no reader foresaw: rejected alone, so that it cannot stall a stream.
            raise Rejected(f"payload: cannot be read ({type(exc).__name__}: {exc})") from None
        if change is None:
            return []
        return apply_change(self.config, change, self.keeper, payload.delivery_id)


Known = dict[str, tuple[TicketState | None, str | None]]
"""Per ticket: its state as read or kept, and that state's stored JSON (None: none)."""


class StoreKeeper:
    """A keeper for one batch of one source: reads the stored state
    (``projections.source_state``), remembers changes in memory, and gives them as rows to
    write in the batch's transaction (:meth:`rows`), each with the stored JSON it replaces,
    so that a state another receiver kept meanwhile is not overwritten."""

    def __init__(self, store: Any, source: str, known: Known | None = None) -> None:
        """``known``: states already read or kept, shared with later keepers (the Kafka
        consumer translates a batch while the one before is still in its transaction)."""
        self.store = store
        self.source = source
        self._known: Known = {} if known is None else known
        self._changed: dict[str, TicketState] = {}
        self._replaces: dict[str, str | None] = {}  # the stored JSON before this batch

    def load(self, ticket_id: str) -> TicketState | None:
        if ticket_id not in self._known:
            text = read_state(self.store, self.source, ticket_id)
            state = TicketState.from_json(json.loads(text)) if text else None
            self._known[ticket_id] = (state, text)
        return self._known[ticket_id][0]

    def keep(self, ticket_id: str, state: TicketState) -> None:
        self.load(ticket_id)
        self._replaces.setdefault(ticket_id, self._known[ticket_id][1])
        self._changed[ticket_id] = state
        self._known[ticket_id] = (state, None)  # its text once rows() made it

    def rows(self) -> list[StateRow]:
        """The changed states as ``sla_source_state`` rows, in key order."""
        rows = []
        for ticket_id, state in sorted(self._changed.items()):
            text = state_text(state.to_json())
            self._known[ticket_id] = (state, text)
            rows.append((self.source, ticket_id, text, self._replaces[ticket_id]))
        return rows


@dataclass
class IntakeResult:
    """What one :meth:`SourceIntake.take` did. ``read`` counts payloads; ``emitted`` the
    events translation produced; ``accepted``, ``duplicates`` and ``rejected`` count what
    ingest made of them (a payload that could not be translated counts as one rejected);
    ``reasons`` gives, per payload index, why it (or an event it produced) was rejected."""

    read: int = 0
    emitted: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "emitted": self.emitted,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }


class SourceIntake:
    """Translate + ingest + keep snapshots, in one store transaction per :meth:`take`.

    ``ingestor`` is an :class:`~slaclock.consumers.ingest.Ingestor` on the store; its dead
    letter sink receives untranslatable payloads too (reason naming the path). Calls are
    serialised (one lock), so concurrent deliveries for one ticket cannot lose a transition
    within one process."""

    def __init__(self, config: SourceConfig, ingestor: Ingestor) -> None:
        self.config = config
        self.ingestor = ingestor
        self._lock = threading.Lock()

    def take(self, payloads: Sequence[Payload]) -> IntakeResult:
        """Translate and store ``payloads``; durable when it returns (raises if the store
        failed: then nothing of the batch, events nor kept state, was stored). When another
        receiver of the source kept a newer state of one of its tickets meanwhile, the batch
        is translated again against it (up to :data:`RETRIES` times, then
        :class:`SourceStateMoved` is raised)."""
        with self._lock:
            for _ in range(RETRIES):
                try:
                    return self._take(payloads)
                except SourceStateMoved:
                    continue
            return self._take(payloads)

    def _take(self, payloads: Sequence[Payload]) -> IntakeResult:
        keeper = StoreKeeper(self.ingestor.store, self.config.name)
        batch = translate_batch(Translator(self.config, keeper), payloads, self.ingestor.policy)
        result = IntakeResult(read=len(payloads), emitted=batch.emitted, reasons=batch.reasons)
        before = self.ingestor.stats.as_dict()
        try:
            self.ingestor.stats.read += batch.decoded.read
            self.ingestor.process_decoded(
                batch.decoded.facts, batch.decoded.rejected, source_state=keeper.rows()
            )
        except SourceStateMoved:
            self.ingestor.stats.read = before["read"]  # it is read again
            raise
        after = self.ingestor.stats.as_dict()
        result.accepted = after["accepted"] - before["accepted"]
        result.duplicates = after["duplicates"] - before["duplicates"]
        result.rejected = after["rejected"] - before["rejected"]
        return result


@dataclass
class TranslatedBatch:
    """Payloads translated and validated: ``decoded`` holds the events' facts and every
    rejection (events that failed validation, then payloads that could not be translated,
    with their bytes); ``read`` counts both. ``reasons``: per payload index, the first
    reason it (or an event it produced) was rejected."""

    decoded: Decoded
    emitted: int
    reasons: dict[int, str]


def translate_batch(
    translator: Translator, payloads: Sequence[Payload], policy: Policy
) -> TranslatedBatch:
    """Translate ``payloads`` in order and validate the events (one way for every intake:
    :class:`SourceIntake`, the Kafka consumer's ``consumers.source_decoding``). Positions in
    the returned batch follow payload order, so dead letters come out in payload order."""
    reasons: dict[int, str] = {}
    raws: list[RawEvent] = []
    owner: list[int] = []  # payload index of each raw event
    slot: list[int] = []  # position of each raw event in the batch (payload order)
    rejected: list[Rejection] = []  # untranslatable payloads, by position
    for index, payload in enumerate(payloads):
        try:
            events = translator.translate(payload)
        except Rejected as exc:
            position = len(raws) + len(rejected)
            rejected.append((position, payload.origin, exc.reason, *dead_letter_text(payload.body)))
            reasons[index] = exc.reason
            continue
        for event in events:
            slot.append(len(raws) + len(rejected))
            raws.append(RawEvent(source=payload.origin, raw=_line(event)))
            owner.append(index)
    untranslated = len(rejected)
    decoded = decode(raws, policy)
    for number, source, reason, text, exact in decoded.rejected:
        reasons.setdefault(owner[number], reason)
        rejected.append((slot[number], source, reason, text, exact))
    decoded.facts = [
        (slot[number], raw, ticket, fact) for number, raw, ticket, fact in decoded.facts
    ]
    decoded.rejected = sorted(rejected, key=lambda rejection: rejection[0])
    decoded.read = len(raws) + untranslated  # counting events, like ingest
    return TranslatedBatch(decoded, len(raws), reasons)


def dead_letter_text(body: bytes) -> tuple[str, bytes | None]:
    """A payload as text for its dead letter, and its exact bytes when not UTF-8."""
    text = body.decode("utf-8", errors="replace")
    return text, (None if text.encode("utf-8") == body else body)


def _line(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))
