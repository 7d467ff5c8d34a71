"""Change-data capture for the tests: a PostgreSQL server of their own (wal_level=logical)
holding the helpdesk database, and a Debezium connector on the Kafka Connect worker that
``make test`` starts (``services/connect/connect.sh``), publishing its changes to Kafka.

The server is private (scripts/postgres.sh on a free port, in a temporary directory) so that
its replication slots and publications go with it; missing services make the tests FAIL.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.kafka_helpers import KAFKA_BOOTSTRAP, REPO, require_kafka, unique

CONNECT_URL = os.environ.get(
    "SLACLOCK_TEST_CONNECT_URL", f"http://127.0.0.1:{os.environ.get('CONNECT_PORT', '8083')}"
)
HELPDESK_SQL = REPO / "examples" / "cdc" / "helpdesk.sql"
CONNECTOR_JSON = REPO / "examples" / "cdc" / "helpdesk-connector.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _psql() -> str:
    found = shutil.which("psql") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), reverse=True)), None
    )
    assert found, "psql not found (scripts/postgres.sh start installs PostgreSQL)"
    return found


@dataclass
class HelpdeskDatabase:
    """A private PostgreSQL server with the helpdesk database of examples/cdc/helpdesk.sql."""

    port: int
    base: Path

    @property
    def url(self) -> str:
        return f"postgresql://slaclock@127.0.0.1:{self.port}/helpdesk"

    def _script(self, command: str) -> None:
        env = {**os.environ, "PGPORT": str(self.port), "SLACLOCK_PG_DIR": str(self.base / "pg")}
        proc = subprocess.run(
            [str(REPO / "scripts" / "postgres.sh"), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 0, f"postgres.sh {command}: {proc.stdout}{proc.stderr}"

    @classmethod
    def start(cls) -> HelpdeskDatabase:
        # Under /tmp and world-searchable: the server runs as `postgres` when we are root.
        base = Path(tempfile.mkdtemp(prefix="slaclock-cdc-", dir="/tmp"))
        base.chmod(0o755)
        db = cls(_free_port(), base)
        db._script("start")
        proc = subprocess.run(
            [
                *(_psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1"),
                *("-h", "127.0.0.1", "-p", str(db.port), "-U", "slaclock", "-d", "postgres"),
                *("-f", str(HELPDESK_SQL)),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return db

    def execute(self, statements: Iterable[tuple[str, Any]]) -> None:
        """Each (SQL, parameters) in a transaction of its own, as a helpdesk would."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            for sql, params in statements:
                with conn.transaction():
                    conn.execute(sql, params)

    def stop(self) -> None:
        try:
            self._script("stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


# ----------------------------------------------------------------------- Kafka Connect
def connect_request(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        CONNECT_URL + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
    return json.loads(text) if text else None


def require_connect() -> None:
    """The worker ``make test`` starts; started here when a test file runs on its own."""
    require_kafka()
    try:
        connect_request("GET", "/connectors")
        return
    except (urllib.error.URLError, OSError):
        pass
    proc = subprocess.run(
        [str(REPO / "services" / "connect" / "connect.sh"), "start"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"connect.sh start: {proc.stdout}{proc.stderr}"


@dataclass
class Connector:
    """A Debezium PostgreSQL connector on the worker, reading ``tables`` of ``db``."""

    name: str
    prefix: str

    def topic(self, table: str) -> str:
        return f"{self.prefix}.public.{table}"

    @classmethod
    def create(cls, db: HelpdeskDatabase, tables: Iterable[str]) -> Connector:
        """examples/cdc/helpdesk-connector.json, pointed at ``db``; waits until RUNNING."""
        require_connect()
        name = unique("slaclock-cdc").replace("-", "_")
        config = json.loads(CONNECTOR_JSON.read_text())["config"]
        config.update(
            {
                "database.hostname": "127.0.0.1",
                "database.port": str(db.port),
                "database.password": "",
                "topic.prefix": name,
                "slot.name": name,
                "publication.name": name,
                "table.include.list": ",".join(f"public.{t}" for t in tables),
            }
        )
        connect_request("PUT", f"/connectors/{name}/config", config)
        connector = cls(name, name)
        connector.wait_running()
        return connector

    def wait_running(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        status: Any = None
        while time.monotonic() < deadline:
            try:
                status = connect_request("GET", f"/connectors/{self.name}/status")
            except urllib.error.HTTPError:  # 404 until the worker has taken the config
                status = None
            tasks = (status or {}).get("tasks") or []
            if tasks and all(t["state"] == "RUNNING" for t in tasks):
                return
            if any(t["state"] == "FAILED" for t in tasks):
                raise AssertionError(f"connector {self.name} failed: {status}")
            time.sleep(0.5)
        raise AssertionError(f"connector {self.name} not RUNNING after {timeout}s: {status}")

    def delete(self) -> None:
        try:
            connect_request("DELETE", f"/connectors/{self.name}")
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise


def wait_for_messages(topic: str, count: int, timeout: float = 60) -> None:
    """Until ``topic`` holds at least ``count`` messages (Debezium publishes on its own time)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=KAFKA_BOOTSTRAP, bootstrap_timeout_ms=10_000)
    deadline = time.monotonic() + timeout
    have = 0
    try:
        while time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            have = sum(ends.values())
            if have >= count:
                return
            time.sleep(0.5)
    finally:
        consumer.close()
    raise AssertionError(f"{topic}: {have} messages after {timeout}s, expected {count}")
