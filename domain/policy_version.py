"""Policy versions that mean something: a hash of the parsed configuration, not of its text.

The configuration is parsed (TOML) and written back in one canonical form (keys sorted, no
whitespace, no comments), so that editing a comment, reformatting or reordering keys keeps
the version. The version of the ``holidays`` package is hashed in too: an upgrade can move
public holidays, hence deadlines. Both inputs are arguments, so callers (and tests) decide
which package version counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical(data: Mapping[str, Any]) -> str:
    """The parsed configuration as canonical JSON (dates and times as ISO text)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def policy_version(data: Mapping[str, Any], holidays_version: str) -> str:
    """The version of a parsed configuration under a ``holidays`` package version."""
    content = f"{canonical(data)}\nholidays {holidays_version}"
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]


def legacy_version(text: str) -> str:
    """The version earlier releases gave a configuration: a hash of its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
