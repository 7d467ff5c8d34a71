"""Command-line input shared by every command module: errors and the parsed values.

A user's mistake on the command line is a :class:`UsageError` (exit 2) naming the option;
something asked for that does not exist is :class:`NotFound` (exit 1).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

from slaclock.domain.instants import InstantError, parse_instant, parse_month
from slaclock.projections.store_url import read_secret


class UsageError(Exception):
    """Bad input on the command line (exit 2)."""


class NotFound(Exception):
    """What was asked for does not exist (exit 1)."""


#: Options that name files: any bytes are a valid file name, so they are passed on as given.
PATHS = ("files", "config", "dead_letter", "alerts")


def valid_text(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` when every value (but file names) is text; :class:`UsageError` naming the
    option otherwise. The shell passes bytes; Python turns those that are not UTF-8 into
    lone surrogates, which no store or output can take."""
    for name, value in vars(args).items():
        if name in PATHS:
            continue
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or item.isascii():
                continue
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                offset = len(item[: exc.start].encode("utf-8", "surrogateescape"))
                byte = item[exc.start].encode("utf-8", "surrogateescape")[0]
                raise UsageError(
                    f"{name}: not valid UTF-8: byte 0x{byte:02x} at offset {offset}"
                ) from None
    return args


def secret_file(path: str, what: str) -> str:
    """The secret held in the file ``path`` (``what``: the option or setting that names it),
    without its final line break; :class:`UsageError` naming both, never the secret."""
    try:
        return read_secret(path)
    except ValueError as exc:
        raise UsageError(f"{what} {path}: {exc}") from None


def one_secret(value: str | None, path: str | None, option: str, variable: str) -> str | None:
    """A secret given as a value (``option``, or the environment ``variable``) or in a file
    (``option-file``): the file's when only it is given; the same secret twice is fine, two
    different ones are a :class:`UsageError`. A value typed on the command line is warned
    about: any user can read it in the process list (``ps``)."""
    if value and value != os.environ.get(variable):
        print(
            f"slaclock: warning: {option} is visible in the process list: give it in"
            f" {option}-file or {variable} instead",
            file=sys.stderr,
        )
    from_file = secret_file(path, f"{option}-file") if path else None
    if value and from_file is not None and value != from_file:
        raise UsageError(f"{option}: given both as a value and in {option}-file, differently")
    return from_file if from_file is not None else (value or None)


def instant(text: str, option: str) -> datetime:
    """An RFC 3339 timestamp with UTC offset from ``option``, in the supported range
    (see ``domain.instants``)."""
    try:
        return parse_instant(text)
    except InstantError as exc:
        raise UsageError(f"{option}: {exc}") from None


def as_of_or_now(text: str | None) -> datetime:
    """``--as-of``: the instant given, or now to the second."""
    if text:
        return instant(text, "--as-of")
    return datetime.now(UTC).replace(microsecond=0)


def month(text: str, option: str = "--month") -> str:
    """A ``YYYY-MM`` month in the supported years."""
    try:
        return parse_month(text)
    except InstantError as exc:
        raise UsageError(f"{option}: {exc}") from None
