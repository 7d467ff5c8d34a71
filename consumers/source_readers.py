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
from slaclock.consumers.source_config import SourceConfig, text_form
from slaclock.consumers.source_kinds import (
    DEFAULTS,
    MISSING,
    TicketObject,
    canonical_hash,
    lookup,
    ticket_object,
    to_instant,
    updated,
)
from slaclock.consumers.source_rules import Change, Comment, Reply, State


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
            before = State(
                item.get("fromString"), before.priority, before.priority_text, before.group
            )
            after = State(item.get("toString"), after.priority, after.priority_text, after.group)
        elif item.get("field") == "priority":
            old = ticket.priority(item.get("fromString"), f"{where}.fromString")
            new = ticket.priority(item.get("toString"), f"{where}.toString")
            before = before._replace(priority=old.priority, priority_text=old.priority_text)
            after = after._replace(priority=new.priority, priority_text=new.priority_text)
        elif config.group is not None and _jira_group_item(config.group, item):
            old_group, new_group = _jira_group_values(config.group, item)
            before = before._replace(group=ticket.group(old_group, f"{where}.from"))
            after = after._replace(group=ticket.group(new_group, f"{where}.to"))
    comment = data.get("comment") if isinstance(data.get("comment"), dict) else None
    change_id, label = _jira_id(data, changelog, comment)
    notes: tuple[str, ...] = ()
    acknowledges = False
    reply = None
    if comment is not None:
        public = comment.get("jsdPublic") is not False
        by_requester = _jira_by_requester(config, comment, ticket)
        acknowledges = public and not by_requester
        counted = "" if acknowledges else " (not counted)"
        named = label.startswith("comment")
        notes = (counted.strip(),) if named else (f"comment {comment.get('id')}{counted}",)
        if config.replies and public and not _jira_comment_removed(data):
            stamp = (comment.get("created"), "comment.created")
            reply = _reply("comment", comment.get("id"), change_id, stamp, at, by_requester)
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
        return text_form(changelog["id"]), f"changelog {text_form(changelog['id'])}"
    if comment is not None and comment.get("id") is not None:
        return text_form(comment["id"]), f"comment {text_form(comment['id'])}"
    return canonical_hash(data), str(data.get("webhookEvent") or "webhook")


def _jira_group_item(path: str, item: dict[str, Any]) -> bool:
    """Whether a changelog item changes the field the ``group`` path reads
    (``fields.customfield_10070.value``: the item whose ``fieldId`` or ``field`` is
    ``customfield_10070``)."""
    parts = path.split(".")
    if len(parts) < 2 or parts[0] != "fields":
        return False
    return parts[1] in (item.get("fieldId"), item.get("field"))


def _jira_group_values(path: str, item: dict[str, Any]) -> tuple[Any, Any]:
    """A group item's old and new value: ``from``/``to`` when the path reads an id,
    else the texts ``fromString``/``toString``."""
    if path.endswith(".id"):
        return item.get("from"), item.get("to")
    return item.get("fromString"), item.get("toString")


def _jira_by_requester(config: SourceConfig, comment: dict[str, Any], ticket: TicketObject) -> bool:
    """Whether the comment's author is the issue's reporter. A ``comment_created`` body has
    no reporter: a source with ``replies`` then takes a JSM customer account (``accountType``
    ``customer``) as the requester's side (without ``replies``, as before: not the reporter)."""
    reporter = lookup(ticket.obj, "fields.reporter")
    author = comment.get("author")
    if reporter is MISSING and config.replies and isinstance(author, dict):
        return author.get("accountType") == "customer"
    return _same_person(author, reporter)


def _jira_comment_removed(data: dict[str, Any]) -> bool:
    """A deleted comment's webhook (it carries the comment, but is no reply)."""
    return data.get("webhookEvent") == "comment_deleted" or data.get("issue_event_type_name") in (
        "issue_comment_deleted",
    )


def _reply(
    word: str,
    comment_id: Any,
    change_id: str,
    stamp: tuple[Any, str],
    at: datetime,
    by_requester: bool,
) -> Reply:
    """A public comment (``word``: comment, article, followup): its own id (else the
    change's) and its own time ``stamp`` (value, path; else the change's time ``at``)."""
    own_id = change_id
    if comment_id is not None and comment_id != "" and not isinstance(comment_id, dict | list):
        own_id = text_form(comment_id)
    value, where = stamp
    when = at if value is None else to_instant(value, where)
    return Reply(own_id, when, by_requester, f"{word} {own_id}")


def _same_person(author: Any, requester: Any) -> bool:
    """Whether a comment's author is the ticket's requester (Jira user objects)."""
    if not isinstance(author, dict) or not isinstance(requester, dict):
        return False
    for key in ("accountId", "key", "name", "emailAddress"):
        if author.get(key) is not None and author.get(key) == requester.get(key):
            return True
    return False


def _zendesk(config: SourceConfig, data: dict[str, Any]) -> Change:
    ticket = ticket_object(config, data, "detail")
    after = ticket.state(DEFAULTS["zendesk"][2])
    before = after
    at = updated(config, ticket, "") or to_instant(data.get("time"), "time")
    event = data.get("event") if isinstance(data.get("event"), dict) else {}
    kind = str(data.get("type") or "")
    acknowledges = False
    if kind.endswith("status_changed") and "current" in event:
        before = State(
            _text(event.get("previous")), after.priority, after.priority_text, after.group
        )
        after = State(_text(event.get("current")), after.priority, after.priority_text, after.group)
    elif kind.endswith("priority_changed") and "current" in event:
        old = ticket.priority(event.get("previous"), "event.previous")
        new = ticket.priority(event.get("current"), "event.current")
        before = before._replace(priority=old.priority, priority_text=old.priority_text)
        after = after._replace(priority=new.priority, priority_text=new.priority_text)
    elif config.group is not None and kind.endswith("group_assignment_changed"):
        old_group = ticket.group(_zendesk_id(event.get("previous")), "event.previous")
        before = before._replace(group=old_group)
        after = after._replace(
            group=ticket.group(_zendesk_id(event.get("current")), "event.current")
        )
    comment = event.get("comment") if isinstance(event.get("comment"), dict) else None
    notes: tuple[str, ...] = ()
    change_id = text_form(data["id"]) if data.get("id") is not None else canonical_hash(data)
    reply = None
    if comment is not None:
        author = lookup(comment, "author.id")
        requester = ticket.get("requester_id")
        by_requester = author is not MISSING and requester is not MISSING
        by_requester = by_requester and text_form(author) == text_form(requester)
        public = comment.get("is_public") is True
        acknowledges = public and not by_requester
        notes = (f"comment {comment.get('id')}" + ("" if acknowledges else " (not counted)"),)
        if config.replies and public and not _opening(ticket, "created_at", at):
            stamp = (None, "time")
            reply = _reply("comment", comment.get("id"), change_id, stamp, at, by_requester)
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


def _zendesk_id(value: Any) -> Any:
    """A Zendesk event's ``previous``/``current``: the value, or the ``id`` of an object."""
    return value.get("id", value.get("name")) if isinstance(value, dict) else value


def _opening(ticket: TicketObject, created_default: str, at: Any) -> bool:
    """Whether a comment at ``at`` is the message that opens the ticket (made with it: at
    or before the ticket's creation time; a body without one has no opening message)."""
    path = ticket.config.created or created_default
    value = ticket.get(path)
    if value is MISSING or value is None or value == "":
        return False
    return at <= to_instant(value, ticket.path(path))


def _text(value: Any) -> str | None:
    return None if value is None else text_form(value)


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
    notes = (f"article {article.get('id')}",) if acknowledges else ()
    change = _snapshot(config, "zammad", data, ticket, at, acknowledges, notes)
    if config.replies and article.get("internal") is False:
        change.reply = _zammad_reply(ticket, article, change.change_id, at)
    return change


def _zammad_reply(
    ticket: TicketObject, article: dict[str, Any], change_id: str, at: datetime
) -> Reply | None:
    """A public article as a reply: the requester's side when it is the ticket's customer's
    (``created_by_id`` is ``customer_id``) or sent as ``Customer``; the provider's when sent
    as ``Agent`` (rule 3); ``System`` articles (auto-replies) and the article that opened
    the ticket are none."""
    sender = article.get("sender")
    if sender not in ("Agent", "Customer"):
        return None
    first = ticket.get("article_ids")
    if isinstance(first, list) and first and first[0] == article.get("id"):
        return None  # the opening message (Zammad's first article)
    stamp = article.get("created_at")
    when = at if stamp is None else to_instant(stamp, "article.created_at")
    if not isinstance(first, list) and _opening(ticket, "created_at", when):
        return None
    author = article.get("created_by_id")
    by_requester = sender == "Customer" or author == ticket.get("customer_id")
    return _reply(
        "article", article.get("id"), change_id, (stamp, "article.created_at"), at, by_requester
    )


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
        notes = (f"followup {item.get('id')}" + ("" if acknowledges else " (not counted)"),)
        stamp = item.get("date_creation", item.get("date_mod", item.get("date")))
        if stamp is not None:
            at = to_instant(stamp, "item.date_creation")
    change = _snapshot(config, "glpi", data, ticket, at, acknowledges, notes)
    if config.replies and public_followup:
        assert isinstance(item, dict)
        by_requester = not acknowledges  # public: acknowledging = not by a requester
        where = (None, "item.date_creation")  # ``at`` is the followup's time already
        change.reply = _reply("followup", item.get("id"), change.change_id, where, at, by_requester)
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
        return _debezium_comment(config, data, body)
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
    change_id = text_form(lsn) if lsn not in (MISSING, None) else canonical_hash(body)
    label = f"lsn {change_id} op {data.get('op')}" if lsn not in (MISSING, None) else "row"
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
            change.requester = text_form(requester)
    return change


def _debezium_comment(
    config: SourceConfig, data: dict[str, Any], body: dict[str, Any]
) -> Change | None:
    """A row of the comments table (``comments``): the ticket it belongs to, its author,
    whether it is public, its time and id. A comment of a ticket not seen yet is rejected
    (its ticket's row carries the customer and creation time)."""
    columns = config.comments
    assert columns is not None
    row = (
        TicketObject(config, data["after"], "after")
        if isinstance(data.get("after"), dict)
        else None
    )
    if row is None:
        return None  # a deleted comment (its before image alone): nothing
    ticket_id = f"{config.ticket_prefix}{text_form(row.required(columns.ticket, 'ticket id'))}"
    author = row.get(columns.author)
    public = True
    if columns.public is not None:
        public = _truthy(row.get(columns.public))
    elif columns.internal is not None:
        public = not _truthy(row.get(columns.internal))
    lsn = lookup(data, "source.lsn")
    change_id = text_form(lsn) if lsn not in (MISSING, None) else canonical_hash(body)
    own = row.get(columns.id) if columns.id is not None else MISSING
    comment_id = text_form(own) if own not in (MISSING, None, "") else change_id
    stamp = row.get(columns.created) if columns.created is not None else MISSING
    if stamp in (MISSING, None):
        at = to_instant(lookup(data, "source.ts_ms"), "source.ts_ms", epoch_unit="ms")
    else:
        at = to_instant(stamp, row.path(columns.created or ""))

    def unseen() -> tuple[str, datetime]:
        raise Rejected(
            f"{row.path(columns.ticket)}: ticket {ticket_id!r} not seen yet by source "
            f"{config.name!r} (a comment before its ticket's row)"
        )

    label = f"comment {comment_id} ({columns.table})"
    author_text = None if author in (MISSING, None, "") else text_form(author)
    return Change(
        ticket_id=ticket_id,
        first_sight=unseen,
        at=at,
        change_id=change_id,
        after=State(None, None),
        before=State(None, None),
        label=label,
        comment=Comment(comment_id, at, author_text, public, label),
    )


def _truthy(value: Any) -> bool:
    """A boolean column as Debezium sends it (true/false, 1/0, "t"/"f", "true"/"false")."""
    if isinstance(value, str):
        return value.strip().lower() in ("t", "true", "1", "y", "yes")
    return bool(value) and value is not MISSING


READERS: dict[str, Callable[[SourceConfig, dict[str, Any]], Change | None]] = {
    "jira": _jira,
    "zendesk": _zendesk,
    "zammad": _zammad,
    "glpi": _glpi,
    "debezium": _debezium,
}
