"""One recompute at a time: a lease in ``sla_meta`` naming its owner, version and expiry.

A process that must recompute many tickets takes the lease first; another process that finds
an unexpired lease held by someone else does not start a second recompute, it answers from
the read model it has (and says that a newer version is being applied). The owner renews the
lease as it goes; a crashed owner's lease simply expires. The switch to the new rows checks,
in its own transaction, that the lease is still held, so a recompute whose lease was taken
over never switches.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from slaclock.projections.meta import RECOMPUTE_LEASE, delete_meta, read_meta, write_meta
from slaclock.projections.store import TicketStore
from slaclock.projections.tables import Dialect

DEFAULT_LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class Lease:
    """Who is recomputing, towards which policy version, and until when (epoch s)."""

    owner: str
    version: str
    until: float

    def live(self, now: float) -> bool:
        return self.until > now

    def text(self) -> str:
        return json.dumps({"owner": self.owner, "version": self.version, "until": self.until})


def new_owner() -> str:
    """A name for this process's recompute: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def read_lease(cursor: Any, dialect: Dialect) -> Lease | None:
    value = read_meta(cursor, dialect, [RECOMPUTE_LEASE]).get(RECOMPUTE_LEASE)
    if not value:
        return None
    data = json.loads(value)
    return Lease(str(data["owner"]), str(data["version"]), float(data["until"]))


def _serialise(cursor: Any, store: TicketStore) -> None:
    """Make lease takers wait for each other (the read and the write are then one step)."""
    if store.dialect.name == "postgres":
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [store.dialect.prefix + "rc"])
    else:  # SQLite: a write statement takes the database's write lock at once
        cursor.execute(store.dialect.sql("DELETE FROM {p}sla_meta WHERE key = ?"), ["-"])


def acquire(store: TicketStore, owner: str, version: str, seconds: float) -> Lease | None:
    """Take the lease for ``owner``; None when taken, else the live lease of another owner."""
    now = time.time()
    with store.write() as cursor:
        _serialise(cursor, store)
        held = read_lease(cursor, store.dialect)
        if held is not None and held.owner != owner and held.live(now):
            return held
        lease = Lease(owner, version, now + seconds)
        write_meta(cursor, store.dialect, [(RECOMPUTE_LEASE, lease.text())])
    return None


def holds(cursor: Any, dialect: Dialect, owner: str) -> bool:
    """Whether ``owner`` still holds the lease (checked in the switching transaction)."""
    held = read_lease(cursor, dialect)
    return held is not None and held.owner == owner


def renew(store: TicketStore, owner: str, version: str, seconds: float) -> bool:
    """Extend the lease; False when it is no longer ``owner``'s (it expired and was taken)."""
    with store.write() as cursor:
        return still_held(cursor, store, owner, version, seconds)


def still_held(
    cursor: Any, store: TicketStore, owner: str, version: str, renew_for: float | None = None
) -> bool:
    """In the caller's write transaction, before it writes anything: whether ``owner``
    still holds the lease, extended by ``renew_for`` seconds if given."""
    _serialise(cursor, store)
    if not holds(cursor, store.dialect, owner):
        return False
    if renew_for is not None:
        lease = Lease(owner, version, time.time() + renew_for)
        write_meta(cursor, store.dialect, [(RECOMPUTE_LEASE, lease.text())])
    return True


def release_in(cursor: Any, dialect: Dialect, owner: str) -> None:
    """Give the lease up inside the caller's transaction (if ``owner`` holds it)."""
    if holds(cursor, dialect, owner):
        delete_meta(cursor, dialect, [RECOMPUTE_LEASE])


def release(store: TicketStore, owner: str) -> None:
    with store.write() as cursor:
        release_in(cursor, store.dialect, owner)


def pending_version(cursor: Any, dialect: Dialect, current: str | None) -> str | None:
    """The version a live recompute is applying, if it is not ``current``."""
    held = read_lease(cursor, dialect)
    if held is None or not held.live(time.time()) or held.version == current:
        return None
    return held.version


class Keeper:
    """A lease held for a long task that is not a recompute (``replay``, ``replay --verify``):
    :meth:`keep`, called as the task goes (a page at a time), renews it every third of its
    length and raises :class:`LeaseLost` once another process took it over."""

    def __init__(self, store: TicketStore, owner: str, version: str, seconds: float) -> None:
        self.store, self.owner, self.version, self.seconds = store, owner, version, seconds
        self.renewed = time.monotonic()

    def keep(self, *_: Any) -> None:
        if time.monotonic() - self.renewed >= self.seconds / 3:
            self.confirm()

    def confirm(self) -> None:
        """Renew now; :class:`LeaseLost` if it is no longer this owner's."""
        if not renew(self.store, self.owner, self.version, self.seconds):
            raise LeaseLost("the recompute lease expired and was taken by another process")
        self.renewed = time.monotonic()


class LeaseLost(Exception):
    """The recompute lease expired and another process took it: the task holding it stops."""
