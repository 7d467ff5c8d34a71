"""One reader per source kind: a payload (parsed JSON) in, a ``Change`` out.

Jira and Zendesk send deltas (Jira's changelog ``fromString``/``toString``, Zendesk's
``event.previous``/``current``); Zammad and GLPI send whole snapshots; Debezium is a delta
when its ``before`` image is full (it holds the status), else a snapshot. With ``replies``,
a public comment (Jira comment, Zendesk comment event, Zammad article, GLPI followup) also
becomes a :class:`Reply`; with ``group``, the group is part of the state compared. The paths and
defaults each kind uses are documented in docs/sources.md; ``consumers.source_kinds`` holds
the shared helpers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from slaclock.consumers.events import Rejected, parse_json
from slaclock.consumers.source_comments import (
    debezium_comment,
    jira_by_requester,
    jira_comment_removed,
    jira_group_item,
    jira_group_values,
    opening,
    public_reply,
    zammad_reply,
    zendesk_id,
)
from slaclock.consumers.source_config import SourceConfig, text_form
from slaclock.consumers.source_kinds import (
    DEFAULTS,
    MISSING,
    TicketObject,
    canonical_hash,
    lookup,
    payload_text,
    status_text,
    ticket_object,
    to_instant,
    updated,
)
from slaclock.consumers.source_rules import Change, State


def read_change(config: SourceConfig, body: bytes) -> Change | None:
    """The change in one payload; None when it changes nothing slaclock follows (a deleted
    row, a tombstone). The customer and creation time are read later, at first sight only
    (``Change.first_sight``; the ``since`` filter applies there)."""
    if config.kind == "debezium" and body.strip() in (b"", b"null"):
        return None  # a tombstone
    data = parse_json(body)
    return READERS[config.kind](config, data)


def _base(config: SourceConfig, ticket: TicketObject) -> dict[str, Any]:
    """The fields every kind reads the same way from its ticket object."""
    _, id_path, _, created_path, word = DEFAULTS[config.kind]
    return {
        "ticket_id": ticket.ticket_id(id_path),
        "first_sight": partial(ticket.first_sight, created_path),
        "status_word": word,
    }


def _jira(config: SourceConfig, data: dict[str, Any]) -> Change:
    ticket = ticket_object(config, data, "issue")
    after = ticket.state(DEFAULTS["jira"][2])
    before = after
    at = updated(config, ticket, "") or to_instant(
        data.get("timestamp"), "timestamp", epoch_unit="ms"
    )
    changelog = data.get("changelog") if isinstance(data.get("changelog"), dict) else {}
    items = changelog.get("items") if isinstance(changelog.get("items"), list) else []
    for number, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        where = f"changelog.items.{number}"
        if item.get("field") == "status":
            old_status = status_text(item.get("fromString"), f"{where}.fromString")
            new_status = status_text(item.get("toString"), f"{where}.toString")
            before = State(old_status, before.priority, before.priority_text, before.group)
            after = State(new_status, after.priority, after.priority_text, after.group)
        elif item.get("field") == "priority":
            old = ticket.priority(item.get("fromString"), f"{where}.fromString")
            new = ticket.priority(item.get("toString"), f"{where}.toString")
            before = State(before.status, old.priority, old.priority_text, before.group)
            after = State(after.status, new.priority, new.priority_text, after.group)
        elif config.group is not None and jira_group_item(config.group, item):
            old_group, new_group = jira_group_values(config.group, item)
            before = before._replace(group=ticket.group(old_group, f"{where}.from"))
            after = after._replace(group=ticket.group(new_group, f"{where}.to"))
    comment = data.get("comment") if isinstance(data.get("comment"), dict) else None
    change_id, label = _jira_id(data, changelog, comment)
    notes: tuple[str, ...] = ()
    acknowledges = False
    reply = None
    if comment is not None:
        public = comment.get("jsdPublic") is not False
        by_requester = jira_by_requester(config, comment, ticket)
        acknowledges = public and not by_requester
        counted = "" if acknowledges else " (not counted)"
        named = label.startswith("comment")
        number = payload_text(comment.get("id"), "comment.id")
        notes = (counted.strip(),) if named else (f"comment {number}{counted}",)
        if config.replies and public and not jira_comment_removed(data):
            stamp = (comment.get("created"), "comment.created")
            reply = public_reply("comment", number, change_id, stamp, at, by_requester)
    return Change(
        at=at,
        change_id=change_id,
        after=after,
        before=before,
        acknowledges=acknowledges,
        label=label,
        notes=tuple(n for n in notes if n),
        reply=reply,
        **_base(config, ticket),
    )


def _jira_id(
    data: dict[str, Any], changelog: dict[str, Any], comment: dict[str, Any] | None
) -> tuple[str, str]:
    if changelog.get("id") is not None:
        number = payload_text(changelog["id"], "changelog.id")
        return number, f"changelog {number}"
    if comment is not None and comment.get("id") is not None:
        number = payload_text(comment["id"], "comment.id")
        return number, f"comment {number}"
    return canonical_hash(data), payload_text(data.get("webhookEvent") or "webhook", "webhookEvent")


def _zendesk(config: SourceConfig, data: dict[str, Any]) -> Change:
    ticket = ticket_object(config, data, "detail")
    after = ticket.state(DEFAULTS["zendesk"][2])
    before = after
    at = updated(config, ticket, "") or to_instant(data.get("time"), "time")
    event = data.get("event") if isinstance(data.get("event"), dict) else {}
    kind = payload_text(data.get("type") or "", "type")
    acknowledges = False
    if kind.endswith("status_changed") and "current" in event:
        old_status = status_text(event.get("previous"), "event.previous")
        new_status = status_text(event.get("current"), "event.current")
        before = State(old_status, after.priority, after.priority_text, after.group)
        after = State(new_status, after.priority, after.priority_text, after.group)
    elif kind.endswith("priority_changed") and "current" in event:
        old = ticket.priority(event.get("previous"), "event.previous")
        new = ticket.priority(event.get("current"), "event.current")
        before = State(after.status, old.priority, old.priority_text, after.group)
        after = State(after.status, new.priority, new.priority_text, after.group)
    elif config.group is not None and kind.endswith("group_assignment_changed"):
        old_group = ticket.group(zendesk_id(event.get("previous")), "event.previous")
        before = before._replace(group=old_group)
        after = after._replace(
            group=ticket.group(zendesk_id(event.get("current")), "event.current")
        )
    comment = event.get("comment") if isinstance(event.get("comment"), dict) else None
    notes: tuple[str, ...] = ()
    has_id = data.get("id") is not None
    change_id = payload_text(data["id"], "id") if has_id else canonical_hash(data)
    reply = None
    if comment is not None:
        author = lookup(comment, "author.id")
        requester = ticket.get("requester_id")
        by_requester = author is not MISSING and requester is not MISSING
        by_requester = by_requester and text_form(author) == text_form(requester)
        public = comment.get("is_public") is True
        acknowledges = public and not by_requester
        number = payload_text(comment.get("id"), "event.comment.id")
        notes = (f"comment {number}" + ("" if acknowledges else " (not counted)"),)
        if config.replies and public and not opening(ticket, "created_at", at):
            stamp = (None, "time")
            reply = public_reply("comment", number, change_id, stamp, at, by_requester)
    label = f"event {change_id} {kind.rsplit(':', 1)[-1]}".rstrip()
    return Change(
        at=at,
        change_id=change_id,
        after=after,
        before=before,
        acknowledges=acknowledges,
        label=label,
        notes=notes,
        reply=reply,
        **_base(config, ticket),
    )


def _zammad(config: SourceConfig, data: dict[str, Any]) -> Change:
    ticket = ticket_object(config, data, "ticket")
    at = updated(config, ticket, "updated_at")
    assert at is not None
    article = data.get("article") if isinstance(data.get("article"), dict) else {}
    acknowledges = (
        article.get("internal") is False
        and article.get("sender") == "Agent"
        and article.get("created_by_id", None) != ticket.get("customer_id")
    )
    notes = (f"article {payload_text(article.get('id'), 'article.id')}",) if acknowledges else ()
    change = _snapshot(config, "zammad", data, ticket, at, acknowledges, notes)
    if config.replies and article.get("internal") is False:
        change.reply = zammad_reply(ticket, article, change.change_id, at)
    return change


def _glpi(config: SourceConfig, data: dict[str, Any]) -> Change:
    """GLPI: ``item`` is the ticket, or a followup, solution or task of ``parent_item`` (such
    an item without ``parent_item`` has no ticket object: rejected)."""
    item = data.get("item")
    if isinstance(data.get("parent_item"), dict):
        ticket = ticket_object(config, data, "parent_item")
    elif isinstance(item, dict) and _is_child(data, item):
        raise Rejected("parent_item: no ticket object (item is a followup, solution or task)")
    else:
        ticket = ticket_object(config, data, "item")
        item = None
    acknowledges = public_followup = False
    notes: tuple[str, ...] = ()
    at = updated(config, ticket, "date_mod")
    assert at is not None
    if isinstance(item, dict) and _is_followup(data, item):
        public_followup = not item.get("is_private")
        acknowledges = public_followup and _author(item) not in _requesters(ticket)
        number = payload_text(item.get("id"), "item.id")
        notes = (f"followup {number}" + ("" if acknowledges else " (not counted)"),)
        stamp = item.get("date_creation", item.get("date_mod", item.get("date")))
        if stamp is not None:
            at = to_instant(stamp, "item.date_creation")
    change = _snapshot(config, "glpi", data, ticket, at, acknowledges, notes)
    if config.replies and public_followup:
        assert isinstance(item, dict)
        by_requester = not acknowledges  # public: acknowledging = not by a requester
        where = (None, "item.date_creation")  # ``at`` is the followup's time already
        change.reply = public_reply(
            "followup", item.get("id"), change.change_id, where, at, by_requester
        )
    return change


def _snapshot(
    config: SourceConfig,
    kind: str,
    data: dict[str, Any],
    ticket: TicketObject,
    at: datetime,
    acknowledges: bool,
    notes: tuple[str, ...],
) -> Change:
    """A whole-ticket snapshot (Zammad, GLPI): its change id is the canonical body's hash."""
    return Change(
        at=at,
        change_id=canonical_hash(data),
        after=ticket.state(DEFAULTS[kind][2]),
        before=None,
        acknowledges=acknowledges,
        label="snapshot",
        notes=notes,
        **_base(config, ticket),
    )


def _is_child(data: dict[str, Any], item: dict[str, Any]) -> bool:
    """Whether ``item`` is a followup, solution or task rather than a ticket: named so by the
    payload's ``itemtype``, else it points at its parent (followups and solutions carry
    ``itemtype`` + ``items_id``, tasks ``tickets_id``; a ticket has neither)."""
    itemtype = data.get("itemtype")
    if isinstance(itemtype, str) and itemtype:
        return any(word in itemtype.lower() for word in ("followup", "solution", "task"))
    return "items_id" in item or "tickets_id" in item


def _is_followup(data: dict[str, Any], item: dict[str, Any]) -> bool:
    """A followup (not a solution or task): named so by the payload's ``itemtype``, else an
    item with ``is_private`` and no task ``state``/``actiontime`` (an item's own
    ``itemtype`` names its parent's type, ``Ticket``)."""
    itemtype = data.get("itemtype")
    if isinstance(itemtype, str) and itemtype:
        return "followup" in itemtype.lower()
    return "is_private" in item and "state" not in item and "actiontime" not in item


def _author(item: dict[str, Any]) -> str | None:
    for key in ("users_id", "user", "author"):
        value = item.get(key)
        if isinstance(value, dict):
            value = value.get("id")
        if value is not None:
            return text_form(value)
    return None


def _requesters(ticket: TicketObject) -> set[str]:
    team = ticket.get("team")
    people = {
        text_form(member.get("id"))
        for member in (team if isinstance(team, list) else [])
        if isinstance(member, dict) and member.get("role") == "requester"
    }
    recipient = ticket.get("users_id_recipient")
    if recipient is not MISSING and recipient is not None:
        people.add(text_form(recipient))
    return people


def _debezium(config: SourceConfig, body: dict[str, Any]) -> Change | None:
    data = body
    if isinstance(data.get("payload"), dict) and "schema" in data:
        data = data["payload"]  # the JSON converter with schemas enabled
    if data.get("op") == "d":
        return None
    comments = config.comments
    if comments is not None and lookup(data, "source.table") == comments.table:
        return debezium_comment(config, data, body)
    key = "after" if isinstance(data.get("after"), dict) else "before"
    if not isinstance(data.get(key), dict):
        raise Rejected("after: no ticket object (nor a before image)")
    ticket = ticket_object(config, data, key)
    status_path = config.status or config.status_column or ""
    after = ticket.state(status_path)
    before = None
    image = data.get("before")
    if key == "after" and isinstance(image, dict) and lookup(image, status_path) is not MISSING:
        old = TicketObject(config, image, "before")
        before = old.state(status_path)
    at = updated(config, ticket, "")
    if at is None:
        at = to_instant(lookup(data, "source.ts_ms"), "source.ts_ms", epoch_unit="ms")
    lsn = lookup(data, "source.lsn")
    if lsn not in (MISSING, None):
        change_id = payload_text(lsn, "source.lsn")
        label = f"lsn {change_id} op {payload_text(data.get('op'), 'op')}"
    else:
        change_id, label = canonical_hash(body), "row"
    change = Change(
        at=at,
        change_id=change_id,
        after=after,
        before=before,
        label=label,
        **_base(config, ticket),
    )
    if config.requester is not None:
        requester = ticket.get(config.requester)
        if requester not in (MISSING, None, "") and not isinstance(requester, dict | list):
            change.requester = payload_text(requester, config.requester)
    return change


READERS: dict[str, Callable[[SourceConfig, dict[str, Any]], Change | None]] = {
    "jira": _jira,
    "zendesk": _zendesk,
    "zammad": _zammad,
    "glpi": _glpi,
    "debezium": _debezium,
}
