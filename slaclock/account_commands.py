"""The money and time accounts: ``hours`` (a customer's support-hour statements) and
``ledger`` (the append-only credit ledger: ``show`` its entries, ``close`` a month).

Closing freezes the month's credit statement as ``report credits`` gives it; it is refused
while the month has not ended in every plan calendar's zone (``projections.ledger``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from slaclock import exit_codes
from slaclock.args import NotFound, UsageError
from slaclock.args import month as month_arg
from slaclock.config import LoadedPolicy, policy_from_text
from slaclock.output import credits_human, emit, hours_human, table
from slaclock.projections.answers import credits_answer, queries_for
from slaclock.projections.hours import NoHourAccount, statements
from slaclock.projections.ledger import month_still_open
from slaclock.projections.objective_ledger import close_postings
from slaclock.projections.render import ledger_entry_json
from slaclock.projections.store import TicketStore

COMMANDS = ("hours", "ledger")


def register(commands: Any) -> None:
    """Add ``hours`` and ``ledger`` to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser("hours", help="a customer's support-hour account statement")
    p.add_argument("--customer", required=True)
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--all", action="store_true", help="every month from the account's start")
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("ledger", help="the append-only credit ledger")
    ledger = p.add_subparsers(dest="ledger_command", required=True, metavar="OPERATION")
    show = ledger.add_parser("show", help="ledger entries (credits, reversals, adjustments)")
    show.add_argument("--month", help="entries posted into this month (YYYY-MM)")
    show.add_argument("--customer")
    show.add_argument("--json", action="store_true")
    close = ledger.add_parser(
        "close", help="freeze a month's credit statement (only once it has ended everywhere)"
    )
    close.add_argument("--month", required=True)
    close.add_argument(
        "--dry-run", action="store_true", help="show the statement it would freeze; write nothing"
    )
    close.add_argument("--json", action="store_true")


def handle(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    if args.command == "hours":
        return _hours(args, loaded, store)
    if args.ledger_command == "show":
        return _ledger_show(args, store)
    return _ledger_close(args, loaded, store)


def _hours(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    month = month_arg(args.month)
    try:
        found = statements(store, loaded.policy, args.customer, month)
    except NoHourAccount as exc:
        raise NotFound(str(exc)) from None
    shown = found if args.all else found[-1:]
    data = {"customer_id": args.customer, "statements": [s.as_dict() for s in shown]}
    emit(args, data, hours_human(data))
    return exit_codes.OK


def _ledger_show(args: argparse.Namespace, store: TicketStore) -> int:
    month = month_arg(args.month) if args.month else None
    entries = store.ledger_entries(posted_month=month, customer=args.customer)
    data = [ledger_entry_json(e) for e in entries]
    headers = ["posted", "month", "kind", "customer", "ticket", "metric", "amount", "refers_to"]
    rows = [
        [e.posted_month, e.month, e.kind, e.customer_id, e.ticket_id, e.metric, e.amount,
         e.refers_to]
        for e in entries
    ]  # fmt: skip
    emit(args, data, table(headers, rows))
    return exit_codes.OK


def _ledger_close(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    month = month_arg(args.month)
    now = datetime.now(UTC).replace(microsecond=0)
    still_open = month_still_open(loaded.policy, month, int(now.timestamp()))
    if still_open:
        zone, end = still_open
        why = f"ledger close: {month} has not ended yet in {zone} (ends {end.isoformat()})"
        if not args.dry_run:
            raise UsageError(f"{why}; --dry-run shows the statement it would freeze")
        print(f"slaclock: note: {why}, so closing it now is refused", file=sys.stderr)

    def queries() -> Any:
        # the read model may still be another process's older version: queries_for then
        # evaluates every ticket from its events under this configuration
        return queries_for(store, loaded.policy, loaded.version, None, policy_from_text)

    if month in store.closed_months():
        raise UsageError(f"--month: {month} is already closed")
    if args.dry_run:
        statement = credits_answer(queries(), month, now, None)
        count = len(statement["customers"])
        human = f"dry run, nothing written: closing {month} would freeze ({count} customers)\n"
        emit(args, statement, human + credits_human(statement))
        return exit_codes.OK
    # objective credits of the month, and corrections of months closed before: posted first,
    # so that corrections posted into this month are in the statement it freezes
    store.ledger.post(close_postings(queries(), month, int(now.timestamp()), loaded.version))
    statement: dict[str, Any] = {}

    def frozen() -> str:  # computed while the close holds the writers' lock
        statement.update(credits_answer(queries(), month, now, None), closed_at=now.isoformat())
        return json.dumps(statement)

    if not store.close_month(month, frozen, int(now.timestamp())):
        raise UsageError(f"--month: {month} is already closed")
    count = len(statement["customers"])
    emit(args, statement, f"closed {month}: statement frozen for {count} customers")
    return exit_codes.OK
