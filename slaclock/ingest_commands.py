"""The ``ingest`` and ``tick`` commands: events from files into the store, and the alerts
(and credits) that time alone made due.

``register`` adds them to the command line's parser; ``handle`` runs one with the loaded
configuration and the store the command line opened. The work is ``consumers.ingest``'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from slaclock import exit_codes
from slaclock.args import UsageError
from slaclock.bootstrap import policy_factory
from slaclock.config import LoadedPolicy
from slaclock.consumers.alert_sink import AlertFile
from slaclock.consumers.dead_letter import DeadLetterFile, DeadLetterList, DeadLetterSink
from slaclock.consumers.decode_worker import decoded_batches
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.sources import read_events
from slaclock.domain.policy import Policy
from slaclock.output import counts_table, emit
from slaclock.projections.render import instant
from slaclock.projections.store import TicketStore
from slaclock.source_commands import ingest_source

COMMANDS = ("ingest", "tick")

PARALLEL_FROM_BYTES = 8 * 2**20
"""Files at least this large are read and validated by a second process (``--decoder``):
below it, starting that process (about half a second) costs more than it saves."""

INGEST_BATCH = 50_000
"""Events per transaction for file ingest: a ticket's events within one batch are applied,
evaluated and stored once, so larger batches do less work per event, at the price of memory
(figures in bench/RESULTS.md)."""


def register(commands: Any) -> None:
    """Add ``ingest`` and ``tick`` to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser("ingest", help="read ticket events from JSON Lines or Avro files")
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="JSONL or Avro container file; - for stdin"
    )
    p.add_argument("--dead-letter", metavar="PATH", help="append rejected events here (JSONL)")
    p.add_argument(
        "--source",
        metavar="SOURCE",
        help="FILE holds raw payloads of this [sources.NAME]: translate and ingest them",
    )
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


def _alert_options(p: argparse.ArgumentParser, clock: str) -> None:
    p.add_argument(
        "--clock",
        choices=["wall", "event"],
        default=clock,
        help="what moves time for alerts: wall-clock (live) or the latest event time "
        f"(replays and backfills) (default {clock})",
    )
    p.add_argument("--alerts", metavar="PATH", help="append raised/withdrawn alerts here (JSONL)")


def handle(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    if args.command == "ingest":
        return _ingest(args, loaded, store)
    return _tick(args, loaded.policy, store)


def _ingest(args: argparse.Namespace, loaded: LoadedPolicy, store: TicketStore) -> int:
    for path in args.files:
        if path != "-" and not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    if args.batch_size < 1:
        raise UsageError("--batch-size: must be at least 1")
    sink = DeadLetterFile(args.dead_letter) if args.dead_letter else DeadLetterList()
    ingestor = _ingestor(args, loaded.policy, store, sink)
    bar = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit=" events", file=sys.stderr, smoothing=0.1)
    progress = bar.update if bar else None
    if args.source is not None:
        ingest_source(args, loaded, ingestor)
    for path in args.files if args.source is None else ():
        if _in_process(args.decoder, path):
            factory = policy_factory(loaded, args.config)
            ingestor.run_decoded(decoded_batches(path, factory, args.batch_size), progress)
        else:
            ingestor.run(read_events(path), progress)
    if bar:
        bar.close()
    stats = ingestor.stats
    counts = {k: v for k, v in stats.as_dict().items() if k not in ("voided", "alerts") or v}
    emit(args, counts, counts_table(counts) + _rejected_human(args, sink))
    return exit_codes.FAILED if args.strict and stats.rejected + stats.voided else exit_codes.OK


def _rejected_human(args: argparse.Namespace, sink: DeadLetterSink) -> str:
    """The rejections kept in memory (no ``--dead-letter``), for people."""
    if not isinstance(sink, DeadLetterList) or not sink.records or args.json:
        return ""
    human = "\n\nrejected:\n" + "\n".join(f"  {s}: {r}" for s, r, _ in sink.records)
    if sink.dropped:
        human += f"\n  ... and {sink.dropped} more (use --dead-letter PATH to keep them all)"
    return human


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


def _tick(args: argparse.Namespace, policy: Policy, store: TicketStore) -> int:
    ingestor = _ingestor(args, policy, store, DeadLetterList())
    ingestor.process([])
    left = ingestor.due_left
    while left:  # many fell due at once: a bounded number per transaction
        ingestor.process([])
        if ingestor.due_left >= left:
            break  # no progress (nothing more can be raised): never loop for ever
        left = ingestor.due_left
    data = {"alerts": ingestor.stats.alerts, "watermark": instant(store.watermark())}
    emit(args, data, f"{data['alerts']} alerts; watermark {data['watermark']}")
    return exit_codes.OK
