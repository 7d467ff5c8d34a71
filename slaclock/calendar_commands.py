"""``slaclock calendar add|between``: business-time arithmetic on a configured calendar.

It needs the configuration only, never the store: a way to check a calendar (hours,
holidays, closures) before any event is counted on it.
"""

from __future__ import annotations

import argparse
from typing import Any

from slaclock import exit_codes
from slaclock.args import NotFound, UsageError
from slaclock.args import instant as instant_arg
from slaclock.domain.durations import parse_duration
from slaclock.domain.policy import Policy
from slaclock.output import emit

COMMANDS = ("calendar",)


def register(commands: Any) -> None:
    """Add ``calendar`` to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser("calendar", help="business-time arithmetic on a calendar")
    operations = p.add_subparsers(dest="calendar_command", required=True, metavar="OPERATION")
    add = operations.add_parser("add", help="the deadline a duration of open time after a start")
    add.add_argument("name", help="a calendar, or a plan (its calendar)")
    add.add_argument("--start", required=True)
    add.add_argument("--duration", required=True, help='e.g. "3h", "90m", "PT3H"')
    add.add_argument("--json", action="store_true")
    between = operations.add_parser("between", help="open time between two instants")
    between.add_argument("name", help="a calendar, or a plan (its calendar)")
    between.add_argument("--start", required=True)
    between.add_argument("--end", required=True)
    between.add_argument("--json", action="store_true")


def handle(args: argparse.Namespace, policy: Policy) -> int:
    calendar = policy.calendar_or_plan(args.name)
    if calendar is None:
        raise NotFound(f"calendar {args.name!r}: no calendar or plan of that name")
    start = instant_arg(args.start, "--start")
    if args.calendar_command == "add":
        try:
            seconds = parse_duration(args.duration)
        except ValueError as exc:
            raise UsageError(f"--duration: {exc}") from None
        try:
            deadline = calendar.add(start, seconds)
        except ValueError as exc:  # a deadline beyond the years calendars serve
            raise UsageError(f"--duration: {exc}") from None
        emit(args, {"deadline": deadline.isoformat()}, deadline.isoformat())
        return exit_codes.OK
    end = instant_arg(args.end, "--end")
    seconds = calendar.between(start, end)
    emit(args, {"seconds": seconds}, f"{seconds} s ({seconds / 3600:.2f} h)")
    return exit_codes.OK
