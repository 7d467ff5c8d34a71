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

from slaclock.consumers.events import Rejected, Rejection, decode
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.source_config import SourceConfig
from slaclock.consumers.source_readers import read_change
from slaclock.consumers.source_rules import Keeper, MemoryKeeper, TicketState, apply_change
from slaclock.consumers.sources import RawEvent
from slaclock.projections.source_state import read_state, state_row


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
        change = read_change(self.config, payload.body)
        if change is None:
            return []
        return apply_change(self.config, change, self.keeper, payload.delivery_id)


class StoreKeeper:
    """A keeper for one batch of one source: reads the stored state
    (``projections.source_state``), remembers changes in memory, and gives them as rows to
    write in the batch's transaction (:meth:`rows`)."""

    def __init__(self, store: Any, source: str) -> None:
        self.store = store
        self.source = source
        self._states: dict[str, TicketState | None] = {}
        self._changed: dict[str, TicketState] = {}

    def load(self, ticket_id: str) -> TicketState | None:
        if ticket_id not in self._states:
            data = read_state(self.store, self.source, ticket_id)
            self._states[ticket_id] = TicketState.from_json(data) if data else None
        return self._states[ticket_id]

    def keep(self, ticket_id: str, state: TicketState) -> None:
        self._states[ticket_id] = state
        self._changed[ticket_id] = state

    def rows(self) -> list[tuple[str, str, str]]:
        """The changed states as ``sla_source_state`` rows, in key order."""
        return [
            state_row(self.source, ticket_id, state.to_json())
            for ticket_id, state in sorted(self._changed.items())
        ]


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
        failed: then nothing of the batch, events nor kept state, was stored)."""
        with self._lock:
            return self._take(payloads)

    def _take(self, payloads: Sequence[Payload]) -> IntakeResult:
        keeper = StoreKeeper(self.ingestor.store, self.config.name)
        translator = Translator(self.config, keeper)
        result = IntakeResult(read=len(payloads))
        raws: list[RawEvent] = []
        owner: list[int] = []  # payload index of each raw event
        failed: list[tuple[int, str, str, bytes]] = []
        for index, payload in enumerate(payloads):
            try:
                events = translator.translate(payload)
            except Rejected as exc:
                failed.append((index, payload.origin, exc.reason, payload.body))
                result.reasons[index] = exc.reason
                continue
            for event in events:
                raws.append(RawEvent(source=payload.origin, raw=_line(event)))
                owner.append(index)
        result.emitted = len(raws)
        decoded = decode(raws, self.ingestor.policy)
        rejected: list[Rejection] = list(decoded.rejected)
        for event_index, _source, reason, _text, _raw in decoded.rejected:
            result.reasons.setdefault(owner[event_index], reason)
        base = len(raws)
        for number, (_index, origin, reason, body) in enumerate(failed):
            rejected.append((base + number, origin, reason, *dead_letter_text(body)))
        before = self.ingestor.stats.as_dict()
        self.ingestor.stats.read += len(raws) + len(failed)
        self.ingestor.process_decoded(decoded.facts, rejected, source_state=keeper.rows())
        after = self.ingestor.stats.as_dict()
        result.accepted = after["accepted"] - before["accepted"]
        result.duplicates = after["duplicates"] - before["duplicates"]
        result.rejected = after["rejected"] - before["rejected"]
        return result


def dead_letter_text(body: bytes) -> tuple[str, bytes | None]:
    """A payload as text for its dead letter, and its exact bytes when not UTF-8."""
    text = body.decode("utf-8", errors="replace")
    return text, (None if text.encode("utf-8") == body else body)


def _line(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))
