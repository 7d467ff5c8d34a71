"""Signed webhook deliveries for the receiver's tests: the vendor lifecycles of
``tests/fixtures/sources/KIND`` with the headers each vendor would send."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slaclock.consumers.webhook_signatures import sign
from tests.conftest import CONFIG, FIXTURES

WEBHOOKS = FIXTURES / "sources"
KINDS = ("jira", "zendesk", "zammad", "glpi")
SOURCES = {"jira": "jsm", "zendesk": "zen", "zammad": "zam", "glpi": "glpi"}
TICKETS = {"jira": "NWS-2291", "zendesk": "20931", "zammad": "73014", "glpi": "3318"}
SECRETS = {kind: f"webhook-secret-of-{kind}-é" for kind in KINDS}
DELIVERY_HEADERS = {
    "jira": "X-Atlassian-Webhook-Identifier",
    "zendesk": "X-Zendesk-Webhook-Invocation-Id",
    "zammad": "X-Zammad-Delivery",
}


def env_name(kind: str) -> str:
    return f"SLACLOCK_TEST_HOOK_SECRET_{kind.upper()}"


def write_config(directory: Path, *, signed: bool = True, extra: str = "") -> Path:
    """The example configuration with the four sample sources (with ``secret_env`` unless
    ``signed`` is false), plus ``open``: a Jira source without a secret (admin token only)."""
    parts = [CONFIG.read_text()]
    for kind in KINDS:
        table = (WEBHOOKS / kind / "source.toml").read_text()
        if signed:
            table += f'secret_env = "{env_name(kind)}"\n'
        parts.append(table)
    jira = (
        (WEBHOOKS / "jira" / "source.toml").read_text().replace("[sources.jsm]", "[sources.open]")
    )
    parts.append(jira + 'ticket_prefix = "OPEN-"\n')
    parts.append(extra)
    path = directory / "hooks.toml"
    path.write_text("\n".join(parts))
    return path


def secret_env() -> dict[str, str]:
    return {env_name(kind): SECRETS[kind] for kind in KINDS}


def payloads(kind: str) -> list[bytes]:
    """The lifecycle's raw bodies, exactly as in the fixture file (one per line)."""
    return [line.encode() for line in (WEBHOOKS / kind / "payloads.jsonl").read_text().splitlines()]


def expected(kind: str) -> list[tuple[str, datetime]]:
    lines = (WEBHOOKS / kind / "expected_events.jsonl").read_text().splitlines()
    return [(e["type"], _instant(e["occurred_at"])) for e in map(json.loads, lines)]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True)
class Delivery:
    source: str
    body: bytes
    headers: dict[str, str]


def signed(kind: str, body: bytes, delivery: str | None, *, secret: str | None = None) -> Delivery:
    """``body`` with the signature headers of ``kind`` (and a delivery id where it has one)."""
    now = datetime.now(UTC)
    stamp = {"zendesk": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "glpi": str(int(now.timestamp()))}
    headers = sign(kind, secret or SECRETS[kind], body, stamp.get(kind))
    headers["Content-Type"] = "application/json"
    if delivery is not None and kind in DELIVERY_HEADERS:
        headers[DELIVERY_HEADERS[kind]] = delivery
    return Delivery(SOURCES[kind], body, headers)


def lifecycle(kind: str, *, prefix: str = "d") -> list[Delivery]:
    """Every payload of ``kind`` signed; a byte-identical redelivered line keeps the
    delivery id of the line before it (a vendor's retry)."""
    found: list[Delivery] = []
    previous: bytes | None = None
    for number, body in enumerate(payloads(kind), start=1):
        delivery = f"{prefix}-{kind}-{number - 1 if body == previous else number}"
        found.append(signed(kind, body, delivery))
        previous = body
    return found


def stored(store_url: str, config: Path, ticket_id: str) -> list[tuple[str, datetime]]:
    """The facts stored for a ticket, as (type, occurred_at in UTC), in stored order."""
    from slaclock.config import load_policy
    from slaclock.projections.store import TicketStore

    store = TicketStore(store_url, load_policy(config)[0])
    try:
        ticket = store.load_ticket(ticket_id)
        if ticket is None:
            return []
        return [(f.type, f.occurred_at.astimezone(UTC)) for f in ticket.facts]
    finally:
        store.close()


def metric(text: str, name: str, **labels: Any) -> float:
    """One sample of the Prometheus text ``text`` (0 when absent)."""
    wanted = {key: str(value) for key, value in labels.items()}
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        inside, _, value = line[len(name) + 1 :].rpartition("} ")
        found = dict(part.split("=", 1) for part in inside.split(",") if "=" in part)
        if {key: v.strip('"') for key, v in found.items()} == wanted:
            return float(value)
    return 0.0
