"""Store URLs: their credentials, their redaction for messages, and the library's settings.

A store URL is ``sqlite:///PATH`` or ``postgresql://[user[:password]@]host[:port]/db[?...]``.
The password may hold any character, percent-encoded or not (``#``, ``?``, ``/`` and ``@``
too): the user info ends at the URL's last ``@`` (:func:`credentials`). :func:`redact` is the
one function that turns a URL into text for a message; it never shows the password, whatever
it holds, even for a URL that does not parse.

So that a long-running ``serve`` or ``consume`` needs no password on its command line (any
user can read it with ``ps``), a PostgreSQL password also comes, in this order, from the file
named by :data:`PASSWORD_FILE_VARIABLE`, from ``PGPASSWORD``, or from libpq's password file
(``PGPASSFILE``, default ``~/.pgpass``), which libpq reads itself when no password is given.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from eventsourcing.utils import get_topic

PASSWORD_FILE_VARIABLE = "SLACLOCK_STORE_PASSWORD_FILE"
"""A file holding the PostgreSQL password (its final line break is not part of it)."""

HIDDEN = "***"


class StoreError(Exception):
    """A store URL that cannot be used (a usage error); the message says which and why."""


def credentials(url: str) -> tuple[str | None, str | None, str]:
    """(user, password, the URL without them), user and password as written (percent-encoded
    or not); (None, None, url) when the URL has no user info. The user info is what lies
    between ``://`` and the ``@`` that starts the authority (:func:`_user_info_end`), when the
    user part (up to its first ``:``) holds no ``/``, ``?`` or ``#``, so a path or query with
    an ``@`` (``?schema=a@b``) is not taken for it."""
    scheme, sep, rest = url.partition("://")
    at = _user_info_end(rest) if sep else -1
    if at < 0:
        return None, None, url
    user, colon, password = rest[:at].partition(":")
    if any(mark in user for mark in "/?#"):
        return None, None, url
    return user, (password if colon else None), f"{scheme}://{rest[at + 1 :]}"


_HOST_PATH_QUERY = re.compile(r"(?:\[[^\]/?#@]*\]|[^/?#@:\[\]]+)(?::\d*)?/[^?#]*\?[^#]*=")
"""``host[:port]/path?key=``: an authority, a path, then a query with a value."""


def _user_info_end(rest: str) -> int:
    """The index of the ``@`` ending the user info in ``rest`` (the URL after ``://``), -1
    when there is none. The password may hold any character, ``@`` too, so it is the last
    ``@``, unless nothing after that one has a ``/`` (no ``/db`` follows it) and an earlier
    point (an ``@``, or the start) is followed by ``host[:port]/path?key=`` before it: then
    the last ``@`` lies in a query value. When in doubt the later ``@`` wins, which hides
    more, never less, of a password."""
    ats = [index for index, char in enumerate(rest) if char == "@"]
    if not ats or "/" in rest[ats[-1] + 1 :]:
        return ats[-1] if ats else -1
    for start in reversed([-1, *ats[:-1]]):
        if _HOST_PATH_QUERY.match(rest, start + 1, ats[-1]):
            return start
    return ats[-1]


def redact(url: str) -> str:
    """The URL for a message: its password, if any, replaced by ``***``."""
    user, password, rest = credentials(url)
    if password is None:
        return url
    scheme, _, host = rest.partition("://")
    return f"{scheme}://{user}:{HIDDEN}@{host}"


def hide_password(url: str, text: str) -> str:
    """``text`` (a driver's message) with the URL's password, as written and decoded, hidden."""
    password = credentials(url)[1]
    for secret in {password, unquote(password or "")} - {None, ""}:
        assert secret is not None
        text = text.replace(secret, HIDDEN)
    return text


POSTGRES_RECORDER_TOPIC = "slaclock.projections.postgres_recorder:PostgresStoreRecorder"
"""``projections.postgres_recorder.PostgresStoreRecorder``, named rather than imported:
eventsourcing imports it (and psycopg) when it opens a PostgreSQL store, and only then."""


def store_env(url: str) -> dict[str, str]:
    """``eventsourcing`` settings for a store URL (``sqlite:///path`` or ``postgresql://``).

    Query options: ``lock_timeout`` (SQLite: seconds to wait for the file lock, default 30),
    ``connect_timeout`` (PostgreSQL: seconds to wait for a connection, default 30) and
    ``schema`` (PostgreSQL). :class:`StoreError` (naming the URL without its password) when
    the URL cannot work."""
    from slaclock.projections.event_store import SQLiteStoreRecorder

    user, password, rest = credentials(url)
    try:
        parsed = urlsplit(rest)
        port = parsed.port
    except ValueError as exc:  # a bad port, or brackets that are not an IPv6 address
        raise StoreError(f"store {redact(url)!r}: not a valid URL ({exc})") from None
    query = dict(part.split("=", 1) for part in parsed.query.split("&") if "=" in part)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            path = path.lstrip("/") or path
        if not path or user is not None:
            raise StoreError(f"store {redact(url)!r}: expected sqlite:///PATH")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": _seconds(url, query, "lock_timeout", "30"),
            "APPLICATION_RECORDER_TOPIC": get_topic(SQLiteStoreRecorder),
        }
    if parsed.scheme in ("postgresql", "postgres"):
        if not parsed.hostname or not parsed.path.strip("/"):
            raise StoreError(f"store {redact(url)!r}: expected postgresql://user@host:port/db")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parsed.path.strip("/")),
            "POSTGRES_HOST": parsed.hostname,
            "POSTGRES_PORT": str(port or 5432),
            "POSTGRES_USER": unquote(user or "postgres"),
            "POSTGRES_PASSWORD": _password(url, password),
            "POSTGRES_LOCK_TIMEOUT": "30",
            "POSTGRES_CONNECT_TIMEOUT": _seconds(url, query, "connect_timeout", "30"),
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "60",
            "APPLICATION_RECORDER_TOPIC": POSTGRES_RECORDER_TOPIC,
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"]
        return env
    raise StoreError(f"store {redact(url)!r}: unknown scheme, expected sqlite:/// or postgresql://")


def _password(url: str, in_url: str | None) -> str:
    """The URL's password (percent-decoded), else the password file's, else ``PGPASSWORD``;
    empty when none is given (libpq then reads its password file). A password given both in
    the URL and in the file must be the same."""
    given = unquote(in_url) if in_url is not None else None
    path = os.environ.get(PASSWORD_FILE_VARIABLE)
    if path:
        try:
            from_file = read_secret(path)
        except ValueError as exc:
            raise StoreError(f"{PASSWORD_FILE_VARIABLE}: {path}: {exc}") from None
        if given is not None and given != from_file:
            raise StoreError(
                f"store {redact(url)}: a password is given both in the URL and in"
                f" {PASSWORD_FILE_VARIABLE}, differently"
            )
        return from_file
    if given is not None:
        return given
    return os.environ.get("PGPASSWORD", "")


def read_secret(path: str) -> str:
    """A secret from a file (its final line break is not part of it): the one reader of
    secret files (store, Kafka, schema registry, metrics token). ``ValueError`` with the
    reason (never the content) when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8"
        raise ValueError(reason) from None
    return text.removesuffix("\n").removesuffix("\r")


def _seconds(url: str, query: dict[str, str], key: str, default: str) -> str:
    """A whole number of seconds from the URL's query (``?lock_timeout=5``)."""
    value = query.get(key, default)
    if not value.isdigit():
        raise StoreError(f"store {redact(url)!r}: {key}: expected whole seconds, not {value!r}")
    return value
