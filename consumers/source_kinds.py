"""Reading helpdesk payloads: paths, timestamps, the ticket object and its mapped values.

The per-kind readers (``consumers.source_readers``) use these to find, in one payload, the
ticket object, the ticket's id, customer, priority, status and creation time, and the
change's time. Anything that cannot be mapped is :class:`~slaclock.consumers.events.Rejected`
with a reason naming its path in the payload (``issue.fields.priority.name: ...``).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from slaclock.consumers.events import CUSTOMER_LENGTH, ID_LENGTH, Rejected, text_problem
from slaclock.consumers.source_config import GROUP_LENGTH, SourceConfig, text_form
from slaclock.consumers.source_rules import State
from slaclock.domain.instants import InstantError, check_range, parse_instant

MISSING = object()
TEXT_LENGTH = CUSTOMER_LENGTH
"""Characters a status, id or customer read from a payload may have (256: a customer id's
limit, and no real status or id comes near; each kept snapshot holds one)."""
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")

# kind -> (ticket object, id, status, created, status word)
DEFAULTS: dict[str, tuple[str, str, str, str, str]] = {
    "jira": ("issue", "key", "fields.status.name", "fields.created", "status"),
    "zendesk": ("detail", "id", "status", "created_at", "status"),
    "zammad": ("ticket", "number", "state", "created_at", "state"),
    "glpi": ("item", "id", "status", "date_creation", "status"),
    "debezium": ("after", "", "", "", "status"),
}


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)
"""``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, built once; a
parsed body cannot hold a cycle, so the (costly) cycle check is off: same text."""


def canonical_hash(data: Any) -> str:
    """SHA-256 of the canonical body: sorted keys, separators ``,`` and ``:``, UTF-8 (a lone
    surrogate, in a field slaclock does not read, as its own three bytes: only a field that
    is read and kept must be valid text, and its reader says so)."""
    return hashlib.sha256(_CANONICAL.encode(data).encode("utf-8", "surrogatepass")).hexdigest()


@lru_cache(maxsize=1024)
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def lookup(obj: Any, path: str) -> Any:
    """The value at a dotted path (list items by number, or the first item matching a
    ``key=value,key=value`` part: ``team.type=Group,role=assigned.name``), or ``MISSING``."""
    for part in _parts(path):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        elif isinstance(obj, list) and "=" in part:
            obj = _first_match(obj, _conditions(part))
            if obj is MISSING:
                return MISSING
        else:
            return MISSING
    return obj


@lru_cache(maxsize=256)
def _conditions(part: str) -> tuple[tuple[str, str], ...]:
    pairs = (condition.partition("=") for condition in part.split(","))
    return tuple((key, value) for key, _, value in pairs)


def _first_match(items: list[Any], conditions: tuple[tuple[str, str], ...]) -> Any:
    """The first object of ``items`` whose keys have these values (text forms)."""
    for item in items:
        if isinstance(item, dict) and all(
            key in item and item[key] is not None and text_form(item[key]) == value
            for key, value in conditions
        ):
            return item
    return MISSING


def to_instant(value: Any, where: str, epoch_unit: str | None = None) -> datetime:
    """A timestamp from text (RFC 3339; ``+0100`` offsets too) or epoch numbers (``ms``,
    or by magnitude: seconds, ms, µs or ns); kept to microseconds."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return check_range(_epoch(value, epoch_unit))
        if isinstance(value, str):
            return _text_instant(value)
        raise InstantError(f"expected a timestamp, got {value!r}")
    except (InstantError, OverflowError, OSError, ValueError) as exc:
        raise Rejected(f"{where}: {exc}") from None


@lru_cache(maxsize=4096)
def _text_instant(value: str) -> datetime:
    """A text timestamp parsed (cached: one body often repeats a time, such as a GLPI
    followup's creation and its ticket's ``date_mod``, and redeliveries repeat them all;
    errors are not cached)."""
    return parse_instant(_COMPACT_OFFSET.sub(r"\1:\2", value))


def _epoch(value: float, unit: str | None) -> datetime:
    if unit is None:
        size = abs(value)
        unit = "ns" if size >= 1e17 else "us" if size >= 1e14 else "ms" if size >= 1e11 else "s"
    divisor = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    whole = int(value) // divisor
    micros = (int(value) % divisor) * 1_000_000 // divisor
    return datetime.fromtimestamp(whole, UTC).replace(microsecond=micros)


class TicketObject:
    """The ticket object of a payload and the source's paths into it."""

    def __init__(self, config: SourceConfig, obj: dict[str, Any], where: str) -> None:
        self.config = config
        self.obj = obj
        self.where = where

    def path(self, path: str) -> str:
        return f"{self.where}.{path}"

    def get(self, path: str) -> Any:
        return lookup(self.obj, path)

    def required(self, path: str, what: str) -> Any:
        value = self.get(path)
        if value is MISSING or value is None or value == "":
            raise Rejected(f"{self.path(path)}: {what} missing")
        return value

    def ticket_id(self, default: str) -> str:
        path = self.config.id or self.config.id_column or default
        value = self.required(path, "ticket id")
        ticket_id = f"{self.config.ticket_prefix}{payload_text(value, self.path(path))}"
        if len(ticket_id) > ID_LENGTH:
            raise Rejected(
                f"{self.path(path)}: ticket id of {len(ticket_id)} characters"
                f" (at most {ID_LENGTH} with the prefix)"
            )
        return ticket_id

    def customer(self) -> str:
        path = self.config.customer
        value = payload_text(self.required(path, "customer"), self.path(path))
        if self.config.customers is None:
            return value
        if value not in self.config.customers:
            raise Rejected(
                f"{self.path(path)}: {value!r} is not in sources.{self.config.name}.customers"
            )
        return self.config.customers[value]

    def priority(self, value: Any = MISSING, where: str | None = None) -> State:
        """The mapped priority (of the ticket, or of ``value`` found at ``where``)."""
        if value is MISSING:
            value, where = self.get(self.config.priority), self.path(self.config.priority)
        if value is MISSING or value is None:
            return State(None, None)
        text = payload_text(value, where or self.path(self.config.priority))
        if text not in self.config.priorities:
            raise Rejected(f"{where}: {text!r} is not in sources.{self.config.name}.priorities")
        return State(None, self.config.priorities[text], text)

    def group(self, value: Any = MISSING, where: str | None = None) -> str | None:
        """The mapped group (of the ticket at the ``group`` path, or of ``value`` found at
        ``where``); None when the source reads no group or the value is null or empty."""
        path = self.config.group
        if path is None:
            return None
        if value is MISSING:
            value, where = self.get(path), self.path(path)
        if value is MISSING or value is None or value == "":
            return None
        if isinstance(value, dict | list):
            raise Rejected(f"{where}: expected a group, got {type(value).__name__}")
        text = text_form(value)
        groups = self.config.groups
        if groups is not None:
            if text not in groups:
                raise Rejected(f"{where}: {text!r} is not in sources.{self.config.name}.groups")
            return groups[text]
        if len(text) > GROUP_LENGTH:
            raise Rejected(f"{where}: a group is at most {GROUP_LENGTH} characters")
        return text

    def status(self, default: str) -> str | None:
        path = self.config.status or self.config.status_column or default
        return status_text(self.get(path), self.path(path))

    def created(self, default: str) -> datetime:
        path = self.config.created or self.config.created_column or default
        return to_instant(self.required(path, "creation time"), self.path(path))

    def first_sight(self, created_default: str) -> tuple[str, datetime]:
        """The mapped customer and the creation time (what ``ticket.created`` needs)."""
        return self.customer(), self.created(created_default)

    def state(self, status_default: str) -> State:
        priority = self.priority()
        group = self.group() if self.config.group is not None else None
        return State(self.status(status_default), priority.priority, priority.priority_text, group)


def status_text(value: Any, where: str) -> str | None:
    """A status as the text the status lists name (``{"id", "name"}``: its id)."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, dict):
        inner = value.get("id", value.get("name"))
        if inner is None or isinstance(inner, dict | list):
            raise Rejected(f"{where}: expected a status, got an object without id or name")
        return payload_text(inner, where)
    if isinstance(value, list):
        raise Rejected(f"{where}: expected a status, got a list")
    return payload_text(value, where)


def payload_text(value: Any, where: str) -> str:
    """A payload's scalar (an id, a status, a customer) as text that can be kept and stored
    (``text_form``); :class:`Rejected` naming ``where`` for an array or object, a lone
    surrogate or a NUL character, or more than :data:`TEXT_LENGTH` characters."""
    if isinstance(value, dict | list):
        kind = "an object" if isinstance(value, dict) else "a list"
        raise Rejected(f"{where}: expected text or a number, got {kind}")
    text = text_form(value)
    if len(text) > TEXT_LENGTH:
        raise Rejected(f"{where}: {len(text)} characters (at most {TEXT_LENGTH})")
    if not text.isascii() or "\x00" in text:
        problem = text_problem(text)
        if problem is not None:
            raise Rejected(f"{where}: {problem}")
    return text


def ticket_object(config: SourceConfig, data: dict[str, Any], key: str) -> TicketObject:
    value = data.get(key)
    if not isinstance(value, dict):
        raise Rejected(f"{key}: no ticket object")
    return TicketObject(config, value, key)


def updated(config: SourceConfig, ticket: TicketObject, default: str) -> datetime | None:
    """The change time at the ``updated`` override, else at ``default`` in the ticket (None
    when neither is set)."""
    path = config.updated or config.updated_column or default
    if not path:
        return None
    return to_instant(ticket.required(path, "change time"), ticket.path(path))
