"""docker-compose.yml cannot run here (no Docker): check that it parses and agrees with the code.

The consumer service's settings must be variables the command line reads, its command must
parse, and its addresses must point at the other services' listeners and credentials.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from slaclock import kafka_options

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
GLOBAL_VARIABLES = {"SLACLOCK_STORE", "SLACLOCK_CONFIG"}
KRAFT_KEYS = {
    "KAFKA_NODE_ID",
    "KAFKA_PROCESS_ROLES",
    "KAFKA_LISTENERS",
    "KAFKA_ADVERTISED_LISTENERS",
    "KAFKA_CONTROLLER_QUORUM_VOTERS",
    "KAFKA_CONTROLLER_LISTENER_NAMES",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
    "KAFKA_INTER_BROKER_LISTENER_NAME",
    "CLUSTER_ID",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def listeners(value: str) -> dict[str, tuple[str, int]]:
    out = {}
    for item in value.split(","):
        name, _, address = item.partition("://")
        host, _, port = address.rpartition(":")
        out[name] = (host, int(port))
    return out


def test_services_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "postgres", "slaclock"} <= services.keys()
    assert services["kafka"]["image"].startswith("apache/kafka:")
    for name in ("kafka", "postgres", "slaclock"):
        assert services[name]["healthcheck"]["test"], name
    depends = services["slaclock"]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["postgres"]["condition"] == "service_healthy"


def test_kafka_is_a_complete_kraft_node(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert env.keys() >= KRAFT_KEYS  # once one is set, the image needs all of them
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(bound) == set(protocols)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in bound
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    node, _, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert int(node) == int(env["KAFKA_NODE_ID"])
    assert int(voter.rpartition(":")[2]) == bound[env["KAFKA_CONTROLLER_LISTENER_NAMES"]][1]
    # The host reaches the broker where the command line looks by default.
    host_listener = next(n for n, (h, _) in advertised.items() if h == "localhost")
    port = advertised[host_listener][1]
    assert f"{port}:{bound[host_listener][1]}" in compose["services"]["kafka"]["ports"]
    assert f"localhost:{port}" == kafka_options.DEFAULT_BOOTSTRAP


def consumer_parser(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real ``slaclock`` parser, built with the container's environment."""
    from slaclock import cli

    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    return cli._parser()


def test_consumer_settings_are_the_command_line_variables(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = compose["services"]["slaclock"]
    env = {k: str(v) for k, v in service["environment"].items()}
    known = set(kafka_options.ENVIRONMENT.values()) | GLOBAL_VARIABLES
    assert set(env) <= known, f"not read by slaclock: {set(env) - known}"
    assert {"SLACLOCK_STORE", "SLACLOCK_KAFKA_BOOTSTRAP_SERVERS", "SLACLOCK_KAFKA_TOPIC"} <= set(
        env
    )

    command = service["command"][-1] if isinstance(service["command"], list) else service["command"]
    consume = shlex.split(command.split("exec ", 1)[1])
    assert consume[:2] == ["slaclock", "consume"]
    args = consumer_parser(env, monkeypatch).parse_args(consume[1:])
    assert isinstance(args, argparse.Namespace) and args.command == "consume"
    for dest, variable in kafka_options.ENVIRONMENT.items():
        if variable in env and hasattr(args, dest):
            expected = type(getattr(args, dest))(env[variable])
            assert getattr(args, dest) == expected, dest
    assert args.store == env["SLACLOCK_STORE"] and args.config == env["SLACLOCK_CONFIG"]


def test_consumer_addresses_match_the_other_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    env = services["slaclock"]["environment"]
    kafka_env = services["kafka"]["environment"]
    internal = listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])[
        kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"]
    ]
    assert env["SLACLOCK_KAFKA_BOOTSTRAP_SERVERS"] == f"{internal[0]}:{internal[1]}"
    assert internal[0] == "kafka"

    store = urlparse(env["SLACLOCK_STORE"])
    pg = services["postgres"]["environment"]
    assert store.scheme == "postgresql" and store.hostname == "postgres"
    assert (store.port, store.username, store.password) == (
        5432,
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
    )
    assert store.path.strip("/") == pg["POSTGRES_DB"]

    topics = services["kafka-topics"]["command"][-1]
    for variable in ("SLACLOCK_KAFKA_TOPIC", "SLACLOCK_KAFKA_DEAD_LETTER_TOPIC"):
        assert f"--topic {env[variable]} " in topics, variable
    config = next(
        v for v in services["slaclock"]["volumes"] if v.endswith(env["SLACLOCK_CONFIG"] + ":ro")
    )
    assert (COMPOSE.parent / config.split(":")[0]).is_file()
    health = services["slaclock"]["healthcheck"]["test"][-1]
    assert env["SLACLOCK_HEALTH_FILE"] in health


# ------------------------------------------------------------------ change-data capture
CONNECT_SCRIPT = COMPOSE.parent / "services" / "connect" / "connect.sh"
CDC = COMPOSE.parent / "examples" / "cdc"


def test_postgres_decodes_logically_and_has_the_helpdesk(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    command = postgres["command"]
    assert command[0] == "postgres"
    assert "wal_level=logical" in [command[i + 1] for i, a in enumerate(command) if a == "-c"]
    init = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v)
    assert (COMPOSE.parent / init.split(":")[0]).resolve() == CDC / "helpdesk.sql"


def test_connect_worker_runs_the_tested_script(compose: dict[str, Any]) -> None:
    services = compose["services"]
    connect = services["connect"]
    assert connect["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert connect["healthcheck"]["test"]
    # The container runs services/connect/connect.sh (the tests' worker) in the foreground,
    # with the services folder mounted whole (the script sources services/java-service.sh).
    mount = next(v for v in connect["volumes"] if v.startswith("./services:"))
    inside = mount.split(":")[1]
    assert connect["command"][-2:] == [f"{inside}/connect/connect.sh", "run"]
    script = CONNECT_SCRIPT.read_text()
    assert "run) cmd_run ;;" in script
    read = set(re.findall(r"\$\{(CONNECT_[A-Z_]+):-", script))
    env = {k: str(v) for k, v in connect["environment"].items()}
    assert set(env) <= read, f"not read by connect.sh: {set(env) - read}"
    kafka_env = services["kafka"]["environment"]
    internal = listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])[
        kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"]
    ]
    assert env["CONNECT_BOOTSTRAP"] == f"{internal[0]}:{internal[1]}"
    assert f"{env['CONNECT_PORT']}:{env['CONNECT_PORT']}" in connect["ports"]
    assert env["CONNECT_VAR_DIR"] == next(
        v.split(":")[1] for v in connect["volumes"] if v.startswith("connect-data:")
    )


def test_sample_connector_reaches_the_compose_database(compose: dict[str, Any]) -> None:
    import json

    config = json.loads((CDC / "helpdesk-connector.json").read_text())["config"]
    pg = compose["services"]["postgres"]["environment"]
    assert config["connector.class"] == "io.debezium.connector.postgresql.PostgresConnector"
    assert config["database.hostname"] == "postgres" and config["database.port"] == "5432"
    assert (config["database.user"], config["database.password"]) == (
        pg["POSTGRES_USER"],
        pg["POSTGRES_PASSWORD"],
    )
    sql = (CDC / "helpdesk.sql").read_text()
    assert f"CREATE DATABASE {config['database.dbname']};" in sql
    for table in config["table.include.list"].split(","):
        assert f"CREATE TABLE {table.split('.')[1]} (" in sql, table
    # compose's broker creates no topic by itself: the connector must create its own.
    assert compose["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert config["topic.creation.default.replication.factor"] == "1"


def test_sample_source_reads_the_sample_table(tmp_path: Path) -> None:
    from slaclock.config import load_sources

    config = tmp_path / "slaclock.toml"
    examples = COMPOSE.parent / "examples"
    config.write_text(
        (examples / "slaclock.toml").read_text() + (CDC / "helpdesk-source.toml").read_text()
    )
    source = load_sources(config)["helpdesk"]
    assert source.kind == "debezium"
    sql = (CDC / "helpdesk.sql").read_text()
    columns = set(re.findall(r"^\s+([a-z_]+)\s+[a-z]", sql, re.MULTILINE))
    for column in (source.id_column, source.status_column, source.created_column):
        assert column in columns, column
    assert {source.updated_column, source.customer, source.priority} <= columns
