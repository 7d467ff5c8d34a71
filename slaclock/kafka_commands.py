"""``slaclock consume`` and ``slaclock publish``: the Kafka side of the command line.

``register`` adds both sub-commands to the main parser (their options are in
``slaclock.kafka_options``); ``handle`` sets up logging and runs one
(``slaclock.consume_command``, ``slaclock.publish_command``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from slaclock import alert_commands, consume_command, kafka_options, publish_command
from slaclock.domain.policy import Policy
from slaclock.projections.store import TicketStore

COMMANDS = ("consume", "publish")


def register(commands: Any) -> None:
    """Add ``consume`` and ``publish`` to the main parser's sub-commands."""
    consume = commands.add_parser(
        "consume",
        help="consume ticket events from a Kafka topic into the store (exactly once in effect)",
        description="Consume ticket events (Confluent Avro or JSON) from a Kafka topic in a "
        "consumer group. Offsets are stored in the store with the events; SIGTERM/SIGINT "
        "finish the current batch and exit 0. Unreachable brokers or stores are retried; "
        "errors retrying cannot cure (missing codec, refused credentials or permissions, a "
        "topic missing after --topic-grace, client settings Kafka rejects) exit 4; settings "
        "kafka-python rejects before connecting exit 2.",
    )
    kafka_options.add_consume_options(consume)
    alert_commands.add_deliver_option(consume)
    publish = commands.add_parser(
        "publish",
        help="publish JSON Lines or Avro files to a Kafka topic, keyed by ticket_id",
        description="Publish ticket events, keyed by ticket_id. --format avro sends Confluent "
        "wire format with schema id 1; --format json sends each line as it is.",
    )
    publish.add_argument(
        "files", nargs="+", metavar="FILE", help="JSONL or Avro container file; - for stdin"
    )
    kafka_options.add_topic(publish, "publish to")
    publish.add_argument("--format", choices=("avro", "json"), default="avro", help="default avro")
    publish.add_argument("--json", action="store_true", help="print the counts as JSON")
    kafka_options.add_connection_options(publish)


def handle(
    args: argparse.Namespace,
    policy: Policy | None,
    store_factory: Callable[[], TicketStore] | None,
    policy_factory: Callable[[], Policy] | None = None,
    wake_delivery: Callable[[], None] | None = None,
) -> int:
    """Run ``consume`` or ``publish``; the exit code. ``publish`` needs neither policy nor
    store; ``consume`` opens the store with ``store_factory``, retrying while the database
    is unavailable, and gives ``policy_factory`` (picklable) to a decoding process;
    ``wake_delivery``: wakes this process's delivery thread when deliveries committed."""
    _setup_logging(args.log_level)
    if args.command == "publish":
        return publish_command.run(args)
    if policy is None or store_factory is None:
        raise ValueError("consume needs the policy and a store factory")
    return consume_command.run(args, policy, store_factory, policy_factory, wake_delivery)


def _setup_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.WARNING)  # kafka-python's own chatter: warnings and up
    logging.getLogger("slaclock").setLevel(level.upper())
