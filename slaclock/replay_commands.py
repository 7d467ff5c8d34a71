"""The ``replay`` and ``what-if`` commands: the read model checked against, or rebuilt
from, the event store; and a month's compliance and credits under another configuration.

``replay --verify`` compares and changes nothing (exit 1 on a difference); ``replay`` rebuilds
in new tables and switches them in, resuming an interrupted rebuild; ``what-if`` writes nothing.
``register`` adds them to the command line's parser; ``handle`` runs one with the loaded
configuration and the store the command line opened.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from slaclock import exit_codes
from slaclock.args import UsageError, as_of_or_now
from slaclock.args import month as month_arg
from slaclock.bootstrap import RecomputeBusy, hold_lease
from slaclock.config import LoadedPolicy, read_policy
from slaclock.output import emit, table
from slaclock.projections.derived_tables import REBUILT
from slaclock.projections.event_pages import EventPages, snapshot
from slaclock.projections.rebuild import ReplayError, rebuild
from slaclock.projections.recompute_lease import Keeper, LeaseLost, release
from slaclock.projections.render import instant
from slaclock.projections.store import TicketStore
from slaclock.projections.verify import VerifyResult, verify
from slaclock.projections.whatif import Side, what_if

COMMANDS = ("replay", "what-if")
# columns holding epoch seconds, shown as instants for people
_INSTANTS = {
    "created_at",
    "last_fact_at",
    "last_recorded_at",
    "started_at",
    "deadline",
    "stopped_at",
    "breach_at",
    "running_since",
    "next_alert_at",
}


def register(commands: Any) -> None:
    """Add ``replay`` and ``what-if`` to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser(
        "replay",
        help="rebuild the read model from the event store (--verify: compare, change nothing)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="recompute every row and compare with the live read model; exit 1 on a difference",
    )
    p.add_argument("--batch-size", type=int, default=500, help="tickets per page (default 500)")
    p.add_argument(
        "--limit", type=int, default=100, help="--verify: list at most N differences (default 100)"
    )
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="while another process recomputes the read model, wait this long for it"
        f" (default 0: refuse at once, exit {exit_codes.RECOMPUTE_BUSY})",
    )
    p.add_argument("--json", action="store_true")

    p = commands.add_parser(
        "what-if", help="compliance and credits for a month under another configuration"
    )
    p.add_argument(
        "--config",
        dest="what_if_config",
        metavar="OTHER.toml",
        required=True,
        help="the configuration to compare with the one in use",
    )
    p.add_argument("--month", required=True, help="YYYY-MM, in each plan calendar's zone")
    p.add_argument("--customer")
    p.add_argument("--as-of", help="answer as of this instant (RFC 3339; default now)")
    p.add_argument("--json", action="store_true")


def handle(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    try:
        if args.command == "replay":
            return _replay_held(args, loaded, store)
        return _what_if(args, loaded, store)
    except UsageError as exc:
        print(f"slaclock: error: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except ReplayError as exc:
        print(f"slaclock: {exc}", file=sys.stderr)
        return exit_codes.FAILED


def _replay_held(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    """``replay`` (or ``--verify``) holding the recompute lease, so that no other process
    moves the read model to another policy version under it (``RecomputeBusy`` if another
    process holds the lease beyond ``--wait``, or takes it over meanwhile)."""
    if args.batch_size < 1:
        raise UsageError("--batch-size: must be at least 1")
    if not 0 <= args.wait < float("inf"):
        raise UsageError("--wait: must be 0 or more seconds")
    doing = "replay --verify" if args.verify else "replay"
    keeper = hold_lease(store, loaded, args.wait, doing)
    try:
        if args.verify:
            return _verify(args, store, keeper)
        return _replay(args, store, keeper)
    except LeaseLost as exc:
        raise RecomputeBusy(f"{doing}: {exc}; run it again") from None
    finally:
        release(store, keeper.owner)


def _verify(args: argparse.Namespace, store: TicketStore, keeper: Keeper) -> int:
    result = verify(
        store, batch_size=args.batch_size, limit=max(args.limit, 0), progress=keeper.keep
    )
    keeper.confirm()  # still this process's: no other switched the read model meanwhile
    data = verify_json(result)
    emit(args, data, _verify_human(data))
    return exit_codes.OK if result.ok else exit_codes.FAILED


def verify_json(result: VerifyResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "policy_version": result.policy_version,
        "tickets": result.tickets,
        # sla_cycles only when it has rows: a store without cycles reports as it always did
        "rows": {t: n for t, n in result.rows.items() if n or t != "sla_cycles"},
        "mismatches": result.mismatches,
        "differences": [d.as_dict() for d in result.differences],
    }


def _verify_human(data: dict[str, Any]) -> str:
    rows = ", ".join(f"{n} {name}" for name, n in data["rows"].items())
    head = (
        f"replay --verify: {data['tickets']} tickets recomputed from the event store ({rows})"
        f" under policy version {data['policy_version'] or '-'}"
    )
    if data["ok"]:
        return head + "\nthe read model matches the event store"
    lines = [head, f"differences: {data['mismatches']}"]
    lines.append(
        table(
            ["table", "ticket", "key", "difference", "column", "live", "rebuilt"],
            [
                [
                    d["table"],
                    d["ticket_id"],
                    " ".join(str(v) for k, v in d["key"].items() if k != "ticket_id") or None,
                    d["kind"],
                    d["column"],
                    _value(d["column"], d["live"]),
                    _value(d["column"], d["rebuilt"]),
                ]
                for d in data["differences"]
            ],
        )
    )
    if len(data["differences"]) < data["mismatches"]:
        lines.append(f"(first {len(data['differences'])} shown; --limit N for more)")
    return "\n".join(lines)


def _value(column: str | None, value: Any) -> Any:
    if isinstance(value, dict):  # a whole row (missing or extra)
        return "row" if column is None else value
    if column in _INSTANTS and isinstance(value, int):
        return f"{value} ({instant(value)})"
    return value


def _replay(args: argparse.Namespace, store: TicketStore, keeper: Keeper) -> int:
    bar = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        with snapshot(store) as cursor:
            total = EventPages(store).count(cursor)
        bar = tqdm(total=total, unit=" tickets", file=sys.stderr)

    def progress(tickets: int) -> None:
        keeper.keep()
        if bar is not None:
            bar.update(tickets)

    result = rebuild(
        store,
        batch_size=args.batch_size,
        progress=progress,
        version=keeper.version,
        owner=keeper.owner,
    )
    if bar:
        bar.close()
    data = {
        "tickets": result.tickets,
        "rebuilt": result.rebuilt,
        "resumed_from": result.resumed_from,
        "caught_up": result.caught_up,
        "tables": list(REBUILT),
        "policy_version": result.policy_version,
    }
    human = (
        f"replay: rebuilt {', '.join(REBUILT)} from the event store under policy version"
        f" {result.policy_version or '-'}: {result.tickets} tickets"
    )
    if result.resumed_from:
        human += (
            f" (resumed an interrupted rebuild after aggregate {result.resumed_from};"
            f" {result.rebuilt} recomputed by this run)"
        )
    if result.caught_up:
        human += f"; {result.caught_up} caught up with events stored meanwhile"
    emit(args, data, human)
    return exit_codes.OK


def _what_if(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    month = month_arg(args.month)
    as_of = as_of_or_now(args.as_of)
    other = read_policy(args.what_if_config)
    data = what_if(
        store,
        Side(loaded.policy, store.policy_version()),
        Side(other.policy, other.version, args.what_if_config),
        month,
        as_of,
        args.customer,
    )
    emit(args, data, _what_if_human(data))
    return exit_codes.OK


def _what_if_human(data: dict[str, Any]) -> str:
    live, other = data["live"], data["what_if"]
    lines = [
        f"what-if {data['month']} as of {data['as_of']}"
        + (f" customer {data['customer']}" if data["customer"] else ""),
        f"live: policy version {live['policy_version'] or '-'}",
        f"what-if: policy version {other['policy_version']} ({other['config']})",
        "",
        *_compliance_lines(data["compliance"]),
        "",
    ]
    currency = live["currency"]
    if other["currency"] != currency:
        currency = f"{currency} live, {other['currency']} what-if"
    lines += _credit_lines(data["credits"], currency)
    unchanged = data["unchanged"]
    lines.append(
        f"\nunchanged: {unchanged['compliance_rows']} compliance rows,"
        f" credits of {unchanged['credit_customers']} customers"
    )
    return "\n".join(lines)


def _compliance_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The compliance rows that differ, live beside what-if."""
    if not rows:
        return ["compliance: no differences"]

    def counts(side: dict[str, Any] | None) -> list[Any]:
        if side is None:
            return ["-", "-", "-"]
        return [side["met"], side["breached"], f"{side['attainment']:.4f}"]

    headers = ["customer", "metric", "priority"]
    for side in ("live", "what-if"):
        headers += [f"{side} met", f"{side} breached", f"{side} attainment"]
    body = [
        [r["customer_id"], r["metric"], r["priority"], *counts(r["live"]), *counts(r["what_if"])]
        for r in rows
    ]
    return ["compliance: differences", table(headers, body)]


def _credit_lines(credits: list[dict[str, Any]], currency: str) -> list[str]:
    """The customers whose credits differ: totals, then the entries that differ."""
    if not credits:
        return [f"credits ({currency}): no differences"]

    def total(side: dict[str, Any] | None) -> str:
        return "0.00" if side is None else side["total"]

    lines = [
        f"credits ({currency}): differences",
        table(
            ["customer", "live total", "what-if total", "difference"],
            [[c["customer_id"], total(c["live"]), total(c["what_if"]), c["difference"]]
             for c in credits],
        ),
    ]  # fmt: skip
    entries = [
        [c["customer_id"], e["ticket_id"], e["metric"], e["breached_at"], e["live"], e["what_if"]]
        for c in credits
        for e in c["entries"]
    ]
    if entries:
        lines.append("")
        lines.append(
            table(["customer", "ticket", "metric", "breached_at", "live", "what-if"], entries)
        )
    return lines
