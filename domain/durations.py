"""Durations as the configuration writes them: ``"3h"``, ``"90m"``, ``"1h30m"``, ``"PT3H"``.

Targets are always whole seconds of business time, so everything here returns ``int``.
"""

from __future__ import annotations

import re

_SHORT = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_EXPECTED = 'expected e.g. "3h", "90m", "1h30m" or "PT3H"'
_ISO = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def parse_duration(text: str) -> int:
    """Return the seconds in ``text``; raise ``ValueError`` naming the text when it is not one.

    ``d`` / ``D`` is 24 hours of business time (a target, not a calendar day).
    """
    if not isinstance(text, str):
        raise ValueError(f"bad duration {text!r}, {_EXPECTED}")
    compact = text.strip().replace(" ", "")
    match = _SHORT.match(compact.lower()) if not compact.upper().startswith("P") else None
    if match is None:
        match = _ISO.match(compact.upper())
    if match is None or not any(match.groupdict().values()):
        raise ValueError(f"bad duration {text!r}, {_EXPECTED}")
    parts = {k: int(v or 0) for k, v in match.groupdict().items()}
    seconds = parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    if seconds <= 0:
        raise ValueError(f"bad duration {text!r}: must be longer than zero")
    return seconds
