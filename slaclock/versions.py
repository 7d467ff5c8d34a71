"""``slaclock --version``: the versions of slaclock, of its holiday data and of a store.

Answered before the command line is parsed for a command, so it needs no configuration file;
a store is only read (never created) and only when one is named by ``--store`` or
``SLACLOCK_STORE``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from slaclock.projections import schema_version
from slaclock.projections.event_store import (
    StoreError,
    StoreUnavailable,
    driver_errors,
    store_env,
    store_failures,
)


def requested(argv: Sequence[str]) -> str | None:
    """The ``--version`` text when ``argv`` asks for it (None otherwise)."""
    if "--version" not in argv:
        return None
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--store", default=os.environ.get("SLACLOCK_STORE"))
    known, _ = pre.parse_known_args(argv)
    return text(known.store)


def text(store: str | None = None) -> str:
    """slaclock's version and that of the holiday data its calendars use; with ``store``,
    also the schema version of that store if it exists."""
    found = []
    for name in ("slaclock", "holidays"):
        try:
            found.append(version(name))
        except PackageNotFoundError:  # running from a source tree that is not installed
            found.append("unknown")
    lines = [f"slaclock {found[0]} (holidays {found[1]})"]
    if store:
        line = _store_line(store)
        if line:
            lines.append(line)
    return "\n".join(lines)


def _store_line(url: str) -> str | None:
    try:
        peeked = schema_version.peek(store_env(url))
    except StoreError as exc:
        return str(exc)
    except (*store_failures(), *driver_errors()) as exc:
        return str(StoreUnavailable.of(url, exc, "cannot read its schema version"))
    if peeked is None:
        return None
    number, note = peeked
    return f"store schema version {number} ({note})"
