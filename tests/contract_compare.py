"""Compare slaclock's JSON with expected JSON as the contract does: instants as instants,
only the keys the expected side gives, lists in order (``service-levels.md`` section 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 20 or value[10:11] not in ("T", "t"):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def differences(expected: Any, got: Any, where: str = "$") -> list[str]:
    """Where ``got`` differs from ``expected`` (empty: it agrees)."""
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return [f"{where}: expected an object, got {got!r}"]
        found = []
        for key, value in expected.items():
            if key not in got:
                found.append(f"{where}.{key}: missing")
            else:
                found += differences(value, got[key], f"{where}.{key}")
        return found
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            size = len(got) if isinstance(got, list) else got
            return [f"{where}: expected {len(expected)} items, got {size}"]
        found = []
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            found += differences(e, g, f"{where}[{i}]")
        return found
    when, got_when = _instant(expected), _instant(got)
    if when is not None and got_when is not None:
        return [] if when == got_when else [f"{where}: expected {expected}, got {got}"]
    if isinstance(expected, float) and isinstance(got, int | float):
        return [] if abs(expected - got) < 1e-9 else [f"{where}: expected {expected}, got {got}"]
    return [] if expected == got else [f"{where}: expected {expected!r}, got {got!r}"]
