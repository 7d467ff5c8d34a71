"""The ``policy status`` command: which policy version the read model reflects, whether
another one is being applied, and what the last configuration change recomputed.

Every command notices a configuration change when it opens the store and says on stderr what
each part of it touched (``slaclock.bootstrap``); ``policy status --json`` gives the same, and
the state of a recompute in progress, as JSON for scripts.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from slaclock import exit_codes
from slaclock.config import LoadedPolicy
from slaclock.output import emit, table
from slaclock.projections.policy_versions import last_change, read_model_state
from slaclock.projections.recompute_lease import read_lease
from slaclock.projections.store import TicketStore

COMMANDS = ("policy",)


def register(commands: Any) -> None:
    """Add ``policy status`` to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser("policy", help="the policy version of the read model and its changes")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser(
        "status",
        help="the configuration's and the read model's policy versions, a recompute in "
        "progress, and the tickets each part of the last change touched",
    )
    status.add_argument("--json", action="store_true")


def handle(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    data = status(loaded, store)
    emit(args, data, _human(data))
    return exit_codes.OK


def status(loaded: LoadedPolicy, store: TicketStore) -> dict[str, Any]:
    current, pending = read_model_state(store)
    with store.read() as cursor:
        lease = read_lease(cursor, store.dialect)
    recompute = None
    if lease is not None and lease.live(time.time()):
        recompute = {
            "policy_version": lease.version,
            "owner": lease.owner,
            "lease_until": datetime.fromtimestamp(lease.until, UTC).isoformat(timespec="seconds"),
        }
    return {
        "config_version": loaded.version,
        "policy_version": current,
        "policy_pending": pending,
        "recompute": recompute,
        "last_change": last_change(store),
    }


def _human(data: dict[str, Any]) -> str:
    lines = [
        f"configuration: policy version {data['config_version']}",
        f"read model:    policy version {data['policy_version'] or '-'}",
    ]
    if data["recompute"]:
        r = data["recompute"]
        lines.append(
            f"recomputing:   policy version {r['policy_version']} by {r['owner']}"
            f" (lease until {r['lease_until']})"
        )
    change = data["last_change"]
    if change:
        lines.append(
            f"last change:   {change['previous'] or '-'} -> {change['policy_version']},"
            f" {change['recomputed']} tickets recomputed" + (" (all)" if change["full"] else "")
        )
        rows = [[c["what"], c["tickets"]] for c in change["changes"]]
        if rows:
            lines.append(table(["change", "tickets"], rows))
    return "\n".join(lines)
