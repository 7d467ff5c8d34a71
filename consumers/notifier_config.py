"""One ``[notifiers.NAME]`` table of the configuration, checked and parsed.

A notifier says where escalations go: a ``webhook`` (an HTTP POST, optionally signed), a
``kafka`` topic (keyed by ticket) or a ``file`` (JSON Lines), and how hard to try: the first
retry ``backoff`` seconds after a failure, doubling up to ``max_backoff``, giving up
``give_up_after`` after the alert was stored. Parsing is pure; every problem is a
:class:`NotifierConfigError` naming the key (``notifiers.duty.url``). Notifiers move no
clock, so the policy version leaves them out (as it does sources).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from slaclock.domain.durations import parse_duration

KINDS = ("webhook", "kafka", "file")
FORMATS = ("json", "slack")

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEYS: dict[str, tuple[str, ...]] = {
    "webhook": ("url", "secret_env", "timeout", "headers", "format"),
    "kafka": ("topic", "bootstrap_servers", "timeout"),
    "file": ("path",),
}
_COMMON = ("kind", "ticket_url", "backoff", "max_backoff", "give_up_after")


class NotifierConfigError(Exception):
    """A notifier table that cannot be used: ``key`` names it (``notifiers.NAME.key``)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class NotifierConfig:
    """One notifier; durations are in seconds."""

    name: str
    kind: str
    url: str | None = None
    secret_env: str | None = None
    timeout: float = 10.0
    headers: Mapping[str, str] = field(default_factory=dict)
    format: str = "json"
    topic: str | None = None
    bootstrap_servers: str | None = None
    path: str | None = None
    ticket_url: str | None = None
    backoff: float = 5.0
    max_backoff: float = 3600.0
    give_up_after: float = 86400.0


def parse_notifiers(tables: Any) -> dict[str, NotifierConfig]:
    """The ``[notifiers]`` tables by name."""
    if not isinstance(tables, dict):
        raise NotifierConfigError("notifiers", "expected a table of notifiers")
    return {name: parse_notifier(name, table) for name, table in tables.items()}


def parse_notifier(name: str, table: Any) -> NotifierConfig:
    key = f"notifiers.{name}"
    if not _NAME.fullmatch(name):
        raise NotifierConfigError(key, "a name of letters, digits, '-' and '_' (at most 64)")
    if not isinstance(table, dict):
        raise NotifierConfigError(key, "expected a table")
    kind = table.get("kind")
    if kind not in KINDS:
        raise NotifierConfigError(f"{key}.kind", f"{kind!r} is not one of {list(KINDS)}")
    for item in table:
        if item not in _COMMON and item not in _KEYS[kind]:
            raise NotifierConfigError(f"{key}.{item}", f"unknown key for a {kind} notifier")
    values: dict[str, Any] = {"name": name, "kind": kind}
    for item in ("url", "secret_env", "topic", "bootstrap_servers", "path", "ticket_url"):
        if item in table:
            values[item] = _text(table[item], f"{key}.{item}")
    for item in ("timeout", "backoff", "max_backoff", "give_up_after"):
        if item in table:
            values[item] = seconds(table[item], f"{key}.{item}")
    if "format" in table and table["format"] not in FORMATS:
        raise NotifierConfigError(f"{key}.format", f"{table['format']!r} is not one of {FORMATS}")
    values["format"] = table.get("format", "json")
    headers = table.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise NotifierConfigError(f"{key}.headers", "expected a table of text values")
    values["headers"] = dict(headers)
    _required(kind, values, key)
    return NotifierConfig(**values)


def _required(kind: str, values: dict[str, Any], key: str) -> None:
    needed = {"webhook": ["url"], "kafka": ["topic", "bootstrap_servers"], "file": ["path"]}
    for item in needed[kind]:
        if item not in values:
            raise NotifierConfigError(f"{key}.{item}", f"missing (a {kind} notifier needs it)")
    if kind == "webhook" and urlparse(values["url"]).scheme not in ("http", "https"):
        raise NotifierConfigError(f"{key}.url", "expected an http:// or https:// URL")
    env = values.get("secret_env")
    if env is not None and not _ENV.fullmatch(env):
        raise NotifierConfigError(f"{key}.secret_env", f"{env!r} is not an environment name")
    template = values.get("ticket_url")
    if template is not None:
        try:
            template.format(ticket_id="t", customer_id="c")
        except (KeyError, IndexError, ValueError) as exc:
            raise NotifierConfigError(
                f"{key}.ticket_url", f"only {{ticket_id}} and {{customer_id}} ({exc})"
            ) from None


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise NotifierConfigError(key, "expected non-empty text")
    return value


def seconds(value: Any, key: str) -> float:
    """A positive duration: a number of seconds (``0.5``) or a duration text (``"30s"``)."""
    if isinstance(value, bool):
        raise NotifierConfigError(key, f"{value!r}: expected seconds or a duration")
    if isinstance(value, int | float):
        if value <= 0:
            raise NotifierConfigError(key, f"{value!r}: must be longer than zero")
        return float(value)
    try:
        return float(parse_duration(value))
    except ValueError as exc:
        raise NotifierConfigError(key, str(exc)) from None
