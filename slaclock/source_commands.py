"""The ``translate`` command and ``ingest --source``: a helpdesk's raw payloads from files.

``translate SOURCE FILE...`` needs no store: it prints the slaclock events the payloads
become (JSON Lines, payload order, each event once per run), keeping snapshots in memory.
``ingest --source SOURCE FILE...`` translates and ingests in one step, keeping snapshots in
the store. The work is ``consumers.source_intake``'s; this module only wires files and
options to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slaclock import exit_codes
from slaclock.args import UsageError
from slaclock.config import LoadedPolicy
from slaclock.consumers.dead_letter import DeadLetterFile, DeadLetterList, DeadLetterSink
from slaclock.consumers.events import Rejected
from slaclock.consumers.ingest import Ingestor
from slaclock.consumers.source_config import SourceConfig
from slaclock.consumers.source_intake import (
    Payload,
    SourceIntake,
    Translator,
    dead_letter_text,
)

COMMANDS = ("translate",)

INTAKE_BATCH = 1_000
"""Payloads per transaction for ``ingest --source``."""


def register(commands: Any) -> None:
    """Add ``translate`` to the ``slaclock`` sub-command parsers."""
    p = commands.add_parser(
        "translate", help="print the slaclock events a source's raw payloads become (no store)"
    )
    p.add_argument("source", metavar="SOURCE", help="a [sources.NAME] of the configuration")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSON Lines, one payload a line; -")
    p.add_argument("--dead-letter", metavar="PATH", help="append rejected payloads here (JSONL)")
    p.add_argument(
        "--json", action="store_true", help='summary {"read", "emitted", "rejected"} on stderr'
    )


def source_config(loaded: LoadedPolicy, name: str, config_path: str) -> SourceConfig:
    """The source ``name`` of the configuration, or a usage error naming the known ones."""
    if name not in loaded.sources:
        known = ", ".join(sorted(loaded.sources)) or "none"
        raise UsageError(f"sources.{name}: no such source in {config_path} (declared: {known})")
    return loaded.sources[name]


def payloads(files: list[str]) -> Iterator[Payload]:
    """Each non-blank line of each file (``-``: stdin) as a payload, exactly as written."""
    for path in files:
        if path != "-" and not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    for path in files:
        stream = sys.stdin.buffer if path == "-" else Path(path).open("rb")  # noqa: SIM115
        name = "stdin" if path == "-" else path
        with stream:
            for number, line in enumerate(stream, start=1):
                body = line.rstrip(b"\r\n")
                if body.strip():
                    yield Payload(body=body, origin=f"{name}:{number}")


def handle(args: argparse.Namespace, loaded: LoadedPolicy) -> int:
    """``translate``: events on stdout, rejections to the dead-letter output."""
    config = source_config(loaded, args.source, args.config)
    sink = _sink(args)
    translator = Translator(config)
    seen: set[str] = set()
    counts = {"read": 0, "emitted": 0, "rejected": 0}
    out = sys.stdout
    for payload in payloads(args.files):
        counts["read"] += 1
        try:
            events = translator.translate(payload)
        except Rejected as exc:
            counts["rejected"] += 1
            sink.send(payload.origin, exc.reason, *dead_letter_text(payload.body))
            continue
        for event in events:
            if event["event_id"] not in seen:
                seen.add(event["event_id"])
                counts["emitted"] += 1
                out.write(json.dumps(event, ensure_ascii=False) + "\n")
    sink.flush()
    _summary(args, counts, sink)
    return exit_codes.OK


def ingest_source(args: argparse.Namespace, loaded: LoadedPolicy, ingestor: Ingestor) -> None:
    """``ingest --source``: translate and ingest, one transaction per batch of payloads."""
    intake = SourceIntake(source_config(loaded, args.source, args.config), ingestor)
    batch: list[Payload] = []
    for payload in payloads(args.files):
        batch.append(payload)
        if len(batch) >= INTAKE_BATCH:
            intake.take(batch)
            batch = []
    if batch:
        intake.take(batch)


def _sink(args: argparse.Namespace) -> DeadLetterSink:
    return DeadLetterFile(args.dead_letter) if args.dead_letter else DeadLetterList()


def _summary(args: argparse.Namespace, counts: dict[str, int], sink: DeadLetterSink) -> None:
    if args.json:
        print(json.dumps(counts), file=sys.stderr)
        return
    line = f"{counts['read']} read, {counts['emitted']} emitted, {counts['rejected']} rejected"
    print(line, file=sys.stderr)
    if isinstance(sink, DeadLetterList):
        for source, reason, _ in sink.records:
            print(f"  rejected {source}: {reason}", file=sys.stderr)
