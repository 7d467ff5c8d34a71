"""The analytics commands: ``analytics grant``, ``analytics refresh`` and ``export``.

The interface itself (views, tables, column dictionary) is ``projections.analytics``; the
files ``projections.analytics_export``; docs/analytics.md describes both.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from slaclock import exit_codes
from slaclock.args import UsageError
from slaclock.args import month as month_arg
from slaclock.config import LoadedPolicy
from slaclock.output import emit, table
from slaclock.projections.analytics import RoleError, grant, refresh
from slaclock.projections.analytics_columns import EXPORTABLE
from slaclock.projections.analytics_export import ExportError, export
from slaclock.projections.ledger import next_month
from slaclock.projections.store import TicketStore

COMMANDS = ("analytics", "export")


def register(commands: Any) -> None:
    """Add the analytics commands to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser("analytics", help="the analytics interface (docs/analytics.md)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    g = actions.add_parser("grant", help="PostgreSQL: SELECT on the analytics schema to ROLE")
    g.add_argument("role", metavar="ROLE")
    g.add_argument(
        "--customer",
        action="append",
        default=[],
        metavar="ID",
        help="the role sees only this customer's rows (repeat for more; without: every row)",
    )
    g.add_argument("--json", action="store_true")
    r = actions.add_parser("refresh", help="SQLite: fill the analytics tables anew")
    r.add_argument("--json", action="store_true")

    e = commands.add_parser("export", help="a dataset's months as Parquet or CSV files")
    e.add_argument("dataset", choices=EXPORTABLE, metavar="DATASET", help=", ".join(EXPORTABLE))
    e.add_argument("--month", help="YYYY-MM (or --from and --to)")
    e.add_argument("--from", dest="first", help="first month, YYYY-MM")
    e.add_argument("--to", dest="last", help="last month, YYYY-MM (inclusive)")
    e.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    e.add_argument("--out", required=True, help="directory (Hive layout below it)")
    e.add_argument("--json", action="store_true")


def handle(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    if args.command == "export":
        return _export(args, store)
    if args.action == "grant":
        try:
            schema = grant(store, args.role, args.customer)
        except RoleError as exc:
            raise UsageError(str(exc)) from None
        customers = sorted(set(args.customer))
        scope = f" (customers {', '.join(customers)} only)" if customers else ""
        emit(
            args,
            {"role": args.role, "schema": schema, "customers": customers},
            f"{args.role}: SELECT on {schema}{scope}",
        )
        return exit_codes.OK
    counts = refresh(store, int(time.time()))
    human = (
        table(["table", "rows"], [[f"analytics_{k}", v] for k, v in counts.items()])
        if counts
        else "PostgreSQL: the analytics views are live, nothing to refresh"
    )
    emit(args, counts, human)
    return exit_codes.OK


def months(args: argparse.Namespace) -> list[str]:
    """The months of ``--month`` or ``--from``/``--to``, in order."""
    if args.month and (args.first or args.last):
        raise UsageError("export: give --month, or --from and --to, not both")
    if args.month:
        return [month_arg(args.month)]
    if not (args.first and args.last):
        raise UsageError("export: give --month, or --from and --to")
    first, last = month_arg(args.first, "--from"), month_arg(args.last, "--to")
    if first > last:
        raise UsageError(f"export: --from {first} is after --to {last}")
    found = [first]
    while found[-1] != last:
        found.append(next_month(found[-1]))
    return found


def _export(args: argparse.Namespace, store: TicketStore) -> int:
    wanted = months(args)
    now = int(time.time())
    try:
        written = export(store, args.dataset, wanted, args.format, Path(args.out), now)
    except ExportError as exc:
        raise UsageError(f"export: {exc}") from None
    data = [{"month": w.month, "path": w.path, "rows": w.rows} for w in written]
    rows = [[w.month, "kept (closed)" if w.rows is None else w.rows, w.path] for w in written]
    emit(args, data, table(["month", "rows", "path"], rows))
    return exit_codes.OK
