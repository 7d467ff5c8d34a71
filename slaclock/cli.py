"""The ``slaclock`` command line: parse arguments, wire config, store and queries, print.

No business rule lives here; every answer comes from ``domain`` and ``projections``.
Exit codes (``slaclock.exit_codes``): 0 done; 1 what was asked for does not exist, or
``--strict`` and something was rejected; 2 usage or configuration error; 3 the store could not
be opened or was lost; 4 ``consume``: Kafka or the registry refused in a way retrying cannot cure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from slaclock import (
    api_commands,
    dead_letter_commands,
    exit_codes,
    kafka_commands,
    replay_commands,
    versions,
)
from slaclock.args import NotFound, UsageError, valid_text
from slaclock.args import instant as instant_arg
from slaclock.args import month as month_arg
from slaclock.config import ConfigError, LoadedPolicy, policy_from_text, read_policy
from slaclock.consumers.alert_sink import AlertFile
from slaclock.consumers.dead_letter import DeadLetterFile, DeadLetterList, DeadLetterSink
from slaclock.consumers.decode_worker import DecodeWorkerError, decoded_batches
from slaclock.consumers.errors import FatalSourceError
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.runtime import tune_gc
from slaclock.consumers.sources import read_events
from slaclock.domain.durations import parse_duration
from slaclock.domain.explain import explain
from slaclock.domain.policy import Policy
from slaclock.output import credits_human, explain_human, hours_human, table
from slaclock.projections.answers import compliance_answer, credits_answer, queries_for
from slaclock.projections.event_store import STORE_FAILURES, StoreError, StoreUnavailable
from slaclock.projections.hours import NoHourAccount, statements
from slaclock.projections.ledger import month_still_open
from slaclock.projections.policy_versions import adopt_policy
from slaclock.projections.queries import Queries
from slaclock.projections.render import (
    explain_json,
    instant,
    ledger_entry_json,
    ticket_json,
)
from slaclock.projections.store import TicketStore

PARALLEL_FROM_BYTES = 8 * 2**20
"""Files at least this large are read and validated by a second process (``--decoder``):
below it, starting that process (about half a second) costs more than it saves."""

INGEST_BATCH = 50_000
"""Events per transaction for file ingest. A ticket's events within one batch are applied,
evaluated and stored once, so larger batches do less work per event (1M events: 68 s at
5,000, 48 s at 50,000, no faster at 100,000) at the price of memory (350 MB at 50,000)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slaclock", description="Event-sourced SLA clocks, compliance and credits."
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("SLACLOCK_CONFIG", "slaclock.toml"),
        help="configuration file (env SLACLOCK_CONFIG; default ./slaclock.toml)",
    )
    parser.add_argument(
        "--store",
        default=os.environ.get("SLACLOCK_STORE", "sqlite:///slaclock.db"),
        help="sqlite:///PATH or postgresql://user:pass@host:port/db (env SLACLOCK_STORE)",
    )
    parser.add_argument(
        "--version", action="version", version=versions.text(), help="print the versions and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def as_of(p: argparse.ArgumentParser) -> None:
        p.add_argument("--as-of", help="answer as of this instant (RFC 3339; default now)")
        p.add_argument(
            "--known-at",
            help="answer with only the events the store had recorded by this instant, under "
            "the configuration in use then (RFC 3339)",
        )

    p = commands.add_parser("ingest", help="read ticket events from JSON Lines or Avro files")
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="JSONL or Avro container file; - for stdin"
    )
    p.add_argument("--dead-letter", metavar="PATH", help="append rejected events here (JSONL)")
    p.add_argument("--strict", action="store_true", help="exit 1 if anything was rejected")
    p.add_argument(
        "--decoder",
        choices=["auto", "process", "inline"],
        default="auto",
        help="read and validate events in a second process while this one stores them"
        f" (process), or in this one (inline); auto: a process for files of"
        f" {PARALLEL_FROM_BYTES // 2**20} MB or more (default auto)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=INGEST_BATCH,
        help=f"events per transaction (default {INGEST_BATCH:,}; smaller for a live stdin pipe:"
        " a batch is stored when it is full or the input ends)",
    )
    _alert_options(p, "event")  # files are mostly backfills: time is the stream's
    p.add_argument("--json", action="store_true", help="print counts as JSON")

    p = commands.add_parser(
        "tick", help="raise the alerts (and post the credits) that time alone made due"
    )
    _alert_options(p, "wall")
    p.add_argument("--json", action="store_true")

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

    p = commands.add_parser("ticket", help="one ticket with its clocks")
    p.add_argument("ticket_id")
    as_of(p)
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("tickets", help="every ticket with its clocks")
    p.add_argument("--customer")
    as_of(p)
    p.add_argument("--json", action="store_true", help="a JSON array")
    p.add_argument("--jsonl", action="store_true", help="JSON Lines, one ticket per line")

    p = commands.add_parser("explain", help="why each clock of a ticket came out as it did")
    p.add_argument("ticket_id")
    as_of(p)
    p.add_argument("--json", action="store_true")

    p = commands.add_parser("report", help="monthly reports")
    reports = p.add_subparsers(dest="report", required=True, metavar="REPORT")
    for name, text in (("compliance", "met and breached clocks"), ("credits", "credits owed")):
        r = reports.add_parser(name, help=text)
        r.add_argument("--month", required=True, help="YYYY-MM, in each plan calendar's zone")
        r.add_argument("--customer")
        as_of(r)
        r.add_argument("--json", action="store_true")

    p = commands.add_parser("calendar", help="business-time arithmetic on a calendar")
    cal = p.add_subparsers(dest="calendar_command", required=True, metavar="OPERATION")
    a = cal.add_parser("add", help="the deadline a duration of open time after a start")
    a.add_argument("name", help="a calendar, or a plan (its calendar)")
    a.add_argument("--start", required=True)
    a.add_argument("--duration", required=True, help='e.g. "3h", "90m", "PT3H"')
    a.add_argument("--json", action="store_true")
    b = cal.add_parser("between", help="open time between two instants")
    b.add_argument("name", help="a calendar, or a plan (its calendar)")
    b.add_argument("--start", required=True)
    b.add_argument("--end", required=True)
    b.add_argument("--json", action="store_true")
    kafka_commands.register(commands)
    api_commands.register(commands)
    replay_commands.register(commands)
    dead_letter_commands.register(commands)
    return parser


def _alert_options(p: argparse.ArgumentParser, clock: str) -> None:
    p.add_argument(
        "--clock",
        choices=["wall", "event"],
        default=clock,
        help="what moves time for alerts: wall-clock (live) or the latest event time "
        f"(replays and backfills) (default {clock})",
    )
    p.add_argument("--alerts", metavar="PATH", help="append raised/withdrawn alerts here (JSONL)")


def _emit(args: argparse.Namespace, data: Any, human: str) -> None:
    print(json.dumps(data, indent=1) if getattr(args, "json", False) else human)


def _as_of(args: argparse.Namespace) -> datetime:
    if args.as_of:
        return instant_arg(args.as_of, "--as-of")
    return datetime.now(UTC).replace(microsecond=0)


def cmd_ingest(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    policy = loaded.policy
    for path in args.files:
        if path != "-" and not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    if args.batch_size < 1:
        raise UsageError("--batch-size: must be at least 1")
    sink = DeadLetterFile(args.dead_letter) if args.dead_letter else DeadLetterList()
    ingestor = _ingestor(args, policy, store, sink)
    show_progress = not args.json and sys.stderr.isatty()
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(unit=" events", file=sys.stderr, smoothing=0.1)
    progress = bar.update if bar else None
    for path in args.files:
        if _in_process(args.decoder, path):
            factory = partial(policy_from_text, loaded.text, args.config)
            ingestor.run_decoded(decoded_batches(path, factory, args.batch_size), progress)
        else:
            ingestor.run(read_events(path), progress)
    if bar:
        bar.close()
    stats = ingestor.stats
    counts = {k: v for k, v in stats.as_dict().items() if k not in ("voided", "alerts") or v}
    human = table(list(counts), [list(counts.values())])
    if isinstance(sink, DeadLetterList) and sink.records and not args.json:
        human += "\n\nrejected:\n" + "\n".join(f"  {s}: {r}" for s, r, _ in sink.records)
        if sink.dropped:
            human += f"\n  ... and {sink.dropped} more (use --dead-letter PATH to keep them all)"
    _emit(args, counts, human)
    return 1 if args.strict and stats.rejected + stats.voided else 0


def _in_process(decoder: str, path: str) -> bool:
    """Whether a second process should read and validate ``path`` (never stdin: a child
    process does not get it)."""
    if path == "-" or decoder == "inline":
        return False
    return decoder == "process" or Path(path).stat().st_size >= PARALLEL_FROM_BYTES


def _ingestor(
    args: argparse.Namespace, policy: Policy, store: TicketStore, sink: DeadLetterSink
) -> Ingestor:
    return Ingestor(
        store,
        policy,
        sink,
        batch_size=getattr(args, "batch_size", INGEST_BATCH),
        clock=args.clock,
        alert_sink=AlertFile(args.alerts) if args.alerts else None,
        policy_version=store.policy_version(),
    )


def cmd_tick(args: argparse.Namespace, policy: Policy, store: TicketStore) -> int:
    ingestor = _ingestor(args, policy, store, DeadLetterList())
    ingestor.process([])
    left = ingestor.due_left
    while left:  # many fell due at once: a bounded number per transaction
        ingestor.process([])
        if ingestor.due_left >= left:
            break  # no progress (nothing more can be raised): never loop for ever
        left = ingestor.due_left
    data = {"alerts": ingestor.stats.alerts, "watermark": instant(store.watermark())}
    _emit(args, data, f"{data['alerts']} alerts; watermark {data['watermark']}")
    return 0


def cmd_hours(args: argparse.Namespace, policy: Policy, store: TicketStore) -> int:
    month = month_arg(args.month)
    try:
        found = statements(store, policy, args.customer, month)
    except NoHourAccount as exc:
        raise NotFound(str(exc)) from None
    shown = found if args.all else found[-1:]
    data = {"customer_id": args.customer, "statements": [s.as_dict() for s in shown]}
    _emit(args, data, hours_human(data))
    return 0


def cmd_ledger(args: argparse.Namespace, policy: Policy, store: TicketStore) -> int:
    if args.ledger_command == "show":
        month = month_arg(args.month) if args.month else None
        entries = store.ledger_entries(posted_month=month, customer=args.customer)
        data = [ledger_entry_json(e) for e in entries]
        headers = ["posted", "month", "kind", "customer", "ticket", "metric", "amount", "refers_to"]
        rows = [
            [e.posted_month, e.month, e.kind, e.customer_id, e.ticket_id, e.metric, e.amount,
             e.refers_to]
            for e in entries
        ]  # fmt: skip
        _emit(args, data, table(headers, rows))
        return 0
    month = month_arg(args.month)
    now = datetime.now(UTC).replace(microsecond=0)
    still_open = month_still_open(policy, month, int(now.timestamp()))
    if still_open:
        zone, end = still_open
        why = f"ledger close: {month} has not ended yet in {zone} (ends {end.isoformat()})"
        if not args.dry_run:
            raise UsageError(f"{why}; --dry-run shows the statement it would freeze")
        print(f"slaclock: note: {why}, so closing it now is refused", file=sys.stderr)
    queries = Queries(store, policy, version=store.policy_version())
    statement = credits_answer(queries, month, now, None)
    if args.dry_run:
        if month in store.closed_months():
            raise UsageError(f"--month: {month} is already closed")
        count = len(statement["customers"])
        human = f"dry run, nothing written: closing {month} would freeze ({count} customers)\n"
        _emit(args, statement, human + credits_human(statement))
        return 0
    statement["closed_at"] = now.isoformat()
    if not store.close_month(month, json.dumps(statement), int(now.timestamp())):
        raise UsageError(f"--month: {month} is already closed")
    count = len(statement["customers"])
    _emit(args, statement, f"closed {month}: statement frozen for {count} customers")
    return 0


def _queries(args: argparse.Namespace, policy: Policy, store: TicketStore) -> Queries:
    """Queries for the current read model, or for what the store knew at ``--known-at``."""
    known_at = None
    if getattr(args, "known_at", None):
        known_at = int(instant_arg(args.known_at, "--known-at").timestamp())
    version = store.policy_version()
    return queries_for(store, policy, version, known_at, policy_from_text)


def cmd_ticket(args: argparse.Namespace, policy: Policy, store: TicketStore) -> int:
    as_of = _as_of(args)
    queries = _queries(args, policy, store)
    policy = queries.policy
    snapshot = queries.ticket(args.ticket_id, int(as_of.timestamp()))
    if snapshot is None:
        raise NotFound(f"ticket {args.ticket_id!r}: not known as of {as_of.isoformat()}")
    data = ticket_json(snapshot, as_of, queries, policy)
    _emit(args, data, _ticket_human(data))
    return 0


def _ticket_human(data: dict[str, Any]) -> str:
    head = (
        f"ticket {data['ticket_id']}  customer {data['customer_id']}  plan {data['plan'] or '-'}"
        f"  priority {data['priority']}  as of {data['as_of']}"
    )
    rows = [
        [
            m,
            c["status"],
            c.get("target_seconds"),
            c.get("deadline"),
            c.get("stopped_at"),
            c.get("elapsed_seconds"),
            c.get("remaining_seconds"),
        ]
        for m, c in data["clocks"].items()
    ]
    headers = ["metric", "status", "target_s", "deadline", "stopped_at", "elapsed_s", "remaining_s"]
    return head + "\n" + table(headers, rows)


def cmd_tickets(args: argparse.Namespace, policy: Policy, store: TicketStore) -> int:
    as_of = _as_of(args)
    queries = _queries(args, policy, store)
    policy = queries.policy
    items = (
        ticket_json(s, as_of, queries, policy)
        for s in queries.tickets(int(as_of.timestamp()), args.customer)
    )
    if args.jsonl:
        for item in items:
            print(json.dumps(item))
        return 0
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
    _emit(args, data, table(["ticket", "customer", "plan", "priority", "clocks"], rows))
    return 0


def cmd_report(args: argparse.Namespace, policy: Policy, store: TicketStore) -> int:
    as_of = _as_of(args)
    month = month_arg(args.month)
    queries = _queries(args, policy, store)
    if args.report == "compliance":
        data = compliance_answer(queries, month, as_of, args.customer)
        human = f"compliance {month} as of {data['as_of']}\n" + table(
            ["customer", "metric", "priority", "met", "breached", "attainment"],
            [
                [r["customer_id"], r["metric"], r["priority"], r["met"], r["breached"],
                 f"{r['attainment']:.4f}"]
                for r in data["rows"]
            ],
        )  # fmt: skip
        _emit(args, data, human)
        return 0
    data = credits_answer(queries, month, as_of, args.customer)
    _emit(args, data, credits_human(data))
    return 0


def cmd_explain(args: argparse.Namespace, policy: Policy, store: TicketStore) -> int:
    as_of = _as_of(args)
    queries = _queries(args, policy, store)
    ticket = store.load_ticket(args.ticket_id)
    facts = None
    if ticket is not None:
        facts = (
            ticket.facts if queries.known_at is None else ticket.facts_known_at(queries.known_at)
        )
    found = (
        explain(args.ticket_id, facts, queries.policy, int(as_of.timestamp())) if facts else None
    )
    if found is None:
        raise NotFound(f"ticket {args.ticket_id!r}: not known as of {as_of.isoformat()}")
    data = explain_json(found[0], found[1], as_of, queries)
    _emit(args, data, explain_human(data))
    return 0


def cmd_calendar(args: argparse.Namespace, policy: Policy) -> int:
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
        _emit(args, {"deadline": deadline.isoformat()}, deadline.isoformat())
        return 0
    end = instant_arg(args.end, "--end")
    seconds = calendar.between(start, end)
    _emit(args, {"seconds": seconds}, f"{seconds} s ({seconds / 3600:.2f} h)")
    return 0


def open_store(url: str, loaded: LoadedPolicy) -> TicketStore:
    """Open the store and bring its read model in line with the configuration."""
    store = TicketStore(url, loaded.policy)
    rebuilt = adopt_policy(store, loaded.version, loaded.text, int(time.time()))
    if rebuilt:
        print(
            f"slaclock: the configuration changed (policy version {loaded.version}); "
            f"recomputed the clocks of {rebuilt} tickets from their events",
            file=sys.stderr,
        )
    return store


def run(argv: Sequence[str] | None = None) -> int:
    if (answer := versions.requested(sys.argv[1:] if argv is None else argv)) is not None:
        print(answer)
        return 0
    args = valid_text(_parser().parse_args(argv))
    try:
        return _run_command(args)
    except STORE_FAILURES as exc:  # lost during the command: its transaction was rolled back
        raise StoreUnavailable.of(args.store, exc) from None


def _run_command(args: argparse.Namespace) -> int:
    if args.command == "publish":
        return kafka_commands.handle(args, None, None)
    loaded = read_policy(args.config)
    policy = loaded.policy
    if args.command == "consume":
        return kafka_commands.handle(
            args,
            policy,
            lambda: open_store(args.store, loaded),
            partial(policy_from_text, loaded.text, args.config),
        )
    if args.command == "calendar":
        return cmd_calendar(args, policy)
    store = open_store(args.store, loaded)
    try:
        if args.command == "ingest":
            return cmd_ingest(args, loaded, store)
        if args.command in replay_commands.COMMANDS:
            return replay_commands.handle(args, loaded, store)
        if args.command in api_commands.COMMANDS:
            return api_commands.handle(args, policy, store)
        if args.command in dead_letter_commands.COMMANDS:
            return dead_letter_commands.handle(args, store)
        handler = {
            "ticket": cmd_ticket,
            "tickets": cmd_tickets,
            "report": cmd_report,
            "explain": cmd_explain,
            "tick": cmd_tick,
            "ledger": cmd_ledger,
            "hours": cmd_hours,
        }[args.command]
        return handler(args, policy, store)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    tune_gc()
    try:
        code = run(argv)
    except (ConfigError, UsageError, StoreError) as exc:
        print(f"slaclock: error: {exc}", file=sys.stderr)
        code = 2
    except StoreUnavailable as exc:
        print(f"slaclock: error: {exc}", file=sys.stderr)
        code = exit_codes.STORE_UNAVAILABLE
    except NotFound as exc:
        print(f"slaclock: {exc}", file=sys.stderr)
        code = 1
    except DecodeWorkerError as exc:  # the batches before it are stored and counted
        print(f"slaclock: error: {exc}", file=sys.stderr)
        code = 1
    except FatalSourceError as exc:  # retrying cannot cure it; the stored offsets are intact
        print(f"slaclock: error: {exc}", file=sys.stderr)
        code = exit_codes.SOURCE_FATAL
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
