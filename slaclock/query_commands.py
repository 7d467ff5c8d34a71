"""The read commands: ``ticket``, ``tickets``, ``explain`` and ``report``.

Each answers as of an instant (``--as-of``), and optionally with only what the store knew at
an earlier one under the configuration in use then (``--known-at``). The answers come from
``projections.answers`` and ``domain.explain``, the same as the HTTP API's.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from typing import Any

from slaclock import exit_codes
from slaclock.args import NotFound, as_of_or_now
from slaclock.args import instant as instant_arg
from slaclock.args import month as month_arg
from slaclock.config import LoadedPolicy, policy_from_text
from slaclock.output import credits_human, emit, explain_human, table
from slaclock.projections.answers import (
    compliance_answer,
    consistently,
    credits_answer,
    explain_answer,
    ownership_answer,
    queries_for,
)
from slaclock.projections.queries import Queries
from slaclock.projections.render import ticket_json
from slaclock.projections.store import TicketStore

COMMANDS = ("ticket", "tickets", "explain", "report")


def register(commands: Any) -> None:
    """Add the read commands to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser("ticket", help="one ticket with its clocks")
    p.add_argument("ticket_id")
    _moment_options(p)
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("tickets", help="every ticket with its clocks")
    p.add_argument("--customer")
    _moment_options(p)
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.add_argument("--jsonl", action="store_true", help="JSON Lines, one ticket per line")

    p = commands.add_parser("explain", help="why each clock of a ticket came out as it did")
    p.add_argument("ticket_id")
    _moment_options(p)
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("report", help="monthly reports")
    reports = p.add_subparsers(dest="report", required=True, metavar="REPORT")
    for name, text in (("compliance", "met and breached clocks"), ("credits", "credits owed")):
        report = reports.add_parser(name, help=text)
        report.add_argument("--month", required=True, help="YYYY-MM, in each plan calendar's zone")
        report.add_argument("--customer")
        _moment_options(report)
        report.add_argument("--json", action="store_true")
    report = reports.add_parser("ownership", help="met and breached ownership cycles per group")
    report.add_argument("--month", required=True, help="YYYY-MM, in each plan calendar's zone")
    report.add_argument("--group", help="only this group")
    _moment_options(report)
    report.add_argument("--json", action="store_true")


def _moment_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", help="answer as of this instant (RFC 3339; default now)")
    p.add_argument(
        "--known-at",
        help="answer with only the events the store had recorded by this instant, under "
        "the configuration in use then (RFC 3339)",
    )


def handle(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    handler = {
        "ticket": _ticket,
        "tickets": _tickets,
        "explain": _explain,
        "report": _report,
    }[args.command]
    return handler(args, loaded, store)


def _queries(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> Queries:
    """Queries for the current read model, or for what the store knew at ``--known-at``."""
    known_at = None
    if args.known_at:
        known_at = int(instant_arg(args.known_at, "--known-at").timestamp())
    return queries_for(store, loaded.policy, loaded.version, known_at, policy_from_text)


def _ticket(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    as_of = as_of_or_now(args.as_of)
    queries = _queries(args, loaded, store)
    snapshot = queries.ticket(args.ticket_id, int(as_of.timestamp()))
    if snapshot is None:
        raise NotFound(f"ticket {args.ticket_id!r}: not known as of {as_of.isoformat()}")
    data = ticket_json(snapshot, as_of, queries, queries.policy)
    emit(args, data, _ticket_human(data))
    return exit_codes.OK


def _ticket_human(data: dict[str, Any]) -> str:
    head = (
        f"ticket {data['ticket_id']}  customer {data['customer_id']}  plan {data['plan'] or '-'}"
        f"  priority {data['priority']}  as of {data['as_of']}"
    )
    rows = [
        [
            metric,
            clock["status"],
            clock.get("target_seconds"),
            clock.get("deadline"),
            clock.get("stopped_at"),
            clock.get("elapsed_seconds"),
            clock.get("remaining_seconds"),
        ]
        for metric, clock in data["clocks"].items()
    ]
    headers = ["metric", "status", "target_s", "deadline", "stopped_at", "elapsed_s", "remaining_s"]
    return head + "\n" + table(headers, rows)


def _tickets(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    as_of = as_of_or_now(args.as_of)
    queries = _queries(args, loaded, store)
    items = (
        ticket_json(s, as_of, queries, queries.policy)
        for s in queries.tickets(int(as_of.timestamp()), args.customer)
    )
    if args.jsonl:
        for item in items:
            print(json.dumps(item))
        return exit_codes.OK
    data = list(items)
    rows = [
        [
            t["ticket_id"],
            t["customer_id"],
            t["plan"],
            t["priority"],
            " ".join(f"{m}={c['status']}" for m, c in t["clocks"].items()),
        ]
        for t in data
    ]
    emit(args, data, table(["ticket", "customer", "plan", "priority", "clocks"], rows))
    return exit_codes.OK


def _report(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    as_of = as_of_or_now(args.as_of)
    month = month_arg(args.month)
    if args.report == "ownership":
        return _ownership(args, loaded, store, month, as_of)
    answer = credits_answer if args.report == "credits" else compliance_answer
    data = consistently(
        partial(_queries, args, loaded, store),
        lambda queries: answer(queries, month, as_of, args.customer),
    )
    if args.report == "credits":
        emit(args, data, credits_human(data))
        return exit_codes.OK
    human = f"compliance {month} as of {data['as_of']}\n" + table(
        ["customer", "metric", "priority", "met", "breached", "attainment"],
        [
            [r["customer_id"], r["metric"], r["priority"], r["met"], r["breached"],
             f"{r['attainment']:.4f}"]
            for r in data["rows"]
        ],
    )  # fmt: skip
    emit(args, data, human)
    return exit_codes.OK


def _ownership(
    args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore, month: str, as_of: Any
) -> int:
    data = consistently(
        partial(_queries, args, loaded, store),
        lambda queries: ownership_answer(queries, month, as_of, args.group, None),
    )
    human = f"ownership {month} as of {data['as_of']}\n" + table(
        ["group", "priority", "met", "breached", "attainment"],
        [
            [r["group"], r["priority"], r["met"], r["breached"], f"{r['attainment']:.4f}"]
            for r in data["rows"]
        ],
    )
    emit(args, data, human)
    return exit_codes.OK


def _explain(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    as_of = as_of_or_now(args.as_of)
    queries = _queries(args, loaded, store)
    answer = explain_answer(store, queries, args.ticket_id, as_of)
    if answer is None:
        raise NotFound(f"ticket {args.ticket_id!r}: not known as of {as_of.isoformat()}")
    data = answer[1]
    emit(args, data, explain_human(data))
    return exit_codes.OK
