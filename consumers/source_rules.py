"""What a helpdesk's change becomes: the rules every source kind shares.

A kind's reader (``consumers.source_kinds``) turns a payload into a :class:`Change`: the
ticket, the change's time and id, the state after it and, for delta sources, the state before
it. :func:`apply_change` compares before and after and emits the slaclock events (first
sight, status transitions, first-only acknowledgement and intervention, reprioritisation;
when the source asks, group assignments and replies) in a fixed order, each with a
deterministic id, so that a redelivery emits the same ids again. Snapshot sources have no
"before": it is the snapshot kept before this one (by change time), and a late snapshot also
makes the one after it compare again. What must be remembered between payloads lives behind
a :class:`Keeper` (in memory, or in the store).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from slaclock.consumers.source_config import SourceConfig

KEPT_SNAPSHOTS = 500
"""Snapshots kept per ticket (the newest); an older delivery than all of them compares with
the ticket's state at creation."""

ORDER = (
    "ticket.reopened",
    "ticket.reprioritised",
    "ticket.assigned",
    "ticket.acknowledged",
    "ticket.intervention_started",
    "ticket.customer_replied",
    "ticket.agent_replied",
    "ticket.paused",
    "ticket.resumed",
    "ticket.resolved",
)
"""Rule 6: the order of the events of one change (they share its time)."""

RUNNING, PAUSED, RESOLVED = "running", "paused", "resolved"


class State(NamedTuple):
    """A ticket's status, priority and group as the source has it (``status`` None: a plain
    running status, the state a ticket is created in; ``group`` None: none, or the source
    does not read it). A named tuple: several are made per payload, and a tuple is made
    several times faster than a frozen dataclass."""

    status: str | None
    priority: int | None
    priority_text: str | None = None
    group: str | None = None


class Reply(NamedTuple):
    """A public comment of a change, for a source with ``replies = true``: its own id (the
    reply event's change id, rule 8), its time, and whether the requester wrote it."""

    comment_id: str
    at: datetime
    by_requester: bool
    label: str  # "comment 10931", "article 30417", "followup 9304"


class Comment(NamedTuple):
    """A row of a debezium source's comments table: a comment alone, no ticket state. Its
    author is compared with the requester kept from the ticket's rows."""

    comment_id: str
    at: datetime
    author: str | None
    public: bool
    label: str  # "comment 88 (ticket_comments)"


@dataclass(slots=True)
class Change:
    """One change of one ticket, read from a payload (made once and not changed; not frozen,
    which would cost a ``__setattr__`` per field on the translation's hot path).

    ``first_sight`` reads the ticket's mapped customer and creation time (raising
    :class:`~slaclock.consumers.events.Rejected` naming the path): only the first sight of
    a ticket needs them, and later bodies may not carry them (Jira's ``comment_created``)."""

    ticket_id: str
    first_sight: Callable[[], tuple[str, datetime]]  # -> (customer, created_at)
    at: datetime  # the change's own time (rule 6)
    change_id: str  # the body's id of the change, else the hash of the canonical body
    after: State
    before: State | None  # delta sources: the state before; None: a snapshot
    acknowledges: bool = False  # a public comment not by the requester (rule 3)
    label: str = ""  # "changelog 10234", "snapshot", "event <id>"
    status_word: str = "status"
    notes: tuple[str, ...] = ()  # "comment 10931"
    reply: Reply | None = None  # a public comment, when the source asks for replies
    requester: str | None = None  # debezium: the ticket row's requester (kept for comments)
    comment: Comment | None = None  # debezium: a comment row (``after`` is not compared)


@dataclass
class TicketState:
    """What is remembered of one ticket of one source."""

    first: str  # the change id of the first sight (its redelivery emits the creation again)
    priority: int | None  # the priority at creation
    acknowledged: str | None = None  # change id that emitted the first acknowledgement
    intervention: str | None = None  # ... the first intervention
    acknowledged_at: int | None = None  # their change times (µs): a late earlier one wins
    intervention_at: int | None = None
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # ordered by change time
    group: str | None = None  # the group at creation (sources with a ``group`` path)
    requester: str | None = None  # debezium with comments: the ticket row's requester

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TicketState:
        return cls(**data)


class Keeper(Protocol):
    """Where a translator keeps what it remembers of each ticket of a source."""

    def load(self, ticket_id: str) -> TicketState | None: ...

    def keep(self, ticket_id: str, state: TicketState) -> None: ...


class MemoryKeeper:
    """A keeper for one run (``slaclock translate``): nothing survives the process."""

    def __init__(self) -> None:
        self.states: dict[str, TicketState] = {}

    def load(self, ticket_id: str) -> TicketState | None:
        return self.states.get(ticket_id)

    def keep(self, ticket_id: str, state: TicketState) -> None:
        self.states[ticket_id] = state


def event_id(source: str, ticket_id: str, change_id: str, event_type: str) -> str:
    """Rule 8: ``<source>:`` + the first 40 hex digits of SHA-256 of
    ``<ticket id>\\n<change id>\\n<event type>``."""
    digest = hashlib.sha256(f"{ticket_id}\n{change_id}\n{event_type}".encode()).hexdigest()
    return f"{source}:{digest[:40]}"


def category(config: SourceConfig, status: str | None) -> str:
    if status is not None and status in config.resolved_statuses:
        return RESOLVED
    if status is not None and status in config.paused_statuses:
        return PAUSED
    return RUNNING


def apply_change(
    config: SourceConfig, change: Change, keeper: Keeper, delivery_id: str | None = None
) -> list[dict[str, Any]]:
    """The events of ``change`` (rules 1-8), remembering what later changes need. The
    customer and creation time are read at first sight only (a ticket created before the
    source's ``since`` is then ignored: nothing is emitted nor kept)."""
    state = keeper.load(change.ticket_id)
    events: list[dict[str, Any]] = []
    emit = _Emitter(config, change.ticket_id, delivery_id, events)
    if state is None or state.first == change.change_id:
        customer, created_at = change.first_sight()
        if state is None and config.since is not None and created_at < config.since:
            return events
        created = change.before or change.after
        if state is None:
            state = TicketState(first=change.change_id, priority=created.priority)
            state.group = created.group
        emit.created(change, customer, created_at, state.priority, state.group)
    if change.comment is not None:
        _comment(config, state, emit, change.comment)
        keeper.keep(change.ticket_id, state)
        return events
    if change.requester is not None:
        state.requester = change.requester
    base = State(None, state.priority, None, state.group)
    kept = _entry(change)
    reply = change.reply
    if reply is not None:  # its source text: the change and the comment, without notes
        text = change.label if reply.label in change.label else f"{change.label} {reply.label}"
        reply = reply._replace(label=text.strip())
    if change.before is not None:  # a delta: before and after are in the change
        before = base if state.first == change.change_id else change.before
        description = _describe(change, before)
        _compare(config, state, emit, before, change.after, kept, description, reply)
        _insert(state.snapshots, kept)
    else:
        known = len(state.snapshots)
        position = _insert(state.snapshots, kept)
        previous = _state(state.snapshots[position - 1]) if position else base
        description = _describe(change, previous)
        _compare(config, state, emit, previous, change.after, kept, description, reply)
        late = len(state.snapshots) > known and position + 1 < len(state.snapshots)
        if late:  # a late snapshot: the one after it compares again (a redelivery: no need)
            following = state.snapshots[position + 1]
            note = f"{following['label']} at {following['at']} re-compared after a late delivery"
            _compare(config, state, emit, change.after, _state(following), following, note)
    del state.snapshots[:-KEPT_SNAPSHOTS]
    keeper.keep(change.ticket_id, state)
    return events


def _comment(config: SourceConfig, state: TicketState, emit: _Emitter, comment: Comment) -> None:
    """A comment row: the first public one not by the requester acknowledges (rule 3); with
    ``replies``, every public one is a reply (section 5). Nothing is kept as a snapshot."""
    if not comment.public:
        return
    by_requester = comment.author is not None and comment.author == state.requester
    kept = {
        "change": comment.comment_id,
        "at": comment.at.isoformat(),
        "micros": _micros(comment.at),
    }
    if not by_requester and _first(state, "acknowledged", kept):
        emit.event("ticket.acknowledged", kept, comment.label, State(None, None))
    if config.replies:
        reply = Reply(comment.comment_id, comment.at, by_requester, comment.label)
        kind = "ticket.customer_replied" if by_requester else "ticket.agent_replied"
        emit.reply(kind, reply)


def _entry(change: Change) -> dict[str, Any]:
    """A change as kept: enough to compare it again with a late neighbour."""
    return {
        "at": change.at.isoformat(),
        "micros": _micros(change.at),
        "change": change.change_id,
        "label": change.label,
        "status": change.after.status,
        "priority": change.after.priority,
        "priority_text": change.after.priority_text,
        "acknowledges": change.acknowledges,
        "group": change.after.group,
    }


def _state(entry: dict[str, Any]) -> State:
    return State(entry["status"], entry["priority"], entry.get("priority_text"), entry.get("group"))


def _micros(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000 + at.microsecond


def _insert(snapshots: list[dict[str, Any]], entry: dict[str, Any]) -> int:
    """Put ``entry`` in time order (after those of the same time); a redelivered change
    stays where it is. Returns its position."""
    for position, kept in enumerate(snapshots):
        if kept["change"] == entry["change"]:
            return position
    position = len(snapshots)
    while position and snapshots[position - 1]["micros"] > entry["micros"]:
        position -= 1
    snapshots.insert(position, entry)
    return position


def _describe(change: Change, before: State) -> str:
    parts = [change.label] if change.label else []
    if before.status != change.after.status:
        parts.append(f"{change.status_word} {before.status or '(new)'} -> {change.after.status}")
    if change.after.priority is not None and before.priority != change.after.priority:
        parts.append(
            f"priority {before.priority_text or before.priority} -> "
            f"{change.after.priority_text or change.after.priority}"
        )
    if change.after.group is not None and before.group != change.after.group:
        parts.append(f"group {before.group or '(none)'} -> {change.after.group}")
    return " ".join([*parts, *change.notes])


def _compare(
    config: SourceConfig,
    state: TicketState,
    emit: _Emitter,
    before: State,
    after: State,
    kept: dict[str, Any],
    description: str,
    reply: Reply | None = None,
) -> None:
    """Rules 2-6 for one comparison, emitted at ``kept``'s time with its change id; the
    change's ``reply`` (not that of a change compared again) at its own time and id."""
    was, now = category(config, before.status), category(config, after.status)
    entered = after.status if after.status != before.status else None
    types: list[str] = []
    if was == RESOLVED and now != RESOLVED:
        types.append("ticket.reopened")
    if after.priority is not None and after.priority != before.priority:
        types.append("ticket.reprioritised")
    if after.group is not None and after.group != before.group:
        types.append("ticket.assigned")
    acknowledging = kept["acknowledges"] or entered in config.acknowledge_statuses
    if acknowledging and _first(state, "acknowledged", kept):
        types.append("ticket.acknowledged")
    if entered in config.intervention_statuses and _first(state, "intervention", kept):
        types.append("ticket.intervention_started")
    if now == PAUSED and was != PAUSED:
        types.append("ticket.paused")
    if was == PAUSED and now == RUNNING:
        types.append("ticket.resumed")
    if now == RESOLVED and was != RESOLVED:
        types.append("ticket.resolved")
    if reply is not None:
        types.append("ticket.customer_replied" if reply.by_requester else "ticket.agent_replied")
    for event_type in sorted(types, key=ORDER.index):
        if reply is not None and event_type.endswith("_replied"):
            emit.reply(event_type, reply)
        else:
            emit.event(event_type, kept, description, after)


def _first(state: TicketState, marker: str, kept: dict[str, Any]) -> bool:
    """Rules 3-4: whether ``kept`` is the ticket's first acknowledgement (or intervention):
    none yet, the one already emitted (a redelivery repeats its id), or an earlier one that
    arrived late (the engine then stops the clock at it; the later one is not withdrawn)."""
    change, at = getattr(state, marker), getattr(state, f"{marker}_at")
    if change is not None and change != kept["change"] and (at is None or kept["micros"] >= at):
        return False
    setattr(state, marker, kept["change"])
    setattr(state, f"{marker}_at", kept["micros"])
    return True


@dataclass
class _Emitter:
    config: SourceConfig
    ticket_id: str
    delivery_id: str | None
    out: list[dict[str, Any]]

    def _source(self, description: str) -> str:
        text = f"{self.config.name}: {description}".rstrip()
        return f"{text} delivery {self.delivery_id}" if self.delivery_id else text

    def created(
        self,
        change: Change,
        customer: str,
        created_at: datetime,
        priority: int | None,
        group: str | None,
    ) -> None:
        event: dict[str, Any] = {
            "event_id": event_id(
                self.config.name, self.ticket_id, change.change_id, "ticket.created"
            ),
            "type": "ticket.created",
            "ticket_id": self.ticket_id,
            "occurred_at": created_at.isoformat(),
            "customer_id": customer,
            "source": self._source(f"{change.label} first sight".strip()),
        }
        if priority is not None:
            event["priority"] = priority
        if group is not None:
            event["group"] = group
        self.out.append(event)

    def event(self, event_type: str, kept: dict[str, Any], description: str, after: State) -> None:
        event: dict[str, Any] = {
            "event_id": event_id(self.config.name, self.ticket_id, kept["change"], event_type),
            "type": event_type,
            "ticket_id": self.ticket_id,
            "occurred_at": kept["at"],
            "source": self._source(description),
        }
        if event_type == "ticket.reprioritised":
            event["priority"] = after.priority
        elif event_type == "ticket.assigned":
            event["group"] = after.group
        self.out.append(event)

    def reply(self, event_type: str, reply: Reply) -> None:
        """A reply event: the comment's own id and time (rule 8, section 5); its source
        names the change and the comment (``reply.label``)."""
        self.out.append(
            {
                "event_id": event_id(
                    self.config.name, self.ticket_id, reply.comment_id, event_type
                ),
                "type": event_type,
                "ticket_id": self.ticket_id,
                "occurred_at": reply.at.isoformat(),
                "source": self._source(reply.label),
            }
        )
