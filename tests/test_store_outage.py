"""A store that goes away: one-shot commands say so in one line and exit 3; ``consume`` and
``serve`` wait for it and carry on.

The PostgreSQL tests stop and start a PostgreSQL server of their own (scripts/postgres.sh
with a private port and directory), never the shared one; the consumer reads the real broker.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from slaclock.consumers.kafka_wire import encode_avro
from tests.conftest import CONFIG, EVENTS, Cli
from tests.kafka_helpers import (
    AS_OF,
    REPO,
    create_topic,
    generate_events,
    require_kafka,
    send_all,
    slaclock,
    sqlite_store,
    start_consumer,
    store_counts,
    tracked_offsets,
    unique,
    write_jsonl,
)

STORE_LOST = 3  # slaclock.exit_codes.STORE_UNAVAILABLE


class PrivatePostgres:
    """A PostgreSQL server of this test module's own, on a free port."""

    def __init__(self) -> None:
        self.port = _free_port_from(55490)
        # The server runs as the postgres user, which must reach its directory.
        self.base = Path(tempfile.mkdtemp(prefix=f"slaclock-pg-{self.port}-"))
        self.base.chmod(0o755)
        self.env = {**os.environ, "PGPORT": str(self.port), "SLACLOCK_PG_DIR": str(self.base)}
        self.url = f"postgresql://slaclock@127.0.0.1:{self.port}/slaclock"

    def _script(self, action: str) -> None:
        done = subprocess.run(
            [str(REPO / "scripts" / "postgres.sh"), action],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"postgres.sh {action}: {done.stdout}{done.stderr}"

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def schema_store(self, options: str = "") -> str:
        """A fresh schema of this server as a store URL (``options``: more query options)."""
        schema = unique("s").replace("-", "_")
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return f"{self.url}?schema={schema}{options}"


def _free_port_from(first: int) -> int:
    for port in range(first, first + 40):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise AssertionError(f"no free port in {first}..{first + 39}")


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.base, ignore_errors=True)


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == STORE_LOST, f"exit {done.returncode}: {done.stderr[-2000:]}"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("slaclock: error: store "), lines[0]
    return lines[0]


# ----------------------------------------------------------------------- one-shot commands
def test_a_stopped_postgres_server_gives_exit_3_and_one_line(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    store = private_postgres.schema_store("&connect_timeout=2")
    with_password = store.replace("slaclock@", "slaclock:s3cret-pw@")  # trust auth ignores it
    cli = Cli(CONFIG, with_password, tmp_path)
    assert cli.json("ingest", str(EVENTS))["accepted"] == 30
    private_postgres.stop()
    try:
        started = time.monotonic()
        line = _one_line_error(cli.run("report", "compliance", "--month", "2025-09"))
        assert time.monotonic() - started < 20  # connect_timeout=2, not the 30 s default
        assert "s3cret-pw" not in line and "slaclock:***@" in line
        assert "cannot open" in line
        _one_line_error(cli.run("tickets", "--json"))
    finally:
        private_postgres.start()
    assert len(cli.json("tickets")) > 0  # the same store works again


def test_postgres_lost_during_ingest_gives_exit_3_and_keeps_whole_batches(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    events = generate_events(1500, seed=11)
    path = write_jsonl(events, tmp_path / "events.jsonl")
    store = private_postgres.schema_store("&connect_timeout=1")
    argv = ["ingest", str(path), "--batch-size", "100", "--decoder", "inline", "--json"]
    command = [*_slaclock_argv(store), *argv]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_rows(private_postgres.url, store, "sla_event_ids", 300)
        private_postgres.stop()
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
        private_postgres.start()
    done = subprocess.CompletedProcess(command, proc.returncode, out.decode(), err.decode())
    line = _one_line_error(done)
    assert "unavailable" in line or "cannot open" in line

    # What was stored is whole batches: ingesting the file again completes it exactly.
    again = slaclock(store, *argv)
    reference = sqlite_store(tmp_path, "reference.db")
    clean = slaclock(reference, *argv)
    assert again["accepted"] + again["duplicates"] == clean["accepted"] + clean["duplicates"]
    assert 0 < again["duplicates"] - clean["duplicates"] < clean["accepted"]
    assert store_counts(store) == store_counts(reference)
    assert _tickets(store) == _tickets(reference)


def test_a_sqlite_store_locked_beyond_the_lock_timeout_gives_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    cli = Cli(CONFIG, f"sqlite:///{path}?lock_timeout=1", tmp_path)
    assert cli.json("ingest", str(EVENTS))["accepted"] == 30
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for argv in (["ingest", str(EVENTS)], ["ledger", "close", "--month", "2025-09"]):
            started = time.monotonic()
            line = _one_line_error(cli.run(*argv))
            assert line.endswith(": unavailable: database is locked"), line
            assert time.monotonic() - started < 20
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    again = cli.json("ingest", str(EVENTS))  # nothing was half-done: all known, none new
    assert (again["accepted"], again["duplicates"]) == (0, 31)
    assert "closed_at" in cli.json("ledger", "close", "--month", "2025-09")


def test_a_bad_store_url_is_a_usage_error_without_credentials(tmp_path: Path) -> None:
    for url in ("postgresql://u:s3cret-pw@/db", "mysql://u:s3cret-pw@host/db"):
        done = Cli(CONFIG, url, tmp_path).run("tickets")
        assert done.returncode == 2 and "s3cret-pw" not in done.stderr, done.stderr
    done = Cli(CONFIG, f"sqlite:///{tmp_path / 's.db'}?lock_timeout=soon", tmp_path).run("tickets")
    assert done.returncode == 2 and "lock_timeout: expected whole seconds" in done.stderr


# ----------------------------------------------------------------------- consume and serve
def test_consume_rides_out_a_postgres_restart_nothing_lost_nothing_twice(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    require_kafka()
    events = generate_events(1200, seed=5)
    half = len(events) // 2
    topic = create_topic(unique("outage"), partitions=2)
    send_all(((e["ticket_id"].encode(), encode_avro(e)) for e in events[:half]), topic)
    store = private_postgres.schema_store()
    log = tmp_path / "consumer.log"
    extra = ("--max-poll-records", "100", "--log-level", "info")
    proc = start_consumer(store, topic, unique("g"), *extra, log=log)
    try:
        _wait_for_offsets(store, topic, half // 3)  # well into the first half: mid-stream
        private_postgres.stop()
        # the rest arrives while the store is down: the consumer must keep it for later
        send_all(((e["ticket_id"].encode(), encode_avro(e)) for e in events[half:]), topic)
        time.sleep(4)
        assert proc.poll() is None, f"the consumer exited:\n{log.read_text()[-3000:]}"
        private_postgres.start()
        _wait_for_offsets(store, topic, len(events), timeout=120)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, log.read_text()[-3000:]
    text = log.read_text(errors="replace")
    # Whether the consumer logs "batch not stored" or its database driver waits out the
    # outage inside one save depends on timing; either way the second half, sent while the
    # server was down, had to be stored after it came back (checked below), exactly once.
    assert "Traceback" not in text

    reference = sqlite_store(tmp_path, "reference.db")
    slaclock(reference, "ingest", str(write_jsonl(events, tmp_path / "all.jsonl")), "--json")
    offsets = tracked_offsets(store, topic, {0, 1})
    assert sum(v or 0 for v in offsets.values()) == len(events)  # every offset, once
    assert store_counts(store) == store_counts(reference)  # nothing applied twice
    assert _tickets(store) == _tickets(reference)


def test_serve_answers_503_while_postgres_is_down_and_recovers(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    from tests.test_api_harness import ApiServer, prepare_store

    cli = Cli(CONFIG, private_postgres.schema_store("&connect_timeout=2"), tmp_path)
    server = ApiServer(cli, prepare_store(cli, open_tickets=False))
    try:
        want = server.json("/api/tickets/T-1004", as_of=AS_OF)
        private_postgres.stop()
        try:
            admin = {"Authorization": f"Bearer {server.tokens['admin']}"}
            down = server.client.get("/api/tickets/T-1004", headers=admin)
            assert down.status_code == 503, down.text
            assert down.json() == {"detail": "store: unavailable, try again later"}
            assert server.client.get("/readyz").status_code == 503
            assert server.client.get("/healthz").status_code == 200
        finally:
            private_postgres.start()
        deadline = time.monotonic() + 30
        while server.client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "serve did not recover"
            time.sleep(0.2)
        assert server.json("/api/tickets/T-1004", as_of=AS_OF) == want
        assert server.process.poll() is None  # the same process, not restarted
    finally:
        server.stop()


# ----------------------------------------------------------------------------- helpers
def _slaclock_argv(store: str) -> list[str]:
    return [sys.executable, "-m", "slaclock", "--config", str(CONFIG), "--store", store]


def _tickets(store: str) -> Any:
    return slaclock(store, "tickets", "--as-of", AS_OF, "--json")


def _wait_for_rows(server_url: str, store: str, table: str, at_least: int) -> None:
    schema = store.split("schema=", 1)[1].split("&", 1)[0]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with psycopg.connect(server_url, connect_timeout=5) as conn:
            exists = conn.execute("SELECT to_regclass(%s)", [f'"{schema}".{table}']).fetchone()
            if exists and exists[0]:
                count = conn.execute(f'SELECT COUNT(*) FROM "{schema}".{table}').fetchone()
                if count and count[0] >= at_least:
                    return
        time.sleep(0.05)
    raise AssertionError(f"{table} did not reach {at_least} rows")


def _wait_for_offsets(store: str, topic: str, at_least: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    total = 0
    while time.monotonic() < deadline:
        total = sum(v or 0 for v in tracked_offsets(store, topic, {0, 1}).values())
        if total >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError(f"stored offsets reached {total}, not {at_least}, in {timeout}s")
