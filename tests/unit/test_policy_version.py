"""The policy version hashes the parsed configuration and the holidays package version."""

from __future__ import annotations

from slaclock.config import parse_policy
from tests.conftest import CONFIG


def _version(text: str, holidays_version: str = "1.0") -> str:
    return parse_policy(text, "test", holidays_version).version


def test_comments_whitespace_and_key_order_keep_the_version() -> None:
    text = CONFIG.read_text()
    reordered = text.replace(
        'currency = "EUR"\ndefault_priority = 3', 'default_priority = 3\ncurrency   =   "EUR"'
    )
    assert reordered != text
    assert _version(text) == _version(text + "\n# a comment\n") == _version(reordered)


def test_a_change_of_meaning_or_of_the_holidays_version_changes_it() -> None:
    text = CONFIG.read_text()
    assert _version(text) != _version(
        text.replace('monthly_fee = "58.00"', 'monthly_fee = "59.00"')
    )
    assert _version(text, "1.0") != _version(text, "1.1")
