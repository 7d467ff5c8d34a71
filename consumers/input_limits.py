"""How deep and how long structured input may be: the one bound every entrance applies.

JSON (and TOML) allow any nesting depth and any number length; Python's parsers recurse once
per level (a few thousand ``[`` end in ``RecursionError``) and refuse integers of more than
4,300 digits (``ValueError``), so that one such line would stop a process. Every JSON text
slaclock reads from outside (JSON Lines, Kafka values, webhook bodies, ``translate``,
Debezium records: all through :func:`load_json`) and the configuration's TOML
(:func:`check_toml`) is first checked against two limits, as RFC 8259 section 9 allows:

- :data:`MAX_DEPTH` = 64 nested arrays or objects. A slaclock event has depth 1, the
  deepest vendor sample (a Jira webhook) 5, a rich-text comment body (Atlassian's document
  format, lists in lists) a dozen or two; 64 leaves room for all of them and stays far
  below the depth at which a parser, pydantic or ``json.dumps`` could run out of stack.
- :data:`MAX_NUMBER_LENGTH` = 100 characters per number. The largest integer slaclock uses
  is an epoch in nanoseconds (19 digits); a 64-bit float needs at most 17 significant digits
  plus sign and exponent. 100 leaves room for any honest number and keeps integer
  conversion cheap (it is quadratic in the length).

The checks are cheap for ordinary input, which every event is: depth costs two ``str.count``
(a text with at most 64 ``[``/``{`` cannot nest deeper; only one that might is scanned,
strings skipped), and JSON numbers are measured by the parser's own number hooks as it reads
them (one short call per number). TOML (read once, at start) is scanned for both.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64
"""Arrays and objects (TOML: arrays and inline tables) nested at most this deep."""
MAX_NUMBER_LENGTH = 100
"""Characters a number may have (sign, digits, point and exponent)."""

_NUMBER_RUN = re.compile(rf"[-+.eE0-9_]{{{MAX_NUMBER_LENGTH + 1},}}")
"""A TOML number longer than the limit (``_``: TOML's digit separator)."""
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_TOML_SKIPPED = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|\'[^\'\n]*\'|#[^\n]*'
)
"""TOML strings (basic, literal, multi-line) and comments: what may hold brackets freely."""
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class InputTooComplex(ValueError):
    """A text nested deeper, or with a longer number, than the limits; the message says
    which and by how much."""


def load_json(raw: str | bytes) -> Any:
    """``json.loads`` within the limits: :class:`InputTooComplex`, ``json.JSONDecodeError``
    or ``UnicodeDecodeError`` (all ``ValueError``) when the text is not acceptable. Bytes
    are decoded as ``json.loads`` decodes them (UTF-8, -16 or -32 by their first bytes)."""
    if isinstance(raw, bytes):
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    elif raw.startswith("\ufeff"):  # what json.loads says of a text (not bytes) with a BOM
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
    else:
        text = raw
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_depth(_JSON_STRING.sub('""', text), "JSON")
    return _DECODER.decode(text)


def _int(token: str) -> int:
    if len(token) > MAX_NUMBER_LENGTH:
        raise InputTooComplex(_too_long("JSON", token))
    return int(token)


def _float(token: str) -> float:
    if len(token) > MAX_NUMBER_LENGTH:
        raise InputTooComplex(_too_long("JSON", token))
    return float(token)


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float)
"""``json.loads``' decoder, with every number's length checked as it is read."""


def check_toml(text: str) -> None:
    """:class:`InputTooComplex` when the TOML ``text`` breaks a limit (table headers such
    as ``[[a.b]]`` count as the brackets they are, which is always far below the limit)."""
    bare = _TOML_SKIPPED.sub("''", text)
    _check_depth(bare, "TOML")
    if (number := _NUMBER_RUN.search(bare)) is not None:
        raise InputTooComplex(_too_long("TOML", number.group()))


def _check_depth(bare: str, syntax: str) -> None:
    """The nesting limit on ``bare``: the text with its strings (and comments) taken out."""
    brackets = _NOT_BRACKET.sub("", bare)
    if len(brackets) > MAX_DEPTH:
        deepest = max(accumulate(_STEP[c] for c in brackets))
        if deepest > MAX_DEPTH:
            raise InputTooComplex(
                f"{syntax} nested too deep: {deepest} levels of arrays or objects"
                f" (at most {MAX_DEPTH})"
            )


def _too_long(syntax: str, number: str) -> str:
    return (
        f"{syntax} number too long: {len(number)} characters (at most {MAX_NUMBER_LENGTH}):"
        f" {number[:20]}..."
    )
