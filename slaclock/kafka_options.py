"""The options of ``consume`` and ``publish``, and the kafka-python settings they give.

Every option a deployment sets has an environment variable (:data:`ENVIRONMENT`, the names
docker-compose.yml uses), so that a container needs no command-line arguments; a
command-line option wins over its variable. The options come in blocks (what to read, how
to batch, group membership, output, connection) so each block reads on one screen.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from slaclock import registry_options
from slaclock.args import UsageError, one_secret

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
    "sasl_password_file": "SLACLOCK_KAFKA_SASL_PASSWORD_FILE",
    "ssl_cafile": "SLACLOCK_KAFKA_SSL_CAFILE",
    "ssl_certfile": "SLACLOCK_KAFKA_SSL_CERTFILE",
    "ssl_keyfile": "SLACLOCK_KAFKA_SSL_KEYFILE",
    "ssl_password": "SLACLOCK_KAFKA_SSL_PASSWORD",
    "ssl_password_file": "SLACLOCK_KAFKA_SSL_PASSWORD_FILE",
    "log_level": "SLACLOCK_LOG_LEVEL",
    "health_file": "SLACLOCK_HEALTH_FILE",
    "clock": "SLACLOCK_CLOCK",
    "alerts": "SLACLOCK_ALERTS_FILE",
    "decoder": "SLACLOCK_KAFKA_DECODER",
    "tick_every": "SLACLOCK_KAFKA_TICK_EVERY",
    "topic_grace": "SLACLOCK_KAFKA_TOPIC_GRACE",
    "source": "SLACLOCK_KAFKA_SOURCE",
}
# ``consume`` also uses the main parser's global options: SLACLOCK_STORE, SLACLOCK_CONFIG.

DEFAULT_BOOTSTRAP = "localhost:9092"
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")
LOG_LEVELS = ("debug", "info", "warning", "error")


def env(dest: str, default: Any = None) -> Any:
    """The environment's value for the option ``dest``, or ``default``."""
    return os.environ.get(ENVIRONMENT[dest], default)


def add_topic(p: argparse.ArgumentParser, what: str) -> None:
    """``--topic``, required unless its variable is set."""
    topic = env("topic")
    p.add_argument(
        "--topic",
        default=topic,
        required=topic is None,
        help=f"topic to {what} (env {ENVIRONMENT['topic']})",
    )


def add_consume_options(p: argparse.ArgumentParser) -> None:
    """Every option of ``consume`` (after the global ones), in the order --help lists them."""
    add_topic(p, "consume")
    _add_source_options(p)
    _add_batch_options(p)
    _add_membership_options(p)
    _add_output_options(p)
    add_connection_options(p)


def _add_source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        default=env("source"),
        metavar="NAME",
        help="the topic carries the raw messages of this [sources.NAME] (e.g. Debezium "
        "change events), translated like `slaclock translate` (env "
        f"{ENVIRONMENT['source']}); default: slaclock events",
    )
    p.add_argument(
        "--group",
        default=env("group", "slaclock"),
        help=f"consumer group (env {ENVIRONMENT['group']}; default slaclock)",
    )
    p.add_argument(
        "--dead-letter-topic",
        default=env("dead_letter_topic"),
        metavar="TOPIC",
        help="rejected messages are relayed here from the store, with reason, source and "
        f"dead_letter_id headers (env {ENVIRONMENT['dead_letter_topic']}); without it they are "
        "logged and kept in the store (slaclock dead-letters)",
    )
    p.add_argument(
        "--schema-registry",
        default=env("schema_registry"),
        metavar="URL",
        help="Confluent-compatible schema registry for Avro schema ids (env "
        f"{ENVIRONMENT['schema_registry']}); default: the ids in schemas/registry.json",
    )
    registry_options.add_options(p)


def _add_batch_options(p: argparse.ArgumentParser) -> None:
    # A value from the environment is a string: argparse converts (and checks) it.
    p.add_argument(
        "--max-poll-records",
        type=int,
        default=env("max_poll_records", 50_000),
        metavar="N",
        help="messages per batch, stored in one transaction (env "
        f"{ENVIRONMENT['max_poll_records']}; default 50000)",
    )
    p.add_argument(
        "--tick-every",
        type=float,
        default=env("tick_every", 5.0),
        metavar="SECONDS",
        help="with the wall clock, while there is nothing to read, raise the alerts that time"
        " made due when the next one falls due and at least this often (0: only with the next"
        f" message; env {ENVIRONMENT['tick_every']}; default 5)",
    )
    p.add_argument(
        "--decoder",
        choices=["auto", "process", "inline"],
        default=env("decoder", "auto"),
        help="decode and validate each batch in a second process while this one stores the"
        " batch before (process), or in this one (inline); auto: a process when the machine"
        f" has two cores or more (env {ENVIRONMENT['decoder']}; default auto)",
    )
    p.add_argument(
        "--topic-grace",
        type=float,
        default=env("topic_grace", 30.0),
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


def _add_membership_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--instance-id",
        default=env("instance_id"),
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
        default=env("health_file"),
        metavar="PATH",
        help="a JSON status (ok / retrying with the reason / fatal), rewritten every few "
        "seconds while polling works and batches get stored; a container health check can "
        f"test its age (env {ENVIRONMENT['health_file']})",
    )


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--clock",
        choices=["wall", "event"],
        default=env("clock", "wall"),
        help="what moves time for alerts: wall-clock (live) or the latest event time "
        f"(backfills) (env {ENVIRONMENT['clock']}; default wall)",
    )
    p.add_argument(
        "--alerts",
        default=env("alerts"),
        metavar="PATH",
        help=f"append raised/withdrawn alerts here (JSONL) (env {ENVIRONMENT['alerts']})",
    )
    p.add_argument("--json", action="store_true", help="print the final counts as JSON")


def add_connection_options(p: argparse.ArgumentParser, *, log_level: bool = True) -> None:
    """The broker connection group (brokers, SASL, TLS, any other client setting) and
    ``--log-level`` (unless the command has its own)."""
    group = p.add_argument_group("Kafka connection (passed through to kafka-python)")
    group.add_argument(
        "--bootstrap-servers",
        default=env("bootstrap_servers", DEFAULT_BOOTSTRAP),
        metavar="HOST:PORT[,...]",
        help=f"brokers to bootstrap from (env {ENVIRONMENT['bootstrap_servers']}; "
        f"default {DEFAULT_BOOTSTRAP})",
    )
    group.add_argument(
        "--security-protocol",
        choices=SECURITY_PROTOCOLS,
        default=env("security_protocol", "PLAINTEXT"),
        help=f"(env {ENVIRONMENT['security_protocol']}; default PLAINTEXT)",
    )
    _add_sasl_options(group)
    _add_ssl_options(group)
    group.add_argument(
        "-X",
        "--kafka-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other kafka-python client setting, e.g. -X request_timeout_ms=60000 "
        "(repeatable; numbers and true/false are converted)",
    )
    if not log_level:
        return
    p.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=env("log_level", "info"),
        help=f"slaclock's own log level on stderr (env {ENVIRONMENT['log_level']}; default info)",
    )


def _add_sasl_options(group: Any) -> None:
    group.add_argument(
        "--sasl-mechanism",
        choices=SASL_MECHANISMS,
        default=env("sasl_mechanism"),
        help=f"(env {ENVIRONMENT['sasl_mechanism']})",
    )
    group.add_argument(
        "--sasl-username",
        default=env("sasl_username"),
        help=f"(env {ENVIRONMENT['sasl_username']})",
    )
    group.add_argument(
        "--sasl-password",
        default=env("sasl_password"),
        help="visible in the process list: prefer --sasl-password-file or the environment"
        f" ({ENVIRONMENT['sasl_password']})",
    )
    group.add_argument(
        "--sasl-password-file",
        default=env("sasl_password_file"),
        metavar="PATH",
        help=f"file holding the SASL password (env {ENVIRONMENT['sasl_password_file']})",
    )


def _add_ssl_options(group: Any) -> None:
    group.add_argument(
        "--ssl-cafile",
        default=env("ssl_cafile"),
        help=f"CA bundle (env {ENVIRONMENT['ssl_cafile']})",
    )
    group.add_argument(
        "--ssl-certfile",
        default=env("ssl_certfile"),
        help=f"client certificate (env {ENVIRONMENT['ssl_certfile']})",
    )
    group.add_argument(
        "--ssl-keyfile",
        default=env("ssl_keyfile"),
        help=f"client key (env {ENVIRONMENT['ssl_keyfile']})",
    )
    group.add_argument(
        "--ssl-password",
        default=env("ssl_password"),
        help="client key password, visible in the process list: prefer --ssl-password-file"
        f" or the environment ({ENVIRONMENT['ssl_password']})",
    )
    group.add_argument(
        "--ssl-password-file",
        default=env("ssl_password_file"),
        metavar="PATH",
        help=f"file holding the client key password (env {ENVIRONMENT['ssl_password_file']})",
    )
    group.add_argument(
        "--ssl-no-check-hostname",
        action="store_true",
        help="do not check the broker certificate's host name",
    )


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
        "sasl_plain_password": _password(args, "sasl_password"),
        "ssl_cafile": args.ssl_cafile,
        "ssl_certfile": args.ssl_certfile,
        "ssl_keyfile": args.ssl_keyfile,
        "ssl_password": _password(args, "ssl_password"),
    }
    config.update({k: v for k, v in optional.items() if v})
    if args.ssl_no_check_hostname:
        config["ssl_check_hostname"] = False
    for item in args.kafka_option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--kafka-option: {item!r} is not KEY=VALUE")
        config[key.strip()] = _option_value(value.strip())
        _check_option_type(key.strip(), config[key.strip()])
    return config


def _password(args: argparse.Namespace, dest: str) -> str | None:
    """``--sasl-password`` or ``--ssl-password``, or the file of its ``-file`` option."""
    option = "--" + dest.replace("_", "-")
    return one_secret(getattr(args, dest), getattr(args, f"{dest}_file"), option, ENVIRONMENT[dest])


def _check_option_type(key: str, value: Any) -> None:
    """A ``-X`` value of the wrong kind for a kafka-python setting whose default is a
    number or a boolean is a usage error naming the setting (kafka-python itself fails on
    it with a bare ``TypeError``); unknown keys are left to kafka-python."""
    from kafka import KafkaConsumer, KafkaProducer

    default = KafkaConsumer.DEFAULT_CONFIG.get(key, KafkaProducer.DEFAULT_CONFIG.get(key))
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise UsageError(f"--kafka-option {key}: expected true or false, got {value!r}")
    elif isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
        raise UsageError(f"--kafka-option {key}: expected a whole number, got {value!r}")


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
