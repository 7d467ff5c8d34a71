"""Shared helpers for the tests against the real Kafka broker (and PostgreSQL).

Start the services first: ``services/kafka/kafka.sh start`` and ``scripts/postgres.sh start``.
Missing services make the tests FAIL (never skip).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
CONFIG = REPO / "examples" / "slaclock.toml"
EVENTS = REPO / "examples" / "events.jsonl"
EXPECTED = FIXTURES / "expected"
AS_OF = "2025-10-06T12:00:00+02:00"
MONTHS = ("2025-08", "2025-09", "2025-10")

KAFKA_BOOTSTRAP = os.environ.get(
    "SLACLOCK_TEST_KAFKA_BOOTSTRAP", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
)
POSTGRES_URL = os.environ.get(
    "SLACLOCK_TEST_POSTGRES_URL",
    f"postgresql://slaclock@127.0.0.1:{os.environ.get('PGPORT', '55432')}/slaclock",
)
SLACLOCK = [sys.executable, "-m", "slaclock"]


# ------------------------------------------------------------------------------ services
def require_port(host_port: str, how_to_start: str) -> None:
    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"nothing listens on {host_port} ({exc}); run {how_to_start}", pytrace=False)


def require_kafka() -> None:
    require_port(KAFKA_BOOTSTRAP, "services/kafka/kafka.sh start")


def require_postgres() -> None:
    host_port = POSTGRES_URL.split("@", 1)[1].split("/", 1)[0]
    require_port(host_port, "scripts/postgres.sh start")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_topic(name: str, partitions: int = 1) -> str:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=KAFKA_BOOTSTRAP, bootstrap_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=30_000)
    finally:
        admin.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the metadata shows every partition
        if len(partitions_of(name)) == partitions:
            return name
        time.sleep(0.2)
    raise AssertionError(f"topic {name} did not get {partitions} partitions")


def partitions_of(topic: str) -> set[int]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=KAFKA_BOOTSTRAP, bootstrap_timeout_ms=10_000)
    try:
        return set(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()


def producer() -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(
        bootstrap_servers=KAFKA_BOOTSTRAP, linger_ms=20, batch_size=256 * 1024, acks="all"
    )


def send_all(messages: Iterable[tuple[bytes | None, bytes]], topic: str) -> int:
    """Send (key, value) pairs in order and wait for every acknowledgement."""
    p = producer()
    futures = [p.send(topic, key=k, value=v) for k, v in messages]
    p.flush()
    for f in futures:
        f.get(timeout=30)
    p.close(timeout=10)
    return len(futures)


def publish_file(path: Path, topic: str, fmt: str) -> dict[str, int]:
    """``slaclock publish`` in-process (the command line is tested separately)."""
    from slaclock.consumers.kafka_publish import publish_files

    stats = publish_files([str(path)], topic, {"bootstrap_servers": KAFKA_BOOTSTRAP}, fmt=fmt)
    assert stats.failed == 0 and stats.skipped == 0, stats.problems
    return stats.as_dict()


def read_topic(topic: str, expect: int, timeout: float = 30) -> list[Any]:
    """All records of ``topic`` (at least ``expect``), in partition/offset order."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        bootstrap_timeout_ms=10_000,
        consumer_timeout_ms=3_000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expect and time.monotonic() < deadline:
            records.extend(consumer)
    finally:
        consumer.close()
    return sorted(records, key=lambda r: (r.partition, r.offset))


# ----------------------------------------------------------------------------- stores
def sqlite_store(tmp_path: Path, name: str = "store.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def postgres_schema_store(schema: str) -> str:
    """A fresh PostgreSQL schema (dropped first if it exists) as a store URL."""
    import psycopg

    require_postgres()
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_analytics" CASCADE')  # its views
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{POSTGRES_URL}?schema={schema}"


def drop_postgres_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_analytics" CASCADE')  # its views


def store_counts(store_url: str) -> dict[str, int]:
    """Rows that tell whether anything was applied twice: facts recorded in the event
    store's events, event ids, tickets."""
    from slaclock.config import load_policy
    from slaclock.projections.store import TicketStore

    policy, _ = load_policy(str(CONFIG))
    store = TicketStore(store_url, policy)
    try:
        table = _events_table(store)
        rows = store.query(f"SELECT topic, state FROM {{p}}{table}")
        by_topic: dict[str, int] = {}
        facts = 0
        for row in rows:
            topic = row["topic"].rsplit(".", 1)[-1]
            by_topic[topic] = by_topic.get(topic, 0) + 1
            facts += len(json.loads(bytes(row["state"])).get("facts", []))
        event_ids = store.query("SELECT COUNT(*) AS n FROM {p}sla_event_ids")[0]["n"]
        tickets = store.query("SELECT COUNT(*) AS n FROM {p}sla_tickets")[0]["n"]
    finally:
        store.close()
    return {
        "accepted_events": facts,
        "registered": by_topic.get("Registered", 0),
        "event_ids": event_ids,
        "tickets": tickets,
    }


def partition_lags(store_url: str) -> list[tuple[str, int, int, int]]:
    """(tracking name, end offset, stored offset, lag) of each partition a consumer reported."""
    from slaclock.config import load_policy
    from slaclock.projections.store import TicketStore

    policy, _ = load_policy(str(CONFIG))
    store = TicketStore(store_url, policy)
    try:
        return [(p.name, p.end, p.stored, p.lag) for p in store.partition_lags()]
    finally:
        store.close()


def _events_table(store: Any) -> str:
    return "slaclock_events" if store.dialect.name == "postgres" else "stored_events"


def tracked_offsets(store_url: str, topic: str, partitions: Iterable[int]) -> dict[int, int | None]:
    """The offsets the store holds for ``topic``, read with plain SQL: opening a TicketStore
    runs its CREATE ... IF NOT EXISTS statements, which must not race a writing consumer."""
    from urllib.parse import urlparse

    from slaclock.consumers.partitions import tracking_name

    names = {tracking_name(topic, p): p for p in partitions}
    found: dict[int, int | None] = dict.fromkeys(names.values())
    parsed = urlparse(store_url)
    if parsed.scheme == "sqlite":
        import sqlite3

        path = parsed.path.lstrip("/") if not store_url.startswith("sqlite:////") else parsed.path
        if not Path(path).exists():
            return found
        conn = sqlite3.connect(path, timeout=30)
        try:
            rows = conn.execute("SELECT application_name, notification_id FROM tracking").fetchall()
        except sqlite3.OperationalError:  # not created yet
            rows = []
        finally:
            conn.close()
    else:
        import psycopg

        schema = dict(part.split("=", 1) for part in parsed.query.split("&") if "=" in part)
        base = store_url.split("?", 1)[0]
        with psycopg.connect(base, connect_timeout=5) as conn:
            table = f'"{schema.get("schema", "public")}".notification_tracking'
            exists = conn.execute("SELECT to_regclass(%s)", [table]).fetchone()
            rows = (
                conn.execute(f"SELECT application_name, notification_id FROM {table}").fetchall()
                if exists and exists[0]
                else []
            )
    for name, value in rows:
        if name in names:
            found[names[name]] = value
    return found


# ----------------------------------------------------------------------- command line
def slaclock(
    store_url: str,
    *argv: str,
    timeout: float = 120,
    check: bool = True,
    config: Path = CONFIG,
    traceback_free: bool = False,
) -> Any:
    """Run the CLI; parsed JSON stdout. ``traceback_free``: its stderr must hold no
    traceback (not even one logged by a thread that the exit code does not show)."""
    proc = subprocess.run(
        [*SLACLOCK, "--config", str(config), "--store", store_url, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"slaclock {argv} exit {proc.returncode}: {proc.stderr[-2000:]}")
    if traceback_free:
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def consume_args(topic: str, group: str, *extra: str) -> list[str]:
    return [
        "consume",
        "--bootstrap-servers",
        KAFKA_BOOTSTRAP,
        "--topic",
        topic,
        "--group",
        group,
        "--json",
        *extra,
    ]


def start_consumer(
    store_url: str, topic: str, group: str, *extra: str, log: Path, config: Path = CONFIG
) -> Any:
    """A ``slaclock consume`` subprocess writing its stderr to ``log``."""
    return subprocess.Popen(
        [
            *SLACLOCK,
            "--config",
            str(config),
            "--store",
            store_url,
            *consume_args(topic, group, *extra),
        ],
        stdout=subprocess.PIPE,
        stderr=log.open("ab"),
        cwd=REPO,
        text=True,
    )


def finish(proc: Any, timeout: float = 120) -> dict[str, int]:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"consumer exit {proc.returncode}"
    return json.loads(out)


# ---------------------------------------------------------------------------- outputs
def reports(store_url: str, months: Sequence[str] = MONTHS) -> dict[str, Any]:
    """Everything a user can ask, as of AS_OF: tickets, and both reports per month."""
    from slaclock.config import load_policy
    from slaclock.projections.queries import Queries
    from slaclock.projections.render import compliance_json, credits_json, ticket_json
    from slaclock.projections.reports import compliance, credits, month_outcomes
    from slaclock.projections.store import TicketStore

    policy, _ = load_policy(str(CONFIG))
    store = TicketStore(store_url, policy)
    as_of = datetime.fromisoformat(AS_OF)
    epoch = int(as_of.timestamp())
    try:
        queries = Queries(store, policy)
        out: dict[str, Any] = {
            "tickets": [
                ticket_json(s, as_of, queries, policy) for s in queries.tickets(epoch, None)
            ]
        }
        for month in months:
            outcomes = month_outcomes(queries, month, epoch, None)
            out[f"compliance_{month}"] = compliance_json(month, as_of, compliance(outcomes))
            out[f"credits_{month}"] = credits_json(month, as_of, policy.currency, credits(outcomes))
    finally:
        store.close()
    return json.loads(json.dumps(out, default=str))


def cli_reports(store_url: str) -> dict[str, Any]:
    """The contract's outputs through the command line."""
    out = {"tickets": slaclock(store_url, "tickets", "--as-of", AS_OF, "--json")}
    for month in MONTHS:
        for rep in ("compliance", "credits"):
            out[f"{rep}_{month}"] = slaclock(
                store_url, "report", rep, "--month", month, "--as-of", AS_OF, "--json"
            )
    return out


def norm(x: Any) -> Any:
    """RFC 3339 strings become UTC instants, so offsets do not matter."""
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    if isinstance(x, list):
        return [norm(v) for v in x]
    if isinstance(x, str) and len(x) >= 20 and x[4] == "-" and "T" in x:
        try:
            d = datetime.fromisoformat(x.replace("Z", "+00:00"))
        except ValueError:
            return x
        if d.tzinfo is not None:
            return ("instant", d.timestamp())
    return x


def diff(exp: Any, got: Any, path: str = "$") -> str | None:
    """First difference (expected keys must be present and equal; extra keys allowed)."""
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            return f"{path}: expected an object, got {got!r}"[:300]
        for k, v in exp.items():
            if k not in got:
                return f"{path}.{k}: missing"
            d = diff(v, got[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(exp, list):
        if not isinstance(got, list) or len(got) != len(exp):
            size = len(got) if isinstance(got, list) else got
            return f"{path}: expected {len(exp)} items, got {size!r}"
        for i, (a, b) in enumerate(zip(exp, got, strict=True)):
            d = diff(a, b, f"{path}[{i}]")
            if d:
                return d
        return None
    if exp != got:
        return f"{path}: expected {exp!r}, got {got!r}"
    return None


def assert_contract_outputs(store_url: str) -> None:
    """The store answers exactly what tests/fixtures/expected says (via the CLI)."""
    got = cli_reports(store_url)
    tickets = json.loads((EXPECTED / "tickets_as_of_2025-10-06T12-00.json").read_text())
    problems = []
    d = diff(norm([tickets[t] for t in sorted(tickets)]), norm(got["tickets"]))
    if d:
        problems.append(f"tickets: {d}")
    for month in MONTHS:
        for rep in ("compliance", "credits"):
            exp = json.loads((EXPECTED / f"{rep}_{month}.json").read_text())
            d = diff(norm(exp), norm(got[f"{rep}_{month}"]))
            if d:
                problems.append(f"{rep} {month}: {d}")
    assert not problems, "\n".join(problems)


def assert_same_reports(expected: dict[str, Any], got: dict[str, Any]) -> None:
    assert expected.keys() == got.keys()
    for key in expected:
        d = diff(norm(expected[key]), norm(got[key]), key)
        assert d is None, d
        d = diff(norm(got[key]), norm(expected[key]), key)  # nothing extra either
        assert d is None, d


# ---------------------------------------------------------------------------- events
CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli")


def generate_events(n_tickets: int, seed: int = 7) -> list[dict[str, Any]]:
    """A deterministic stream of ticket lifecycles (about 6-7 events per ticket), interleaved
    roughly by time, with redeliveries (same event_id again), events that arrive before
    their ticket.created, and a few invalid ones."""
    rng = random.Random(seed)
    start = datetime(2025, 8, 1, 6, 0, tzinfo=UTC)
    span = int(timedelta(days=64).total_seconds())
    lifecycles: list[list[tuple[datetime, dict[str, Any]]]] = []
    for n in range(n_tickets):
        tid = f"G-{n:06d}"
        customer = CUSTOMERS[rng.randrange(len(CUSTOMERS))]
        created = start + timedelta(seconds=rng.randrange(span))
        offset = timedelta(hours=rng.choice((0, 1, 2, -5)))
        seq = 0

        def event(
            kind: str, at: datetime, tid: str = tid, offset: timedelta = offset, **fields: Any
        ) -> tuple[datetime, dict[str, Any]]:
            nonlocal seq
            seq += 1
            tz = UTC if offset == timedelta(0) else _tz(offset)
            body = {
                "event_id": f"{tid}-e{seq}",
                "type": kind,
                "ticket_id": tid,
                "occurred_at": at.astimezone(tz).isoformat(),
                **fields,
            }
            return at, body

        t = created
        items = [event("ticket.created", t, customer_id=customer, priority=rng.choice((1, 2, 3)))]
        t += timedelta(minutes=rng.randrange(5, 60 * 30))
        items.append(event("ticket.acknowledged", t, actor="agent"))
        if rng.random() < 0.5:
            t += timedelta(minutes=rng.randrange(5, 600))
            items.append(event("ticket.intervention_started", t))
        if rng.random() < 0.3:
            t += timedelta(minutes=rng.randrange(5, 600))
            items.append(event("ticket.reprioritised", t, priority=rng.choice((1, 2, 3))))
        if rng.random() < 0.4:
            t += timedelta(minutes=rng.randrange(5, 600))
            items.append(event("ticket.paused", t, reason="waiting_for_customer"))
            t += timedelta(minutes=rng.randrange(5, 3000))
            items.append(event("ticket.resumed", t))
        t += timedelta(minutes=rng.randrange(30, 60 * 48))
        items.append(event("ticket.resolved", t))
        if rng.random() < 0.15:
            t += timedelta(minutes=rng.randrange(30, 60 * 24))
            items.append(event("ticket.reopened", t))
            t += timedelta(minutes=rng.randrange(30, 60 * 24))
            items.append(event("ticket.resolved", t))
        if rng.random() < 0.03:  # invalid: priority outside the configured ones
            items.append(event("ticket.reprioritised", t, priority=7))
        if rng.random() < 0.05 and len(items) > 2:  # the acknowledgement arrives first
            items[0], items[1] = items[1], items[0]
        if rng.random() < 0.05:  # a redelivery, a little later
            items.append((items[-1][0] + timedelta(minutes=5), items[rng.randrange(len(items))][1]))
        lifecycles.append(items)
    # Interleave by the time each event was "sent" (occurred_at, lifecycle order kept).
    flat = []
    for items in lifecycles:
        sent = items[0][0]
        for at, body in items:
            sent = max(sent, at)
            flat.append((sent, len(flat), body))
    flat.sort(key=lambda item: (item[0], item[1]))
    return [body for _, _, body in flat]


def _tz(offset: timedelta) -> Any:
    from datetime import timezone

    return timezone(offset)


def write_jsonl(events: Sequence[dict[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path
