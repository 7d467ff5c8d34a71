"""Webhook signature schemes: vectors computed here independently of the module, plus
GitHub's published X-Hub-Signature-256 example (the same WebSub scheme Jira uses)."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from slaclock.consumers.webhook_signatures import (
    SignatureError,
    delivery_id,
    sign,
    verify,
)

SECRET = "s3cr3t-ключ"
BODY = b'{"issue": {"key": "OPS-1"}, "note": "caf\xc3\xa9"}'
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _hex(digest: str, message: bytes) -> str:
    return hmac.new(SECRET.encode(), message, digest).hexdigest()


def test_jira_sha256_hex_of_the_body() -> None:
    header = {"X-Hub-Signature": "sha256=" + _hex("sha256", BODY)}
    verify("jira", SECRET, BODY, header, now=NOW)
    assert sign("jira", SECRET, BODY) == {"x-hub-signature": header["X-Hub-Signature"]}


def test_jira_published_vector() -> None:
    # docs.github.com "Validating webhook deliveries": secret "It's a Secret to Everybody",
    # payload "Hello, World!" -> this X-Hub-Signature-256 value (same scheme as Jira's).
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verify(
        "jira",
        "It's a Secret to Everybody",
        b"Hello, World!",
        {"x-hub-signature": expected},
        now=NOW,
    )


def test_zammad_sha1_hex_of_the_body() -> None:
    header = {"X-Hub-Signature": "sha1=" + _hex("sha1", BODY)}
    verify("zammad", SECRET, BODY, header, now=NOW)
    with pytest.raises(SignatureError, match="X-Hub-Signature: does not match"):
        verify("jira", SECRET, BODY, header, now=NOW)  # sha1 where sha256 is expected


def test_zendesk_base64_of_timestamp_then_body() -> None:
    stamp = "2026-03-01T11:59:30Z"
    mac = hmac.new(SECRET.encode(), stamp.encode() + BODY, hashlib.sha256).digest()
    headers = {
        "X-Zendesk-Webhook-Signature": base64.b64encode(mac).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }
    verify("zendesk", SECRET, BODY, headers, now=NOW)
    assert sign("zendesk", SECRET, BODY, stamp) == {k.lower(): v for k, v in headers.items()}
    tampered = dict(headers, **{"X-Zendesk-Webhook-Signature-Timestamp": "2026-03-01T11:59:31Z"})
    with pytest.raises(SignatureError, match="X-Zendesk-Webhook-Signature: does not match"):
        verify("zendesk", SECRET, BODY, tampered, now=NOW)


def test_zendesk_replay_window() -> None:
    stamp = "2026-03-01T10:00:00Z"  # two hours before NOW
    headers = sign("zendesk", SECRET, BODY, stamp)
    with pytest.raises(SignatureError, match="replay window"):
        verify("zendesk", SECRET, BODY, headers, now=NOW)
    verify("zendesk", SECRET, BODY, headers, now=NOW, max_age=3 * 3600)
    verify("zendesk", SECRET, BODY, headers, now=NOW, max_age=0)  # 0: not checked


def test_glpi_hex_of_body_then_timestamp() -> None:
    stamp = str(int(NOW.timestamp()) - 5)
    headers = {"X-GLPI-signature": _hex("sha256", BODY + stamp.encode()), "X-GLPI-timestamp": stamp}
    verify("glpi", SECRET, BODY, headers, now=NOW)
    swapped = dict(headers, **{"X-GLPI-signature": _hex("sha256", stamp.encode() + BODY)})
    with pytest.raises(SignatureError, match="X-GLPI-signature: does not match"):
        verify("glpi", SECRET, BODY, swapped, now=NOW)


def test_glpi_window_only_when_asked() -> None:
    stamp = str(int(NOW.timestamp()) - 86_400)  # a retry a day later keeps its headers
    headers = sign("glpi", SECRET, BODY, stamp)
    verify("glpi", SECRET, BODY, headers, now=NOW)
    with pytest.raises(SignatureError, match="X-GLPI-timestamp: more than 600 s"):
        verify("glpi", SECRET, BODY, headers, now=NOW, max_age=600)
    with pytest.raises(SignatureError, match="X-GLPI-timestamp: not a timestamp"):
        verify("glpi", SECRET, BODY, sign("glpi", SECRET, BODY, "soon"), now=NOW, max_age=600)


@pytest.mark.parametrize(
    ("kind", "headers", "reason"),
    [
        ("jira", {}, "X-Hub-Signature: missing"),
        ("jira", {"X-Hub-Signature": "sha256=00"}, "does not match"),
        ("zammad", {"x-hub-signature": "sha1=zz"}, "does not match"),
        ("zendesk", {"X-Zendesk-Webhook-Signature": "abc="}, "Signature-Timestamp: missing"),
        (
            "zendesk",
            {
                "X-Zendesk-Webhook-Signature": "not base64!",
                "X-Zendesk-Webhook-Signature-Timestamp": "2026-03-01T12:00:00Z",
            },
            "does not match",
        ),
        ("glpi", {"X-GLPI-signature": "ab"}, "X-GLPI-timestamp: missing"),
        ("debezium", {"X-Hub-Signature": "sha256=00"}, "no webhook signature scheme"),
    ],
)
def test_rejections_name_the_header(kind: str, headers: dict[str, str], reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify(kind, SECRET, BODY, headers, now=NOW)


def test_wrong_secret_and_tampered_body() -> None:
    for kind in ("jira", "zammad", "zendesk", "glpi"):
        headers = sign(kind, SECRET, BODY, "2026-03-01T12:00:00Z" if kind == "zendesk" else "1")
        with pytest.raises(SignatureError):
            verify(kind, "other", BODY, headers, now=NOW, max_age=0)
        with pytest.raises(SignatureError):
            verify(kind, SECRET, BODY + b" ", headers, now=NOW, max_age=0)
        verify(kind, SECRET, BODY, headers, now=NOW, max_age=0)


def test_hex_is_case_insensitive() -> None:
    header = {"X-Hub-Signature": "sha256=" + _hex("sha256", BODY).upper()}
    verify("jira", SECRET, BODY, header, now=NOW)


def test_delivery_ids() -> None:
    assert delivery_id("jira", {"X-Atlassian-Webhook-Identifier": "123-abc"}) == "123-abc"
    assert delivery_id("zammad", {"X-Zammad-Delivery": "d1"}) == "d1"
    assert delivery_id("zendesk", {"x-zendesk-webhook-invocation-id": "8350205582"}) == "8350205582"
    assert delivery_id("glpi", {"X-GLPI-timestamp": "1"}) is None
    assert delivery_id("jira", {}) is None
    assert delivery_id("debezium", {"X-Zammad-Delivery": "d1"}) is None
