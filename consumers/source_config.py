"""One ``[sources.NAME]`` table of the configuration, checked and parsed.

A source says how a helpdesk's own changes (webhook bodies, change-data-capture records) map
to slaclock events: where the ticket's customer, priority, status and times are, which
statuses pause or resolve, which acknowledge, and optionally whether comments become reply
events (``replies``) and where the group holding the ticket is (``group``, ``groups``).
Parsing is pure; every problem is a :class:`SourceConfigError` naming the key
(``sources.jsm.priorities``), which the configuration loader reports like any other
configuration error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

KINDS = ("jira", "zendesk", "zammad", "glpi", "debezium")

_PATH = re.compile(r"[^.\s]+(\.[^.\s]+)*")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SourceConfigError(Exception):
    """A source table that cannot be used: ``key`` names it (``sources.NAME.key``)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def text_form(value: Any) -> str:
    """A payload value as the text that map keys and status lists match (``4`` -> ``"4"``,
    ``True`` -> ``"true"``); used for config keys and payload values alike."""
    if type(value) is str:
        return value  # the common case, first
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class CommentColumns:
    """``debezium`` only: the captured comments table (``comments = { table = ..., ... }``)
    whose rows are the comments of the ticket rows (section 5's replies, rule 3)."""

    table: str  # the ``source.table`` of its change events
    ticket: str  # the column holding the ticket's id (``id_column``'s value)
    author: str  # the column compared with the ticket's ``requester``
    public: str | None = None  # a column true for public comments (none: all public) ...
    internal: str | None = None  # ... or one true for internal notes
    created: str | None = None  # the comment's time (none: the change's ``source.ts_ms``)
    id: str | None = None  # the comment's own id (none: ``source.lsn``, else the body's hash)


@dataclass(frozen=True)
class SourceConfig:
    """One source: its name, kind and mapping (paths are dotted, into the ticket object)."""

    name: str
    kind: str  # "jira" | "zendesk" | "zammad" | "glpi" | "debezium"
    customer: str
    priority: str
    priorities: Mapping[str, int]
    customers: Mapping[str, str] | None = None
    paused_statuses: frozenset[str] = frozenset()
    resolved_statuses: frozenset[str] = frozenset()
    acknowledge_statuses: frozenset[str] = frozenset()
    intervention_statuses: frozenset[str] = frozenset()
    secret_env: str | None = None  # env var holding the webhook secret (None: admin token)
    since: datetime | None = None  # tickets created before it are ignored
    ticket_prefix: str = ""
    status: str | None = None  # path overrides (win over the kind's and *_column keys)
    created: str | None = None
    updated: str | None = None
    id: str | None = None
    id_column: str | None = None  # debezium
    status_column: str | None = None
    created_column: str | None = None
    updated_column: str | None = None
    replies: bool = False  # public comments become customer_replied / agent_replied
    group: str | None = None  # path of the group holding the ticket (ticket.assigned)
    groups: Mapping[str, str] | None = None  # optional exhaustive map of the group's value
    requester: str | None = None  # debezium: the ticket row's requester column
    comments: CommentColumns | None = None  # debezium: the comments table

    def key(self, name: str) -> str:
        """The configuration key ``sources.NAME.name`` (for messages)."""
        return f"sources.{self.name}.{name}"


_KEYS = [
    "kind",
    "customer",
    "customers",
    "priority",
    "priorities",
    "paused_statuses",
    "resolved_statuses",
    "acknowledge_statuses",
    "intervention_statuses",
    "secret_env",
    "since",
    "ticket_prefix",
    "status",
    "created",
    "updated",
    "id",
    "id_column",
    "status_column",
    "created_column",
    "updated_column",
    "replies",
    "group",
    "groups",
    "requester",
    "comments",
]
_COMMENT_KEYS = ("table", "ticket", "author", "public", "internal", "created", "id")

GROUP_LENGTH = 128
"""The longest group name an event may carry (``ticket.assigned``'s ``group``)."""


def parse_sources(
    tables: Any, policy_priorities: Sequence[int] | None = None
) -> dict[str, SourceConfig]:
    """Every ``[sources.NAME]`` table; ``policy_priorities``: the priorities the policy
    accepts (a mapped priority outside them is a configuration error)."""
    if not isinstance(tables, dict):
        raise SourceConfigError("sources", "expected a table of [sources.NAME] tables")
    return {name: parse_source(name, table, policy_priorities) for name, table in tables.items()}


def parse_source(
    name: str, table: Any, policy_priorities: Sequence[int] | None = None
) -> SourceConfig:
    """One ``[sources.NAME]`` table; :class:`SourceConfigError` naming the key if wrong."""
    base = f"sources.{name}"
    if not _NAME.fullmatch(name):
        raise SourceConfigError(base, "a source name is 1-64 letters, digits, '-' or '_'")
    if not isinstance(table, dict):
        raise SourceConfigError(base, "expected a table")
    for key in table:
        if key not in _KEYS:
            raise SourceConfigError(f"{base}.{key}", "unknown key")
    reader = _Reader(base, table)
    kind = reader.text("kind", required=True)
    if kind not in KINDS:
        raise SourceConfigError(f"{base}.kind", f"{kind!r} is not one of {list(KINDS)}")
    config = SourceConfig(
        name=name,
        kind=kind,
        customer=reader.path("customer", required=True),
        priority=reader.path("priority", required=True),
        priorities=reader.priorities(policy_priorities),
        customers=reader.customers(),
        paused_statuses=reader.statuses("paused_statuses"),
        resolved_statuses=reader.statuses("resolved_statuses"),
        acknowledge_statuses=reader.statuses("acknowledge_statuses"),
        intervention_statuses=reader.statuses("intervention_statuses"),
        secret_env=reader.env("secret_env"),
        since=reader.since(),
        ticket_prefix=reader.text("ticket_prefix") or "",
        status=reader.path("status"),
        created=reader.path("created"),
        updated=reader.path("updated"),
        id=reader.path("id"),
        id_column=reader.path("id_column"),
        status_column=reader.path("status_column"),
        created_column=reader.path("created_column"),
        updated_column=reader.path("updated_column"),
        replies=reader.flag("replies"),
        group=reader.path("group"),
        groups=reader.groups(),
        requester=reader.path("requester"),
        comments=reader.comments(),
    )
    _check_statuses(config)
    _check_kind(config)
    if config.groups is not None and config.group is None:
        raise SourceConfigError(config.key("groups"), "needs 'group' (the path it maps)")
    return config


def _check_statuses(config: SourceConfig) -> None:
    both = config.paused_statuses & config.resolved_statuses
    if both:
        raise SourceConfigError(
            config.key("resolved_statuses"), f"{sorted(both)} also in paused_statuses"
        )
    stopped = config.paused_statuses | config.resolved_statuses
    for key in ("acknowledge_statuses", "intervention_statuses"):
        clash = getattr(config, key) & stopped
        if clash:
            raise SourceConfigError(
                config.key(key),
                f"{sorted(clash)} also paused or resolved (these must be running statuses)",
            )


def _check_kind(config: SourceConfig) -> None:
    columns = ("id_column", "status_column", "created_column", "updated_column")
    if config.kind != "debezium":
        for key in (*columns, "requester", "comments"):
            if getattr(config, key) is not None:
                raise SourceConfigError(config.key(key), 'only for kind = "debezium"')
        return
    for key, override in (
        ("id_column", "id"),
        ("status_column", "status"),
        ("created_column", "created"),
    ):
        if getattr(config, key) is None and getattr(config, override) is None:
            raise SourceConfigError(
                config.key(key), f'required for kind = "debezium" (or set {override!r})'
            )
    if config.replies and config.comments is None:
        raise SourceConfigError(
            config.key("comments"),
            'required with replies = true for kind = "debezium" (the captured comments table)',
        )
    if config.comments is not None and config.requester is None:
        raise SourceConfigError(
            config.key("requester"), "required with 'comments' (the ticket row's requester)"
        )


class _Reader:
    """Typed reads of one table's keys, each error naming its key."""

    def __init__(self, base: str, table: dict[str, Any]) -> None:
        self.base = base
        self.table = table

    def fail(self, key: str, problem: str) -> SourceConfigError:
        return SourceConfigError(f"{self.base}.{key}", problem)

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.table.get(key)
        if value is None:
            if required:
                raise self.fail(key, "required key missing")
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {value!r}")
        return value

    def path(self, key: str, *, required: bool = False) -> str | None:
        value = self.text(key, required=required)
        if value is not None and not _PATH.fullmatch(value):
            raise self.fail(key, f"{value!r} is not a dotted path like 'fields.priority.name'")
        return value

    def env(self, key: str) -> str | None:
        value = self.text(key)
        if value is not None and not _ENV.fullmatch(value):
            raise self.fail(key, f"{value!r} is not an environment variable name")
        return value

    def statuses(self, key: str) -> frozenset[str]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value
        ):
            raise self.fail(key, f"expected a list of statuses, got {value!r}")
        return frozenset(text_form(v) for v in value)

    def _map(self, key: str) -> dict[str, Any] | None:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise self.fail(key, f"expected a non-empty table of values, got {value!r}")
        return value

    def priorities(self, allowed: Sequence[int] | None) -> dict[str, int]:
        value = self._map("priorities")
        if value is None:
            raise self.fail("priorities", "required key missing")
        for text, priority in value.items():
            if not isinstance(priority, int) or isinstance(priority, bool):
                raise self.fail(
                    f"priorities.{text}", f"expected a priority number, got {priority!r}"
                )
            if allowed is not None and priority not in allowed:
                raise self.fail(f"priorities.{text}", f"{priority} is not one of {sorted(allowed)}")
        return dict(value)

    def customers(self) -> dict[str, str] | None:
        value = self._map("customers")
        if value is None:
            return None
        for text, customer in value.items():
            if not isinstance(customer, str) or not customer:
                raise self.fail(f"customers.{text}", f"expected a customer id, got {customer!r}")
        return dict(value)

    def flag(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def groups(self) -> dict[str, str] | None:
        value = self._map("groups")
        if value is None:
            return None
        for text, group in value.items():
            if not isinstance(group, str) or not 1 <= len(group) <= GROUP_LENGTH:
                raise self.fail(
                    f"groups.{text}",
                    f"expected a group name of 1-{GROUP_LENGTH} characters, got {group!r}",
                )
        return dict(value)

    def comments(self) -> CommentColumns | None:
        value = self._map("comments")
        if value is None:
            return None
        for key in value:
            if key not in _COMMENT_KEYS:
                raise self.fail(f"comments.{key}", f"unknown key (one of {list(_COMMENT_KEYS)})")
        inner = _Reader(f"{self.base}.comments", value)
        columns = CommentColumns(
            table=inner.text("table", required=True) or "",
            ticket=inner.path("ticket", required=True) or "",
            author=inner.path("author", required=True) or "",
            public=inner.path("public"),
            internal=inner.path("internal"),
            created=inner.path("created"),
            id=inner.path("id"),
        )
        if columns.public is not None and columns.internal is not None:
            raise inner.fail("internal", "give 'public' or 'internal', not both")
        return columns

    def since(self) -> datetime | None:
        value = self.table.get("since")
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise self.fail("since", f"{value!r} is not a date like 2025-01-01") from None
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        raise self.fail("since", f"expected a date like 2025-01-01, got {value!r}")
