"""Small builders for domain tests: a policy from TOML text and facts from short specs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from slaclock.config import load_policy
from slaclock.domain.facts import Fact
from slaclock.domain.policy import Policy

FIXTURE_CONFIG = Path(__file__).parent / "fixtures" / "slaclock.toml"


def contract_policy() -> Policy:
    return load_policy(FIXTURE_CONFIG)[0]


def policy_from(tmp_path: Path, text: str) -> Policy:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return load_policy(path)[0]


def fact(
    n: int | str,
    kind: str,
    when: str,
    *,
    customer: str | None = None,
    priority: int | None = None,
    **details: str,
) -> Fact:
    return Fact(
        event_id=f"e{n}",
        type=f"ticket.{kind}",
        occurred_at=datetime.fromisoformat(when),
        customer_id=customer,
        priority=priority,
        details=details,
    )


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())
