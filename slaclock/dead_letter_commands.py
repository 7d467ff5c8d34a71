"""The ``dead-letters`` command: the consumer's rejected messages kept in the store's outbox.

``slaclock consume`` stores every dead letter with its batch (``projections.dead_letters``);
with a dead-letter topic they are relayed there and marked relayed, without one they only
stay in the store. This lists them, oldest first.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from slaclock import exit_codes
from slaclock.args import UsageError
from slaclock.args import instant as instant_arg
from slaclock.config import LoadedPolicy
from slaclock.output import table
from slaclock.projections.dead_letters import listing
from slaclock.projections.store import TicketStore

COMMANDS = ("dead-letters",)


def register(commands: Any) -> None:
    """Add ``dead-letters`` to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser(
        "dead-letters",
        help="the rejected Kafka messages kept in the store (relayed to the dead-letter topic"
        " or not)",
    )
    p.add_argument("--since", help="only those stored at or after this instant (RFC 3339)")
    p.add_argument(
        "--unrelayed", action="store_true", help="only those not (yet) on a dead-letter topic"
    )
    p.add_argument("--limit", type=int, help="at most this many (the oldest first)")
    p.add_argument("--json", action="store_true", help="a JSON array")


def handle(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    """List the dead letters (``loaded``, the configuration, is not needed)."""
    since = int(instant_arg(args.since, "--since").timestamp()) if args.since else None
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit: must not be negative")
    letters = listing(store, since=since, unrelayed_only=args.unrelayed, limit=args.limit)
    data = [letter.as_json() for letter in letters]
    if args.json:
        print(json.dumps(data, indent=1))
        return exit_codes.OK
    headers = ["stored", "relayed", "source", "reason", "id"]
    rows = [[d["created_at"], d["relayed_at"], d["source"], d["reason"], d["id"]] for d in data]
    print(table(headers, rows))
    return exit_codes.OK
