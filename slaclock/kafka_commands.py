"""``slaclock consume`` and ``slaclock publish``: the Kafka side of the command line.

``register`` adds both sub-commands to the main parser; ``handle`` runs one. Every option
that a deployment sets has an environment variable (see :data:`ENVIRONMENT`), so that a
container needs no command-line arguments; a command-line option wins over its variable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from slaclock import registry_options
from slaclock.args import UsageError
from slaclock.domain.policy import Policy
from slaclock.projections.event_store import store_env
from slaclock.projections.store import TicketStore

COMMANDS = ("consume", "publish")

# option dest -> environment variable (docker-compose.yml uses these names).
ENVIRONMENT: dict[str, str] = {
    "bootstrap_servers": "SLACLOCK_KAFKA_BOOTSTRAP_SERVERS",
    "topic": "SLACLOCK_KAFKA_TOPIC",
    "group": "SLACLOCK_KAFKA_GROUP",
    "dead_letter_topic": "SLACLOCK_KAFKA_DEAD_LETTER_TOPIC",
    "schema_registry": "SLACLOCK_SCHEMA_REGISTRY_URL",
    "instance_id": "SLACLOCK_KAFKA_INSTANCE_ID",
    "max_poll_records": "SLACLOCK_KAFKA_MAX_POLL_RECORDS",
    "security_protocol": "SLACLOCK_KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "SLACLOCK_KAFKA_SASL_MECHANISM",
    "sasl_username": "SLACLOCK_KAFKA_SASL_USERNAME",
    "sasl_password": "SLACLOCK_KAFKA_SASL_PASSWORD",
    "ssl_cafile": "SLACLOCK_KAFKA_SSL_CAFILE",
    "ssl_certfile": "SLACLOCK_KAFKA_SSL_CERTFILE",
    "ssl_keyfile": "SLACLOCK_KAFKA_SSL_KEYFILE",
    "ssl_password": "SLACLOCK_KAFKA_SSL_PASSWORD",
    "log_level": "SLACLOCK_LOG_LEVEL",
    "health_file": "SLACLOCK_HEALTH_FILE",
    "clock": "SLACLOCK_CLOCK",
    "alerts": "SLACLOCK_ALERTS_FILE",
    "decoder": "SLACLOCK_KAFKA_DECODER",
    "tick_every": "SLACLOCK_KAFKA_TICK_EVERY",
    "topic_grace": "SLACLOCK_KAFKA_TOPIC_GRACE",
}
# ``consume`` also uses the main parser's global options: SLACLOCK_STORE, SLACLOCK_CONFIG.

DEFAULT_BOOTSTRAP = "localhost:9092"
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")
LOG_LEVELS = ("debug", "info", "warning", "error")


def _env(dest: str, default: Any = None) -> Any:
    return os.environ.get(ENVIRONMENT[dest], default)


def _add_connection_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Kafka connection (passed through to kafka-python)")
    g.add_argument(
        "--bootstrap-servers",
        default=_env("bootstrap_servers", DEFAULT_BOOTSTRAP),
        metavar="HOST:PORT[,...]",
        help=f"brokers to bootstrap from (env {ENVIRONMENT['bootstrap_servers']}; "
        f"default {DEFAULT_BOOTSTRAP})",
    )
    g.add_argument(
        "--security-protocol",
        choices=SECURITY_PROTOCOLS,
        default=_env("security_protocol", "PLAINTEXT"),
        help=f"(env {ENVIRONMENT['security_protocol']}; default PLAINTEXT)",
    )
    g.add_argument(
        "--sasl-mechanism",
        choices=SASL_MECHANISMS,
        default=_env("sasl_mechanism"),
        help=f"(env {ENVIRONMENT['sasl_mechanism']})",
    )
    g.add_argument(
        "--sasl-username",
        default=_env("sasl_username"),
        help=f"(env {ENVIRONMENT['sasl_username']})",
    )
    g.add_argument(
        "--sasl-password",
        default=_env("sasl_password"),
        help=f"prefer the environment: {ENVIRONMENT['sasl_password']}",
    )
    g.add_argument(
        "--ssl-cafile",
        default=_env("ssl_cafile"),
        help=f"CA bundle (env {ENVIRONMENT['ssl_cafile']})",
    )
    g.add_argument(
        "--ssl-certfile",
        default=_env("ssl_certfile"),
        help=f"client certificate (env {ENVIRONMENT['ssl_certfile']})",
    )
    g.add_argument(
        "--ssl-keyfile",
        default=_env("ssl_keyfile"),
        help=f"client key (env {ENVIRONMENT['ssl_keyfile']})",
    )
    g.add_argument(
        "--ssl-password",
        default=_env("ssl_password"),
        help=f"client key password; prefer the environment: {ENVIRONMENT['ssl_password']}",
    )
    g.add_argument(
        "--ssl-no-check-hostname",
        action="store_true",
        help="do not check the broker certificate's host name",
    )
    g.add_argument(
        "-X",
        "--kafka-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other kafka-python client setting, e.g. -X request_timeout_ms=60000 "
        "(repeatable; numbers and true/false are converted)",
    )
    p.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=_env("log_level", "info"),
        help=f"slaclock's own log level on stderr (env {ENVIRONMENT['log_level']}; default info)",
    )


def register(commands: Any) -> None:
    """Add ``consume`` and ``publish`` to the main parser's sub-commands."""
    p = commands.add_parser(
        "consume",
        help="consume ticket events from a Kafka topic into the store (exactly once in effect)",
        description="Consume ticket events (Confluent Avro or JSON) from a Kafka topic in a "
        "consumer group. Offsets are stored in the store with the events; SIGTERM/SIGINT "
        "finish the current batch and exit 0. Unreachable brokers or stores are retried; "
        "errors retrying cannot cure (missing codec, refused credentials or permissions, a "
        "topic missing after --topic-grace, client settings Kafka rejects) exit 4; settings "
        "kafka-python rejects before connecting exit 2.",
    )
    topic = _env("topic")
    p.add_argument(
        "--topic",
        default=topic,
        required=topic is None,
        help=f"topic to consume (env {ENVIRONMENT['topic']})",
    )
    p.add_argument(
        "--group",
        default=_env("group", "slaclock"),
        help=f"consumer group (env {ENVIRONMENT['group']}; default slaclock)",
    )
    p.add_argument(
        "--dead-letter-topic",
        default=_env("dead_letter_topic"),
        metavar="TOPIC",
        help="rejected messages are relayed here from the store, with reason, source and "
        f"dead_letter_id headers (env {ENVIRONMENT['dead_letter_topic']}); without it they are "
        "logged and kept in the store (slaclock dead-letters)",
    )
    p.add_argument(
        "--schema-registry",
        default=_env("schema_registry"),
        metavar="URL",
        help="Confluent-compatible schema registry for Avro schema ids (env "
        f"{ENVIRONMENT['schema_registry']}); default: the ids in schemas/registry.json",
    )
    registry_options.add_options(p)
    p.add_argument(
        "--max-poll-records",
        type=int,
        default=_env("max_poll_records", 50_000),  # argparse converts (and checks) a string
        metavar="N",
        help="messages per batch, stored in one transaction (env "
        f"{ENVIRONMENT['max_poll_records']}; default 50000)",
    )
    p.add_argument(
        "--tick-every",
        type=float,
        default=_env("tick_every", 5.0),  # a string from the environment: argparse converts it
        metavar="SECONDS",
        help="with the wall clock, raise the alerts that time made due this often while there"
        f" is nothing to read (0: only with the next message; env {ENVIRONMENT['tick_every']};"
        " default 5)",
    )
    p.add_argument(
        "--decoder",
        choices=["auto", "process", "inline"],
        default=_env("decoder", "auto"),
        help="decode and validate each batch in a second process while this one stores the"
        " batch before (process), or in this one (inline); auto: a process when the machine"
        f" has two cores or more (env {ENVIRONMENT['decoder']}; default auto)",
    )
    p.add_argument(
        "--topic-grace",
        type=float,
        default=_env("topic_grace", 30.0),  # a string from the environment: argparse converts
        metavar="SECONDS",
        help="stop with exit code 4 if the topic still does not exist this long after start "
        f"(the consumer never creates it; env {ENVIRONMENT['topic_grace']}; default 30)",
    )
    p.add_argument(
        "--exit-when-idle",
        type=float,
        metavar="SECONDS",
        help="stop once the store holds every partition up to its end and nothing arrived "
        "for SECONDS (backfills, tests)",
    )
    p.add_argument(
        "--instance-id",
        default=_env("instance_id"),
        help="static group membership (group.instance.id): a restarted consumer gets its "
        f"partitions back without a rebalance (env {ENVIRONMENT['instance_id']})",
    )
    p.add_argument(
        "--session-timeout-ms",
        type=int,
        metavar="MS",
        help="how long the group waits for a silent member before giving its partitions "
        "to others (kafka-python default 45000; the broker's minimum is usually 6000)",
    )
    p.add_argument(
        "--health-file",
        default=_env("health_file"),
        metavar="PATH",
        help="a JSON status (ok / retrying with the reason / fatal), rewritten every few "
        "seconds while polling works and batches get stored; a container health check can "
        f"test its age (env {ENVIRONMENT['health_file']})",
    )
    p.add_argument(
        "--clock",
        choices=["wall", "event"],
        default=_env("clock", "wall"),
        help="what moves time for alerts: wall-clock (live) or the latest event time "
        f"(backfills) (env {ENVIRONMENT['clock']}; default wall)",
    )
    p.add_argument(
        "--alerts",
        default=_env("alerts"),
        metavar="PATH",
        help=f"append raised/withdrawn alerts here (JSONL) (env {ENVIRONMENT['alerts']})",
    )
    p.add_argument("--json", action="store_true", help="print the final counts as JSON")
    _add_connection_options(p)

    p = commands.add_parser(
        "publish",
        help="publish JSON Lines or Avro files to a Kafka topic, keyed by ticket_id",
        description="Publish ticket events, keyed by ticket_id. --format avro sends Confluent "
        "wire format with schema id 1; --format json sends each line as it is.",
    )
    p.add_argument(
        "files", nargs="+", metavar="FILE", help="JSONL or Avro container file; - for stdin"
    )
    topic = _env("topic")
    p.add_argument(
        "--topic",
        default=topic,
        required=topic is None,
        help=f"topic to publish to (env {ENVIRONMENT['topic']})",
    )
    p.add_argument("--format", choices=("avro", "json"), default="avro", help="default avro")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    _add_connection_options(p)


def client_config(args: argparse.Namespace) -> dict[str, Any]:
    """kafka-python settings from the connection options."""
    config: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in args.bootstrap_servers.split(",") if s.strip()],
        "client_id": f"slaclock-{args.command}",
        "security_protocol": args.security_protocol,
    }
    optional = {
        "sasl_mechanism": args.sasl_mechanism,
        "sasl_plain_username": args.sasl_username,
        "sasl_plain_password": args.sasl_password,
        "ssl_cafile": args.ssl_cafile,
        "ssl_certfile": args.ssl_certfile,
        "ssl_keyfile": args.ssl_keyfile,
        "ssl_password": args.ssl_password,
    }
    config.update({k: v for k, v in optional.items() if v})
    if args.ssl_no_check_hostname:
        config["ssl_check_hostname"] = False
    for item in args.kafka_option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _usage(f"--kafka-option: {item!r} is not KEY=VALUE")
        config[key.strip()] = _option_value(value.strip())
        _check_option_type(key.strip(), config[key.strip()])
    return config


def _check_option_type(key: str, value: Any) -> None:
    """A ``-X`` value of the wrong kind for a kafka-python setting whose default is a
    number or a boolean is a usage error naming the setting (kafka-python itself fails on
    it with a bare ``TypeError``); unknown keys are left to kafka-python."""
    from kafka import KafkaConsumer, KafkaProducer

    default = KafkaConsumer.DEFAULT_CONFIG.get(key, KafkaProducer.DEFAULT_CONFIG.get(key))
    if isinstance(default, bool):
        if not isinstance(value, bool):
            _usage(f"--kafka-option {key}: expected true or false, got {value!r}")
    elif isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
        _usage(f"--kafka-option {key}: expected a whole number, got {value!r}")


def _option_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _usage(message: str) -> None:
    raise UsageError(message)


def _setup_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.WARNING)  # kafka-python's own chatter: warnings and up
    logging.getLogger("slaclock").setLevel(level.upper())


class _Signals:
    """SIGTERM/SIGINT call ``stop`` while active (first: finish the batch; second: force)."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self.stop = stop
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        logging.getLogger("slaclock.kafka").info(
            "%s received: finishing the current batch", signal.Signals(signum).name
        )
        self.stop()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


def handle(
    args: argparse.Namespace,
    policy: Policy | None,
    store_factory: Callable[[], TicketStore] | None,
    policy_factory: Callable[[], Policy] | None = None,
) -> int:
    """Run ``consume`` or ``publish``; the exit code. ``publish`` needs neither policy nor
    store; ``consume`` opens the store with ``store_factory``, retrying while the database
    is unavailable, and gives ``policy_factory`` (picklable) to a decoding process."""
    _setup_logging(args.log_level)
    if args.command == "publish":
        return _publish(args)
    if policy is None or store_factory is None:
        raise ValueError("consume needs the policy and a store factory")
    return _consume(args, policy, store_factory, policy_factory)


def _decode_in_process(decoder: str) -> bool:
    """``--decoder``: a second process pays off only with a second core to run it on."""
    if decoder == "auto":
        return (os.cpu_count() or 1) > 1
    return decoder == "process"


def _consume(
    args: argparse.Namespace,
    policy: Policy,
    store_factory: Callable[[], TicketStore],
    policy_factory: Callable[[], Policy] | None,
) -> int:
    from kafka.errors import KafkaConfigurationError

    from slaclock.consumers.decode_worker import WireDecodeProcess
    from slaclock.consumers.kafka_consumer import KafkaIngest
    from slaclock.consumers.kafka_settings import ConsumerSettings

    if args.max_poll_records < 1:
        _usage("--max-poll-records: must be at least 1")
    if args.exit_when_idle is not None and args.exit_when_idle < 0:
        _usage("--exit-when-idle: must not be negative")
    if args.tick_every < 0:
        _usage("--tick-every: must not be negative")
    if args.topic_grace < 0:
        _usage("--topic-grace: must not be negative")
    if args.decoder not in ("auto", "process", "inline"):  # a bad environment value
        _usage(f"--decoder: {args.decoder!r} is not one of auto, process, inline")
    if args.clock not in ("wall", "event"):  # a bad environment value
        _usage(f"--clock: {args.clock!r} is not one of wall, event")
    store_env(args.store)  # a malformed store URL is a usage error, not something to retry
    settings = ConsumerSettings(
        topic=args.topic,
        group=args.group,
        client_config=client_config(args),
        dead_letter_topic=args.dead_letter_topic,
        schema_registry=registry_options.registry_access(args),
        max_poll_records=args.max_poll_records,
        exit_when_idle=args.exit_when_idle,
        instance_id=args.instance_id,
        session_timeout_ms=args.session_timeout_ms,
        health_file=args.health_file,
        clock=args.clock,
        alerts_path=args.alerts,
        tick_every=args.tick_every,
        topic_grace=args.topic_grace,
    )
    stop = threading.Event()
    ingest: KafkaIngest | None = None

    def request_stop() -> None:
        if ingest is not None:
            ingest.request_stop()
        stop.set()

    with _Signals(request_stop):
        store = _open_store(store_factory, stop, settings.backoff_max, settings.health_file)
        if store is None:
            return 0
        try:
            decoding = None
            if policy_factory is not None and _decode_in_process(args.decoder):
                decoding = WireDecodeProcess(policy_factory, settings.schema_registry)
            ingest = KafkaIngest(settings, store, policy, decoding=decoding)
            if stop.is_set():
                ingest.request_stop()
            try:
                stats = ingest.run()
            except KafkaConfigurationError as exc:
                _usage(f"Kafka client settings: {exc}")
            forced = ingest.forced
            counts = {**stats.as_dict(), "dead_lettered": ingest.dead_letters.sent}
        finally:
            store.close()
    if not counts.get("voided"):
        counts.pop("voided", None)
    if args.json:
        print(json.dumps(counts, indent=1))
    else:
        from slaclock.output import table

        print(table(list(counts), [list(counts.values())]))
    return 1 if forced else 0


def _open_store(
    store_factory: Callable[[], TicketStore],
    stop: threading.Event,
    backoff_max: float,
    health_file: str | None,
) -> TicketStore | None:
    """Open the store, waiting with backoff while the database is unavailable."""
    from slaclock.consumers.health import HealthFile
    from slaclock.consumers.kafka_settings import TRANSIENT

    log = logging.getLogger("slaclock.kafka")
    health = HealthFile(health_file)
    delay = 0.5
    while not stop.is_set():
        try:
            return store_factory()
        except TRANSIENT as exc:  # StoreUnavailable: the database is not reachable (yet)
            log.warning("store unavailable (%s); retrying in %.1fs", exc, delay)
            health.retrying(f"store unavailable: {exc}")
            stop.wait(delay)
            delay = min(backoff_max, delay * 2)
    return None


def _publish(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kafka.errors import KafkaError

    from slaclock.consumers.kafka_publish import publish_files

    for path in args.files:
        if path != "-" and not Path(path).is_file():
            _usage(f"{path}: no such file")
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
        return 1
    finally:
        if bar:
            bar.close()
    counts = stats.as_dict()
    if args.json:
        print(json.dumps(counts, indent=1))
    else:
        from slaclock.output import table

        print(table(list(counts), [list(counts.values())]))
    return 1 if stats.skipped or stats.failed else 0
