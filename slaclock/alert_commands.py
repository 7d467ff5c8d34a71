"""The alert outbox's commands, and its delivery beside ``serve`` and ``consume``.

``slaclock notify`` delivers the due escalations once (``--follow``: until stopped);
``slaclock alerts deliveries`` lists the outbox (``--failed``, ``--pending``);
``slaclock alerts retry`` makes failed deliveries pending again. :func:`delivering` runs a
deliverer on a thread of its own, with a store connection of its own, while a long-running
command works. The rules: docs/alerts.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from slaclock import exit_codes
from slaclock.args import UsageError
from slaclock.config import LoadedPolicy
from slaclock.consumers.alert_delivery import (
    DEFAULT_LEASE_SECONDS,
    FOLLOW_INTERVAL,
    WOKEN_FOLLOW_INTERVAL,
    Deliverer,
)
from slaclock.consumers.notifiers import Notifier, NotifierError, open_notifiers
from slaclock.output import table
from slaclock.projections import alert_outbox
from slaclock.projections.event_store import EventStore, store_failures
from slaclock.projections.store import TicketStore

COMMANDS = ("notify", "alerts")
FINAL_DRAIN_SECONDS = 10.0
"""A stopping ``serve`` or ``consume`` delivers what is due for at most this long."""


def register(commands: Any) -> None:
    p = commands.add_parser("notify", help="deliver the due escalations to their notifiers")
    p.add_argument("--follow", action="store_true", help="keep delivering until stopped")
    _lease_option(p)
    p.add_argument(
        "--interval", type=float, default=0.5, help="--follow: seconds between looks (0.5)"
    )
    alerts = commands.add_parser("alerts", help="the alert outbox: deliveries, retries")
    which = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    listing = which.add_parser("deliveries", help="list deliveries, oldest first")
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--failed", action="store_true", help="only those that failed")
    state.add_argument("--pending", action="store_true", help="only those not delivered yet")
    listing.add_argument("--limit", type=int, default=1000, help="at most this many (1000)")
    listing.add_argument("--json", action="store_true", help="a JSON array")
    retry = which.add_parser("retry", help="make failed deliveries pending again")
    retry.add_argument("ids", nargs="*", metavar="ID", help="delivery or alert ids (default all)")


def add_deliver_option(p: argparse.ArgumentParser) -> None:
    """``--no-deliver`` for ``serve`` and ``consume`` (they deliver the outbox by default)."""
    p.add_argument(
        "--no-deliver",
        action="store_true",
        help="do not deliver escalations to the notifiers (another process does: notify)",
    )


def _lease_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lease",
        type=float,
        default=DEFAULT_LEASE_SECONDS,
        help=f"seconds a claimed delivery stays this process's ({DEFAULT_LEASE_SECONDS:g})",
    )


def handle(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    if args.command == "notify":
        return _notify(args, loaded, store)
    if args.alerts_command == "retry":
        count = alert_outbox.retry_failed(store, time.time(), args.ids)
        print(json.dumps({"retried": count}))
        return exit_codes.OK if count or not args.ids else exit_codes.NOT_FOUND
    return _deliveries(args, store)


def _notify(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    if args.lease <= 0 or args.interval <= 0:
        raise UsageError("--lease and --interval: must be more than 0 seconds")
    deliverer = Deliverer(store, _notifiers(loaded), lease_seconds=args.lease)
    try:
        if args.follow:
            stop = threading.Event()
            previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                deliverer.follow(stop, args.interval)
            except KeyboardInterrupt:
                pass
            finally:
                signal.signal(signal.SIGTERM, previous)
        else:
            deliverer.drain()
    finally:
        deliverer.close()
    figures = alert_outbox.summary(store, time.time())
    print(json.dumps({**deliverer.stats.as_dict(), "pending": int(figures["pending"])}))
    return exit_codes.OK


def _notifiers(loaded: LoadedPolicy) -> dict[str, Notifier]:
    try:
        return open_notifiers(loaded.notifiers)
    except NotifierError as exc:
        raise UsageError(str(exc)) from None


def _deliveries(args: argparse.Namespace, store: TicketStore) -> int:
    if args.limit < 0:
        raise UsageError("--limit: must not be negative")
    status = "failed" if args.failed else "pending" if args.pending else None
    found = alert_outbox.listing(store, status, args.limit)
    data = [_json(d) for d in found]
    if args.json:
        print(json.dumps(data, indent=1))
        return exit_codes.OK
    headers = ["stored", "status", "attempts", "notifier", "ticket", "level", "kind", "error"]
    rows = [
        [d["created_at"], d["status"], d["attempts"], d["notifier"], d["ticket_id"],
         d["payload"]["level"], d["payload"]["kind"], d["last_error"]]
        for d in data
    ]  # fmt: skip
    print(table(headers, rows))
    return exit_codes.OK


def _json(d: alert_outbox.Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "alert_id": d.alert_id,
        "notifier": d.notifier,
        "ticket_id": d.ticket_id,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": _iso(d.created_at),
        "next_attempt_at": _iso(d.next_attempt_at) if d.status == "pending" else None,
        "delivered_at": _iso(d.delivered_at),
        "last_error": d.last_error,
        "payload": json.loads(d.payload),
    }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@contextmanager
def delivering(
    url: str, loaded: LoadedPolicy, enabled: bool = True, *, woken: bool = False
) -> Iterator[Callable[[], None] | None]:
    """Deliver the outbox on a thread while the block runs (nothing without notifiers, or
    when not ``enabled``). The thread opens its own store, waiting while it is away. Yields
    the wake-up to call when the block committed deliveries (None: no thread); ``woken``:
    the block calls it, so the thread looks for other due rows only every
    ``WOKEN_FOLLOW_INTERVAL`` seconds (else every ``FOLLOW_INTERVAL``)."""
    if not loaded.notifiers or not enabled:
        yield None
        return
    notifiers = _notifiers(loaded)
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=_deliver,
        args=(url, notifiers, stop, wake, WOKEN_FOLLOW_INTERVAL if woken else FOLLOW_INTERVAL),
        name="slaclock-delivery",
        daemon=True,
    )
    thread.start()
    try:
        yield wake.set
    finally:
        stop.set()
        wake.set()
        thread.join(timeout=30)


def _deliver(
    url: str,
    notifiers: dict[str, Notifier],
    stop: threading.Event,
    wake: threading.Event,
    interval: float,
) -> None:
    store: EventStore | None = None
    while store is None:
        try:
            store = EventStore(url, cache_size=0)
        except store_failures():
            if stop.wait(2.0):
                return
    deliverer = Deliverer(store, notifiers)
    try:
        deliverer.follow(stop, interval, wake)
        deliverer.drain(FINAL_DRAIN_SECONDS)  # what the last batches made due
    except store_failures():
        pass  # pending rows stay for the next delivering process
    finally:
        deliverer.close()
        store.close()
