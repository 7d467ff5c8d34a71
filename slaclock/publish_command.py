"""``slaclock publish``: send JSON Lines or Avro files to a Kafka topic, keyed by ticket_id.

It needs neither the configuration nor the store: a way to feed a topic for tests, demos and
backfills. The producing itself is ``consumers.kafka_publish``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from slaclock import exit_codes
from slaclock.args import UsageError
from slaclock.kafka_options import client_config
from slaclock.output import counts_table, emit


def run(args: argparse.Namespace) -> int:
    """Publish every file; exit 1 if an event was skipped or failed, or Kafka refused."""
    from kafka.errors import KafkaError

    from slaclock.consumers.kafka_publish import publish_files

    for path in args.files:
        if path != "-" and not Path(path).is_file():
            raise UsageError(f"{path}: no such file")
    bar = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit=" events", file=sys.stderr, smoothing=0.1)
    try:
        stats = publish_files(
            args.files,
            args.topic,
            client_config(args),
            fmt=args.format,
            progress=bar.update if bar else None,
        )
    except KafkaError as exc:
        print(f"slaclock: publish: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exit_codes.FAILED
    finally:
        if bar:
            bar.close()
    counts = stats.as_dict()
    emit(args, counts, counts_table(counts))
    return exit_codes.FAILED if stats.skipped or stats.failed else exit_codes.OK
