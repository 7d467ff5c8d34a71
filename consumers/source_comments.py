"""Comments and groups as each kind's reader finds them (service levels, section 5).

Which comment of a payload is a public reply, by whom (the ticket's requester, or the
provider), at what time and with which id; the message that opens a ticket (no reply); which
changelog item or event moves the ``group`` a source reads; and the rows of a Debezium
source's comments table. ``consumers.source_readers`` calls these; the rules that turn them
into events are in ``consumers.source_rules``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slaclock.consumers.events import Rejected
from slaclock.consumers.source_config import SourceConfig, text_form
from slaclock.consumers.source_kinds import (
    MISSING,
    TicketObject,
    canonical_hash,
    lookup,
    to_instant,
)
from slaclock.consumers.source_rules import Change, Comment, Reply, State


def jira_group_item(path: str, item: dict[str, Any]) -> bool:
    """Whether a changelog item changes the field the ``group`` path reads
    (``fields.customfield_10070.value``: the item whose ``fieldId`` or ``field`` is
    ``customfield_10070``)."""
    parts = path.split(".")
    if len(parts) < 2 or parts[0] != "fields":
        return False
    return parts[1] in (item.get("fieldId"), item.get("field"))


def jira_group_values(path: str, item: dict[str, Any]) -> tuple[Any, Any]:
    """A group item's old and new value: ``from``/``to`` when the path reads an id,
    else the texts ``fromString``/``toString``."""
    if path.endswith(".id"):
        return item.get("from"), item.get("to")
    return item.get("fromString"), item.get("toString")


def jira_by_requester(config: SourceConfig, comment: dict[str, Any], ticket: TicketObject) -> bool:
    """Whether the comment's author is the issue's reporter. A ``comment_created`` body has
    no reporter: a source with ``replies`` then takes a JSM customer account (``accountType``
    ``customer``) as the requester's side (without ``replies``, as before: not the reporter)."""
    reporter = lookup(ticket.obj, "fields.reporter")
    author = comment.get("author")
    if reporter is MISSING and config.replies and isinstance(author, dict):
        return author.get("accountType") == "customer"
    return same_person(author, reporter)


def jira_comment_removed(data: dict[str, Any]) -> bool:
    """A deleted comment's webhook (it carries the comment, but is no reply)."""
    return data.get("webhookEvent") == "comment_deleted" or data.get("issue_event_type_name") in (
        "issue_comment_deleted",
    )


def public_reply(
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


def same_person(author: Any, requester: Any) -> bool:
    """Whether a comment's author is the ticket's requester (Jira user objects)."""
    if not isinstance(author, dict) or not isinstance(requester, dict):
        return False
    for key in ("accountId", "key", "name", "emailAddress"):
        if author.get(key) is not None and author.get(key) == requester.get(key):
            return True
    return False


def zendesk_id(value: Any) -> Any:
    """A Zendesk event's ``previous``/``current``: the value, or the ``id`` of an object."""
    return value.get("id", value.get("name")) if isinstance(value, dict) else value


def opening(ticket: TicketObject, created_default: str, at: Any) -> bool:
    """Whether a comment at ``at`` is the message that opens the ticket (made with it: at
    or before the ticket's creation time; a body without one has no opening message)."""
    path = ticket.config.created or created_default
    value = ticket.get(path)
    if value is MISSING or value is None or value == "":
        return False
    return at <= to_instant(value, ticket.path(path))


def zammad_reply(
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
    if not isinstance(first, list) and opening(ticket, "created_at", when):
        return None
    author = article.get("created_by_id")
    by_requester = sender == "Customer" or author == ticket.get("customer_id")
    return public_reply(
        "article", article.get("id"), change_id, (stamp, "article.created_at"), at, by_requester
    )


def debezium_comment(
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
