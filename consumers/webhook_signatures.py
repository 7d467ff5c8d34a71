"""Each helpdesk's own webhook signature scheme, verified in constant time.

Pure: headers, body, secret and the current instant in, a verdict out (no I/O, no clock
read). The schemes, as each vendor documents or implements them:

- **Jira** (Cloud admin webhooks with a secret; the WebSub "method=signature" convention):
  ``X-Hub-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw body keyed with the secret
  (developer.atlassian.com/cloud/jira/platform/webhooks, "Secure admin webhooks"). Delivery
  id: ``X-Atlassian-Webhook-Identifier``, unchanged across retries.
- **Zammad**: ``X-Hub-Signature: sha1=<hex>``, the HMAC-SHA1 of the body keyed with the
  webhook's "HMAC SHA1 Signature Token" (admin-docs.zammad.org, manage/webhook/add and
  manage/webhook/payload, "Request Headers"). Delivery id: ``X-Zammad-Delivery``.
- **Zendesk**: ``X-Zendesk-Webhook-Signature`` is ``base64(HMAC-SHA256(TIMESTAMP + BODY))``,
  the timestamp being the text of ``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601, e.g.
  ``2021-03-25T05:09:27Z``) concatenated with the body, no separator
  (developer.zendesk.com/documentation/webhooks/verifying). Delivery id:
  ``X-Zendesk-Webhook-Invocation-Id`` (developer.zendesk.com, "Anatomy of a webhook request").
- **GLPI 11**: ``X-GLPI-signature`` is ``hash_hmac('sha256', $body . $timestamp, $secret)``
  (lower-case hex, no prefix: the body FIRST, then the Unix timestamp of
  ``X-GLPI-timestamp``), see ``Webhook::raise`` and ``Webhook::getSignature`` in
  glpi-project/glpi ``src/Webhook.php``. GLPI sends no delivery id.
- **Debezium** has no webhook signature scheme (its records travel over Kafka; Debezium
  Server's HTTP sink authenticates with a token, not a body signature): a debezium source is
  accepted over HTTP only with an admin token, never with ``secret_env``.

Replay window: only Zendesk and GLPI sign a timestamp. Redeliveries are harmless here (every
event id is deterministic, so a replayed body adds only duplicates), and both vendors retry
with the headers of the first attempt — GLPI queues webhooks and sends them from its cron,
retrying later with the stored headers — so a tight window would turn a late retry into a
lost change. The window is therefore :data:`DEFAULT_MAX_AGE` (one hour) for Zendesk, and not
checked for GLPI unless the operator sets one (``slaclock serve --hook-max-age``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from slaclock.domain.instants import InstantError, parse_instant

DEFAULT_MAX_AGE = 3600.0
"""Seconds a signed timestamp may be away from now (either way), where one is checked."""


class SignatureError(Exception):
    """A delivery whose signature does not hold; the reason names the header, never a value
    of the body or the secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Scheme:
    """How one kind signs: which headers, which digest over which bytes, which encoding."""

    kind: str
    signature_header: str
    delivery_header: str | None
    timestamp_header: str | None
    sign: Callable[[bytes, bytes, str | None], str]
    """(secret, body, timestamp text) -> the signature header's value."""
    default_max_age: float | None


def _hub(digest: str) -> Callable[[bytes, bytes, str | None], str]:
    def sign(secret: bytes, body: bytes, timestamp: str | None) -> str:
        return f"{digest}=" + hmac.new(secret, body, digest).hexdigest()

    return sign


def _zendesk(secret: bytes, body: bytes, timestamp: str | None) -> str:
    mac = hmac.new(secret, (timestamp or "").encode("utf-8") + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def _glpi(secret: bytes, body: bytes, timestamp: str | None) -> str:
    return hmac.new(secret, body + (timestamp or "").encode("utf-8"), hashlib.sha256).hexdigest()


SCHEMES: dict[str, Scheme] = {
    "jira": Scheme(
        "jira", "x-hub-signature", "x-atlassian-webhook-identifier", None, _hub("sha256"), None
    ),
    "zammad": Scheme("zammad", "x-hub-signature", "x-zammad-delivery", None, _hub("sha1"), None),
    "zendesk": Scheme(
        "zendesk",
        "x-zendesk-webhook-signature",
        "x-zendesk-webhook-invocation-id",
        "x-zendesk-webhook-signature-timestamp",
        _zendesk,
        DEFAULT_MAX_AGE,
    ),
    "glpi": Scheme("glpi", "x-glpi-signature", None, "x-glpi-timestamp", _glpi, None),
}
"""The kinds that sign their webhooks (``debezium`` has no scheme)."""


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def delivery_id(kind: str, headers: Mapping[str, str]) -> str | None:
    """The vendor's delivery id header, when the kind has one and it was sent."""
    scheme = SCHEMES.get(kind)
    if scheme is None or scheme.delivery_header is None:
        return None
    value = _lower(headers).get(scheme.delivery_header, "").strip()
    return value[:200] or None


def sign(kind: str, secret: str, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """The headers a vendor would send with ``body`` (for tests, benches and examples)."""
    scheme = SCHEMES[kind]
    headers = {scheme.signature_header: scheme.sign(secret.encode("utf-8"), body, timestamp)}
    if scheme.timestamp_header is not None:
        headers[scheme.timestamp_header] = timestamp or ""
    return headers


def verify(
    kind: str,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: datetime,
    max_age: float | None = None,
) -> None:
    """Check ``body``'s signature; :class:`SignatureError` with the reason if it does not hold.

    ``max_age``: seconds a signed timestamp may differ from ``now`` (None: the kind's
    default, see the module docstring; 0 or less: not checked)."""
    scheme = SCHEMES.get(kind)
    if scheme is None:
        raise SignatureError(f"kind {kind}: has no webhook signature scheme")
    found = _lower(headers)
    given = found.get(scheme.signature_header, "").strip()
    if not given:
        raise SignatureError(f"{_title(scheme.signature_header)}: missing")
    timestamp = None
    if scheme.timestamp_header is not None:
        timestamp = found.get(scheme.timestamp_header, "").strip()
        if not timestamp:
            raise SignatureError(f"{_title(scheme.timestamp_header)}: missing")
    expected = scheme.sign(secret.encode("utf-8"), body, timestamp)
    if not _same(expected, given, hexadecimal=kind != "zendesk"):
        raise SignatureError(f"{_title(scheme.signature_header)}: does not match the body")
    window = scheme.default_max_age if max_age is None else max_age
    if timestamp is not None and window is not None and window > 0:
        _check_age(scheme, timestamp, now, window)


def _same(expected: str, given: str, *, hexadecimal: bool) -> bool:
    """Constant-time comparison; hex digits compare case-insensitively, base64 exactly."""
    if hexadecimal:
        given = given.lower()
    else:
        try:  # base64 compares on the decoded bytes (padding and alphabet checked)
            return hmac.compare_digest(
                base64.b64decode(expected), base64.b64decode(given, validate=True)
            )
        except (binascii.Error, ValueError):
            return False
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def _check_age(scheme: Scheme, timestamp: str, now: datetime, window: float) -> None:
    header = _title(scheme.timestamp_header or "")
    try:
        if scheme.kind == "glpi":
            signed = float(int(timestamp))
        else:
            signed = parse_instant(timestamp).timestamp()
    except (InstantError, ValueError):
        raise SignatureError(f"{header}: not a timestamp") from None
    if abs(now.timestamp() - signed) > window:
        raise SignatureError(f"{header}: more than {window:g} s away from now (replay window)")


def _title(header: str) -> str:
    """A header's usual spelling, for messages."""
    special = {"x-glpi-signature": "X-GLPI-signature", "x-glpi-timestamp": "X-GLPI-timestamp"}
    return special.get(header) or "-".join(part.capitalize() for part in header.split("-"))
