"""Sending one delivery of the alert outbox: to a webhook, a Kafka topic or a file.

Each notifier turns a stored payload into its bytes (JSON, or a Slack/Mattermost incoming
webhook body), sends it once and says what happened as an :class:`Attempt`: delivered,
worth retrying (with the receiver's ``Retry-After`` when it gave one) or failed for good.
Retrying, leases and give-up are ``consumers.alert_delivery``'s. Webhooks carry
``Idempotency-Key: <alert id>`` (the same on every retry) and, with ``secret_env``, the
signature ``X-Slaclock-Signature: sha256=HEX``: HMAC-SHA256 keyed with the secret over
``TIMESTAMP + "." + BODY``, ``TIMESTAMP`` being ``X-Slaclock-Timestamp`` (Unix seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from slaclock.consumers.notifier_config import NotifierConfig
from slaclock.projections.alert_outbox import Delivery

RETRY_STATUSES = frozenset({408, 429})
MAX_RESPONSE = 64 * 1024


class NotifierError(Exception):
    """A notifier that cannot start (a secret's environment variable not set, ...)."""


@dataclass(frozen=True)
class Attempt:
    """What one send did: ``delivered``; else ``retry`` (after ``retry_after`` seconds when
    the receiver said so) or not; ``error`` says why in one line."""

    delivered: bool
    retry: bool = False
    retry_after: float | None = None
    error: str | None = None


DELIVERED = Attempt(True)


class Notifier(Protocol):
    config: NotifierConfig

    def send(self, delivery: Delivery) -> Attempt: ...

    def close(self) -> None: ...


def payload_of(config: NotifierConfig, delivery: Delivery) -> dict[str, Any]:
    """The stored payload with the notifier's link to the ticket, when it has a template."""
    payload = json.loads(delivery.payload)
    if config.ticket_url:
        payload["ticket_url"] = config.ticket_url.format(
            ticket_id=payload["ticket_id"], customer_id=payload["customer_id"]
        )
    return payload


def body_of(config: NotifierConfig, payload: dict[str, Any]) -> bytes:
    """The bytes sent: the payload as JSON, or a Slack/Mattermost ``{"text": ...}`` body."""
    if config.format == "slack":
        return json.dumps({"text": slack_text(payload)}, ensure_ascii=False).encode()
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def slack_text(p: dict[str, Any]) -> str:
    what = "escalated" if p["kind"] == "raised" else "escalation withdrawn"
    ticket = f"<{p['ticket_url']}|{p['ticket_id']}>" if p.get("ticket_url") else p["ticket_id"]
    return (
        f"Level {p['level']} {what}: ticket {ticket} of {p['customer_id']},"
        f" {p['metric']} (priority {p['priority']}), deadline {p['deadline']}, due {p['due_at']}"
    )


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=HEX``: HMAC-SHA256 keyed with ``secret`` over ``timestamp + "." + body``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


class WebhookNotifier:
    """POSTs each delivery on a kept-alive connection per sending thread (reopened after any
    failure)."""

    def __init__(self, config: NotifierConfig) -> None:
        self.config = config
        self.secret: bytes | None = None
        if config.secret_env:
            value = os.environ.get(config.secret_env)
            if not value:
                raise NotifierError(
                    f"notifiers.{config.name}.secret_env: {config.secret_env} is not set"
                )
            self.secret = value.encode()
        parts = urlsplit(config.url or "")
        self._https = parts.scheme == "https"
        self._host = parts.netloc
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = self._local.conn = kind(self._host, timeout=self.config.timeout)
            with self._lock:
                self._open.add(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            with self._lock:
                self._open.discard(conn)

    def headers(self, delivery: Delivery, body: bytes, now: float) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "slaclock",
            **self.config.headers,
            "Idempotency-Key": delivery.alert_id,
            "X-Slaclock-Delivery": delivery.id,
        }
        if self.secret is not None:
            timestamp = str(int(now))
            headers["X-Slaclock-Timestamp"] = timestamp
            headers["X-Slaclock-Signature"] = signature(self.secret, timestamp, body)
        return headers

    def send(self, delivery: Delivery) -> Attempt:
        now = time.time()
        body = body_of(self.config, payload_of(self.config, delivery))
        try:
            conn = self._connection()
            conn.request("POST", self._path, body, self.headers(delivery, body, now))
            response = conn.getresponse()
            response.read(MAX_RESPONSE)
            if not response.isclosed():  # a longer answer than anyone needs: drop it
                self._drop()
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            return Attempt(False, retry=True, error=_one_line(exc))
        status = response.status
        if 200 <= status < 300:
            return DELIVERED
        error = f"HTTP {status} {response.reason}".strip()
        if status in RETRY_STATUSES or status >= 500:
            wait = retry_after(response.getheader("Retry-After"), now)
            return Attempt(False, retry=True, retry_after=wait, error=error)
        return Attempt(False, error=error)

    def close(self) -> None:
        with self._lock:
            for conn in self._open:
                conn.close()
            self._open.clear()
        self._local = threading.local()


class KafkaNotifier:
    """Produces each delivery to the topic, keyed by ticket, waiting for the broker's ack (the
    producer is shared by the sending threads: kafka-python's is thread-safe)."""

    def __init__(self, config: NotifierConfig, producer: Any = None) -> None:
        self.config = config
        if producer is None:
            from kafka import KafkaProducer

            producer = KafkaProducer(
                bootstrap_servers=config.bootstrap_servers,
                acks="all",
                max_block_ms=int(config.timeout * 1000),
            )
        self.producer = producer

    def send(self, delivery: Delivery) -> Attempt:
        from kafka.errors import KafkaError

        body = body_of(self.config, payload_of(self.config, delivery))
        headers = [("Idempotency-Key", delivery.alert_id.encode())]
        try:
            future = self.producer.send(
                self.config.topic, key=delivery.ticket_id.encode(), value=body, headers=headers
            )
            future.get(timeout=self.config.timeout)
        except KafkaError as exc:
            return Attempt(False, retry=bool(getattr(exc, "retriable", True)) or _timeout(exc),
                           error=_one_line(exc))  # fmt: skip
        return DELIVERED

    def close(self) -> None:
        self.producer.close(timeout=5)


class FileNotifier:
    """Appends each delivery to a JSON Lines file."""

    def __init__(self, config: NotifierConfig) -> None:
        self.config = config
        self.path = Path(config.path or "")
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> Attempt:
        line = body_of(self.config, payload_of(self.config, delivery)) + b"\n"
        try:
            with self._lock, self.path.open("ab") as out:
                out.write(line)
        except OSError as exc:
            return Attempt(False, retry=True, error=_one_line(exc))
        return DELIVERED

    def close(self) -> None:
        return None


def open_notifiers(configs: dict[str, NotifierConfig]) -> dict[str, Notifier]:
    """A notifier for every configured one (:class:`NotifierError` if one cannot start)."""
    kinds = {"webhook": WebhookNotifier, "kafka": KafkaNotifier, "file": FileNotifier}
    opened: dict[str, Notifier] = {}
    try:
        for name, config in configs.items():
            opened[name] = kinds[config.kind](config)
    except Exception as exc:
        for notifier in opened.values():
            notifier.close()
        if isinstance(exc, NotifierError):
            raise
        raise NotifierError(f"notifiers.{config.name}: cannot start: {_one_line(exc)}") from None
    return opened


def _timeout(exc: BaseException) -> bool:
    return "timeout" in type(exc).__name__.lower()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
