"""Kafka consume benchmark: figures next to their targets, PASS or MISS.

    python bench/kafka_bench.py                     # 1,000,000 events, 4 partitions (minutes)
    python bench/kafka_bench.py --events 20000      # a quick look
    python bench/kafka_bench.py --events 100000 --only-profile --profile 100000

Needs the local broker (``services/kafka/kafka.sh start``) and PostgreSQL
(``scripts/postgres.sh start``). For N events it:

* generates one Avro container file with ``bench/generate.py`` into ``bench/out/`` (kept and
  reused while the generator's inputs are unchanged; the same files as ``bench/run.py``);
* publishes it with slaclock's own publish code (``consumers.kafka_publish.publish_files``, what
  ``slaclock publish`` runs: Confluent wire format, schema id 1, keyed by ``ticket_id``,
  ``acks=all``) to a fresh topic with ``--partitions`` partitions; *events* below are the
  messages on that topic (the sum of its end offsets);
* then measures, one after the other, each as a subprocess in a fresh consumer group:

  (a) **bare loop**: kafka-python ``poll`` + ``consumers.kafka_wire.WireDecoder.decode`` of every
      message, nothing else (same consumer settings as ``slaclock consume``);
  (b) ``slaclock consume --exit-when-idle S --dead-letter-topic ...`` into a fresh SQLite store;
  (c) the same into a fresh PostgreSQL schema (``?schema=...``).

  Wall time runs from spawning the process until it is done: for the bare loop until it has
  decoded the last message, for ``consume`` until the offsets stored in the store (the
  eventsourcing tracking rows, polled every 0.1 s with plain SQL) reach the end of every
  partition; the idle wait of ``--exit-when-idle`` comes after that and is not counted.
  Interpreter start, imports, store open and the group join are counted, as a user waits for
  them. *Streaming* rates leave them out: events stored (or decoded) between the first
  observation of progress and the end, over that time. CPU seconds are the ``wait4`` rusage
  of exactly that child (with its decoding process); peak RSS is sampled from ``/proc`` every
  0.1 s, the consumer and its decoding process together; broker and PostgreSQL CPU come from
  ``/proc`` too.

Correctness is checked on the way: ``read`` equals the messages on the topic and
accepted + duplicates + rejected; the counts equal what the generator expects; the store
records each accepted event once in its stored events and once as an event id; dead letters
sent equal rejected + voided, and the dead-letter topic holds that many. This is a benchmark,
not a test: nothing asserts, and the exit code is 0 whatever the figures (1 only if a
command failed). Topics and the PostgreSQL schema are dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_CONFIG = BENCH / "bench.toml"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import run as ingest_bench  # noqa: E402  (bench/run.py: generation, tables)

from slaclock.consumers.kafka_settings import ConsumerSettings  # noqa: E402

CONSUME_MAX_POLL = ConsumerSettings.max_poll_records

TARGET_POSTGRES_EVENTS_PER_S = 15_000
TARGET_SHARE_OF_BARE = 0.50
DEFAULT_BOOTSTRAP = os.environ.get("SLACLOCK_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
DEFAULT_POSTGRES = os.environ.get(
    "SLACLOCK_BENCH_POSTGRES_URL", "postgresql://slaclock@127.0.0.1:55432/slaclock"
)
SAMPLE_EVERY = 0.1  # seconds between looks at RSS and stored offsets


def log(text: str) -> None:
    print(text, flush=True)


# ------------------------------------------------------------------------- Kafka helpers


def admin(bootstrap: str) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=10_000)


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    from kafka.admin import NewTopic

    client = admin(bootstrap)
    try:
        client.create_topics([NewTopic(name, partitions, 1)], timeout_ms=30_000)
    finally:
        client.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the metadata shows every partition
        if len(end_offsets(bootstrap, name)) == partitions:
            return
        time.sleep(0.2)
    raise RuntimeError(f"topic {name} did not get {partitions} partitions")


def delete_topics(bootstrap: str, names: list[str]) -> None:
    client = admin(bootstrap)
    try:
        client.delete_topics(names, timeout_ms=30_000)
    except Exception as exc:  # unknown topic, timeout: only cleanup
        log(f"  note: deleting topics {names}: {exc}")
    finally:
        client.close()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """partition -> end offset (no partitions yet: empty)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, bootstrap_timeout_ms=10_000)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        ends = consumer.end_offsets(tps) if tps else {}
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        consumer.close()


def broker_version(bootstrap: str) -> str:
    """The broker's version from its jars (services/kafka/pom.xml), else the API version."""
    libs = ROOT / "var" / "kafka" / "libs"
    jars = sorted(libs.glob("kafka_2.13-*.jar")) if libs.is_dir() else []
    if jars:
        return jars[0].stem.removeprefix("kafka_2.13-")
    try:
        client = admin(bootstrap)
        try:
            return "API " + ".".join(map(str, client._client.check_version()))
        finally:
            client.close()
    except Exception:
        return "unknown"


# ------------------------------------------------------------------------- stores


@dataclass
class Store:
    """A fresh store for one ``consume`` run, and plain-SQL looks into it."""

    kind: str  # sqlite | postgres
    url: str
    schema: str | None = None
    base_url: str | None = None
    file: Path | None = None

    @classmethod
    def sqlite(cls, path: Path) -> Store:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return cls("sqlite", f"sqlite:///{path}", file=path)

    @classmethod
    def postgres(cls, base_url: str, schema: str) -> Store:
        import psycopg

        with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_analytics" CASCADE')  # its views
            conn.execute(f'CREATE SCHEMA "{schema}"')
        return cls("postgres", f"{base_url}?schema={schema}", schema, base_url)

    @property
    def path(self) -> str:
        return str(self.file)

    def drop(self) -> None:
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(self.base_url or "", autocommit=True, connect_timeout=5) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def size_mb(self) -> float:
        if self.kind == "sqlite":
            return (
                sum(
                    Path(f"{self.path}{s}").stat().st_size
                    for s in ("", "-wal")
                    if Path(f"{self.path}{s}").exists()
                )
                / 1e6
            )
        rows = self.sql(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            [self.schema],
        )
        return float(rows[0][0]) / 1e6 if rows else 0.0

    def sql(self, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of ``statement`` (``{s}`` = the schema prefix); [] if a table is missing."""
        if self.kind == "sqlite":
            import sqlite3

            if not Path(self.path).exists():
                return []
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            try:
                return conn.execute(statement.format(s=""), params or []).fetchall()
            except sqlite3.OperationalError:  # not created yet
                return []
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.base_url or "", autocommit=True, connect_timeout=5) as conn:
            try:
                statement = statement.format(s=f'"{self.schema}".')
                return list(conn.execute(statement, params or []).fetchall())
            except psycopg.errors.UndefinedTable:
                return []

    def tracker(self) -> Callable[[], dict[str, int]]:
        """A cheap repeated look at the stored offsets (tracking name -> next offset)."""
        if self.kind == "sqlite":
            query = "SELECT application_name, notification_id FROM tracking"
            return lambda: dict(self.sql(query))  # type: ignore[arg-type]
        import psycopg

        conn = psycopg.connect(self.base_url or "", autocommit=True, connect_timeout=5)
        table = f'"{self.schema}".notification_tracking'

        def look() -> dict[str, int]:
            if conn.closed:
                return {}
            try:
                exists = conn.execute("SELECT to_regclass(%s)", [table]).fetchone()
                if not exists or exists[0] is None:
                    return {}
                rows = conn.execute(f"SELECT application_name, notification_id FROM {table}")
                return dict(rows.fetchall())
            except psycopg.Error:
                return {}

        look.close = conn.close  # type: ignore[attr-defined]
        return look

    def counts(self) -> dict[str, int]:
        """Rows that show whether anything was stored twice or lost."""
        events = "stored_events" if self.kind == "sqlite" else "slaclock_events"
        states = self.sql(f"SELECT state FROM {{s}}{events}")
        facts = sum(len(json.loads(bytes(state)).get("facts", [])) for (state,) in states)
        event_ids = self.sql("SELECT COUNT(*) FROM {s}sla_event_ids")
        tickets = self.sql("SELECT COUNT(*) FROM {s}sla_tickets")
        return {
            "accepted_events": facts,
            "event_ids": event_ids[0][0] if event_ids else 0,
            "tickets": tickets[0][0] if tickets else 0,
        }


# ------------------------------------------------------------------------- CPU of others


def tree_rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` plus its child processes (the consumer's decoding
    process), from ``/proc``. Sampled while it runs: ``ru_maxrss`` from ``wait4`` is no good
    here, because Linux carries the peak of the memory a child was spawned from (this
    benchmark, which has held a million events by then) over its ``exec``."""
    own = ingest_bench._rss_mb(pid)
    if own is None:
        return None
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return own + sum(ingest_bench._rss_mb(int(c)) or 0.0 for c in children)


def _proc_cpu(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (0 if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def broker_pid() -> int | None:
    try:
        return int((ROOT / "var" / "kafka" / "kafka.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class OtherCpu:
    """CPU seconds the broker and PostgreSQL (all ``postgres`` processes) spend meanwhile."""

    def __init__(self) -> None:
        self.broker = broker_pid()
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        postgres = sum(_proc_cpu(pid) for pid in _pids_named("postgres"))
        return {"broker": _proc_cpu(self.broker) if self.broker else 0.0, "postgres": postgres}

    def since(self) -> dict[str, float]:
        now = self._now()
        return {k: now[k] - self.start[k] for k in now}


# ------------------------------------------------------------------------- measured runs


@dataclass
class Measured:
    """One measured subprocess: the bare loop or one ``slaclock consume``."""

    name: str
    argv: list[str]
    events: int
    returncode: int = 0
    exited: float = 0.0  # seconds from spawn to exit
    done: float | None = None  # seconds from spawn until every event was decoded / stored
    stream: tuple[float, int] | None = None  # (seconds from spawn, events done) at first sight
    cpu: float = 0.0
    peak_rss_mb: float = 0.0
    rss_samples: list[tuple[float, float]] = field(default_factory=list)
    load: tuple[float, float] = (0.0, 0.0)
    others_cpu: dict[str, float] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def observe(self, done: int, since: float, others: OtherCpu, load_before: float) -> None:
        """One look at the progress (``done`` events of ``events``, ``since`` = the spawn):
        notes the first progress seen and, once all are done, the time, the CPU the broker and
        PostgreSQL spent meanwhile and the load."""
        if done > 0 and self.stream is None:
            self.stream = (time.monotonic() - since, done)
        if done >= self.events and self.done is None:
            self.done = time.monotonic() - since
            self.others_cpu = others.since()
            self.load = (load_before, os.getloadavg()[0])

    @property
    def events_per_s(self) -> float:
        return self.events / self.done if self.done else 0.0

    @property
    def streaming_per_s(self) -> float:
        if not self.done or self.stream is None or self.done <= self.stream[0]:
            return 0.0
        return (self.events - self.stream[1]) / (self.done - self.stream[0])

    def rss_course(self, parts: int = 4) -> list[float]:
        if not self.rss_samples:
            return []
        end = self.done or self.exited
        out = []
        for k in range(1, parts + 1):
            before = [mb for t, mb in self.rss_samples if t <= end * k / parts]
            out.append(before[-1] if before else self.rss_samples[0][1])
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "wall_s": round(self.done, 2) if self.done else None,
            "exited_s": round(self.exited, 2),
            "events_per_s": round(self.events_per_s),
            "streaming_events_per_s": round(self.streaming_per_s),
            "cpu_s": round(self.cpu, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "rss_course_mb": [round(x, 1) for x in self.rss_course()],
            "load_avg_1m": [round(x, 2) for x in self.load],
            "others_cpu_s": {k: round(v, 2) for k, v in self.others_cpu.items()},
            "counts": self.counts,
            "problems": self.problems,
            **self.extra,
        }


def measure(
    name: str,
    argv: list[str],
    events: int,
    log_path: Path,
    progress: Callable[[], int] | None = None,
    timeout: float = 3600.0,
) -> Measured:
    """Run ``argv``; wall time until ``progress()`` reaches ``events`` (or the process exits),
    CPU time of that child (and its decoding process), peak RSS of both together."""
    m = Measured(name, argv, events)
    load_before = os.getloadavg()[0]
    others = OtherCpu()
    out_path, err_path = log_path.with_suffix(".out"), log_path.with_suffix(".err")
    with out_path.open("w") as out, err_path.open("w") as err:
        began = time.monotonic()
        proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=_env()
        )
        finished = threading.Event()

        def sample() -> None:
            while not finished.is_set():
                now = time.monotonic() - began
                mb = tree_rss_mb(proc.pid)
                if mb is not None:
                    m.rss_samples.append((now, mb))
                    m.peak_rss_mb = max(m.peak_rss_mb, mb)
                if progress is not None and m.done is None:
                    try:
                        done = progress()
                    except Exception as exc:  # a look into the store failed: try again
                        if not m.problems:
                            m.problems.append(f"looking at the store failed: {exc!r}")
                        done = 0
                    m.observe(done, began, others, load_before)
                if now > timeout:
                    proc.kill()
                finished.wait(SAMPLE_EVERY)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        m.exited = time.monotonic() - began
        finished.set()
        sampler.join()
        proc.returncode = m.returncode = os.waitstatus_to_exitcode(status)
    if not m.others_cpu:
        m.others_cpu = others.since()
        m.load = (load_before, os.getloadavg()[0])
    m.cpu = usage.ru_utime + usage.ru_stime  # with the decoding process (waited for)
    m.stdout = out_path.read_text()
    m.stderr = err_path.read_text()
    if m.returncode != 0:
        m.problems.append(f"exited {m.returncode}: {m.stderr.strip()[-600:]}")
    return m


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# ------------------------------------------------------------------------- (a) bare loop


def bare_loop(topic: str, bootstrap: str, group: str, expect: int, max_poll: int) -> int:
    """Read and Avro-decode ``expect`` messages of ``topic``; prints timestamps as JSON.

    Runs in the measured subprocess (``--bare-loop``). Same consumer settings as ``slaclock
    consume`` (group, read_committed, max_poll_records); the same decoder; nothing else."""
    began = time.monotonic()
    from kafka import KafkaConsumer

    from slaclock.consumers.kafka_batches import source_of
    from slaclock.consumers.kafka_settings import ConsumerSettings
    from slaclock.consumers.kafka_wire import WireDecoder

    settings = ConsumerSettings(
        topic=topic,
        group=group,
        client_config={"bootstrap_servers": [bootstrap], "client_id": "slaclock-bench-bare"},
        max_poll_records=max_poll,
    )
    consumer = KafkaConsumer(**settings.consumer_config())
    consumer.subscribe([topic])
    decoder = WireDecoder()
    decode = decoder.decode
    read = errors = 0
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + 3600
    while read < expect and time.monotonic() < deadline:
        records = consumer.poll(timeout_ms=1000, max_records=max_poll)
        for tp in sorted(records):
            for record in records[tp]:
                raw = decode(record.value, source_of(record.topic, record.partition, record.offset))
                if raw.error is not None:
                    errors += 1
            read += len(records[tp])
        if first is None and read:
            first = (time.monotonic(), read)
    done = time.monotonic()
    consumer.close(autocommit=False)
    print(
        json.dumps(
            {"began": began, "first": first, "done": done, "read": read, "decode_errors": errors}
        )
    )
    return 0 if read >= expect else 1


def run_bare(
    topic: str, bootstrap: str, total: int, max_poll: int, out_dir: Path, tag: str
) -> Measured:
    argv = [sys.executable, str(Path(__file__).resolve()), "--bare-loop", "--topic", topic]
    argv += ["--bootstrap-servers", bootstrap, "--group", f"bench-bare-{tag}"]
    argv += ["--expect", str(total), "--max-poll-records", str(max_poll)]
    spawned = time.monotonic()
    m = measure("bare loop", argv, total, out_dir / f"kafka-bare-{tag}")
    if m.returncode == 0 and m.stdout.strip():
        data = json.loads(m.stdout.strip().splitlines()[-1])
        m.done = data["done"] - spawned
        if data["first"]:
            m.stream = (data["first"][0] - spawned, data["first"][1])
        m.counts = {"read": data["read"], "decode_errors": data["decode_errors"]}
        if data["read"] != total:
            m.problems.append(f"read {data['read']} of {total} messages")
        if data["decode_errors"]:
            m.problems.append(f"{data['decode_errors']} messages failed to decode")
    return m


# ------------------------------------------------------------------------- (b), (c) consume


def consume_argv(
    config: Path, store: Store, topic: str, group: str, args: argparse.Namespace, dlq: str
) -> list[str]:
    argv = [sys.executable, "-m", "slaclock", "--config", str(config), "--store", store.url]
    argv += ["consume", "--bootstrap-servers", args.bootstrap_servers, "--topic", topic]
    argv += ["--group", group, "--dead-letter-topic", dlq, "--clock", args.clock]
    argv += ["--max-poll-records", str(args.max_poll_records)]
    argv += ["--exit-when-idle", str(args.exit_when_idle), "--json"]
    return argv


def consume_setup(
    store: Store,
    topic: str,
    ends: dict[int, int],
    config: Path,
    args: argparse.Namespace,
    group: str,
    dlq: str,
) -> tuple[int, list[str], dict[str, int], Callable[[], dict[str, int]]]:
    """What a measured consume needs: the message total, its command line (with a fresh
    dead-letter topic), the tracking names of the partitions, a look at stored offsets."""
    from slaclock.consumers.partitions import tracking_name

    create_topic(args.bootstrap_servers, dlq, 1)
    argv = consume_argv(config, store, topic, group, args, dlq)
    names = {tracking_name(topic, p): p for p in ends}
    return sum(ends.values()), argv, names, store.tracker()


@dataclass
class TopicRun:
    """What every measured consume of one published topic shares."""

    topic: str
    ends: dict[int, int]  # partition -> end offset
    expected: dict[str, int] | None  # the generator's counts, if every event was published
    config: Path
    args: argparse.Namespace
    out_dir: Path
    tag: str

    def fields(
        self,
    ) -> tuple[str, dict[int, int], dict[str, int] | None, Path, argparse.Namespace, Path, str]:
        """The fields in order, for unpacking."""
        return (
            self.topic,
            self.ends,
            self.expected,
            self.config,
            self.args,
            self.out_dir,
            self.tag,
        )


def run_consume(name: str, store: Store, topic_run: TopicRun) -> Measured:
    topic, ends, expected, config, args, out_dir, tag = topic_run.fields()
    dlq = f"{topic}.dlq-{store.kind}"
    total, argv, names, look = consume_setup(
        store, topic, ends, config, args, f"bench-{store.kind}-{tag}", dlq
    )

    def progress() -> int:
        stored = look()
        return sum(v for k, v in stored.items() if k in names)

    try:
        m = measure(name, argv, total, out_dir / f"kafka-consume-{store.kind}-{tag}", progress)
    finally:
        close = getattr(look, "close", None)
        if close:
            close()
    m.extra["store"] = store.kind
    if m.done is None:
        m.problems.append("the stored offsets never reached the end of the topic")
    if m.returncode != 0 or not m.stdout.strip():
        return m
    counts = json.loads(m.stdout)
    m.counts = counts
    total_counted = counts["accepted"] + counts["duplicates"] + counts["rejected"]
    if counts["read"] != total:
        m.problems.append(f"read {counts['read']} != {total} messages on the topic")
    if counts["read"] != total_counted:
        m.problems.append(f"read {counts['read']} != accepted + duplicates + rejected")
    if expected is not None:
        for key, want in expected.items():
            if counts.get(key) != want:
                m.problems.append(f"{key}: {counts.get(key)}, the generator expects {want}")
    m.extra["store_mb"] = round(store.size_mb(), 1)
    check_store(m, store, names, ends, counts["accepted"])
    want_dead = counts["rejected"] + counts.get("voided", 0)
    if counts.get("dead_lettered") != want_dead:
        m.problems.append(f"dead-lettered {counts.get('dead_lettered')} != rejected + voided")
    on_dlq = sum(end_offsets(args.bootstrap_servers, dlq).values())
    m.extra["dead_letter_topic_messages"] = on_dlq
    if on_dlq != want_dead:
        m.problems.append(f"dead-letter topic holds {on_dlq}, rejected + voided = {want_dead}")
    if m.done is not None:
        m.extra["idle_wait_s"] = round(m.exited - m.done, 2)
    return m


def run_group(name: str, store: Store, topic_run: TopicRun) -> Measured:
    """N ``slaclock consume`` processes in one group (the way slaclock scales out): wall
    time until the stored offsets reach the end of every partition, CPU and counts summed
    over the processes, peak RSS of the largest (with its decoding process)."""
    topic, ends, expected, config, args, out_dir, tag = topic_run.fields()
    dlq = f"{topic}.dlq-{store.kind}-group"
    total, argv, names, look = consume_setup(
        store, topic, ends, config, args, f"bench-group-{tag}", dlq
    )
    m = Measured(name, argv, total)
    load_before = os.getloadavg()[0]
    others = OtherCpu()
    logs = [out_dir / f"kafka-group-{tag}-{i}" for i in range(args.group_consumers)]
    began = time.monotonic()
    procs = []
    for path in logs:
        out, err = path.with_suffix(".out").open("w"), path.with_suffix(".err").open("w")
        procs.append(
            subprocess.Popen(
                argv, cwd=ROOT, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=_env()
            )
        )
    finished = threading.Event()

    def sample() -> None:
        while not finished.is_set() and m.done is None:
            for proc in procs:
                m.peak_rss_mb = max(m.peak_rss_mb, tree_rss_mb(proc.pid) or 0.0)
            try:
                done = sum(v for k, v in look().items() if k in names)
            except Exception:  # the schema is not there yet: look again
                done = 0
            m.observe(done, began, others, load_before)
            finished.wait(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    counts: dict[str, int] = {}
    for proc, path in zip(procs, logs, strict=True):
        _, status, usage = os.wait4(proc.pid, 0)
        m.cpu += usage.ru_utime + usage.ru_stime
        code = os.waitstatus_to_exitcode(status)
        m.returncode = m.returncode or code
        text = path.with_suffix(".out").read_text().strip()
        if code != 0 or not text:
            m.problems.append(f"{path.name}: exited {code}")
            continue
        for key, value in json.loads(text).items():
            counts[key] = counts.get(key, 0) + value
    m.exited = time.monotonic() - began
    finished.set()
    sampler.join()
    close = getattr(look, "close", None)
    if close:
        close()
    if not m.others_cpu:
        m.others_cpu = others.since()
        m.load = (load_before, os.getloadavg()[0])
    m.counts = counts
    if m.done is None:
        m.problems.append("the stored offsets never reached the end of the topic")
    # Messages read before a rebalance moved their partition are read again by the new
    # owner, so ``read`` may exceed the topic; each event is accepted exactly once.
    if expected is not None and counts.get("accepted") != expected.get("accepted"):
        m.problems.append(f"accepted {counts.get('accepted')}, expected {expected['accepted']}")
    check_store(m, store, names, ends, counts.get("accepted", 0))
    return m


def check_store(
    m: Measured, store: Store, names: dict[str, int], ends: dict[int, int], accepted: int
) -> None:
    """Nothing lost, nothing twice: every accepted event recorded once in the event store and
    once as an event id, and the stored offsets at the end of every partition."""
    stored = store.counts()
    m.extra["stored"] = stored
    if stored["accepted_events"] != accepted:
        m.problems.append(
            f"store holds {stored['accepted_events']} recorded facts, accepted {accepted}"
        )
    if stored["event_ids"] != accepted:
        m.problems.append(f"store holds {stored['event_ids']} event ids, {accepted} accepted")
    offsets = {names[k]: v for k, v in look_once(store).items() if k in names}
    if offsets != ends:
        m.problems.append(f"stored offsets {offsets} != end offsets {ends}")


def look_once(store: Store) -> dict[str, int]:
    look = store.tracker()
    try:
        return look()
    finally:
        close = getattr(look, "close", None)
        if close:
            close()


# ------------------------------------------------------------------------- publish


def publish(path: Path, topic: str, bootstrap: str) -> tuple[dict[str, int], float]:
    """``slaclock publish`` in this process: (counts, seconds)."""
    from slaclock.consumers.kafka_publish import publish_files

    began = time.perf_counter()
    stats = publish_files([str(path)], topic, {"bootstrap_servers": [bootstrap]}, fmt="avro")
    return stats.as_dict(), time.perf_counter() - began


@dataclass
class Published:
    topic: str
    counts: dict[str, int]
    seconds: float
    ends: dict[int, int]  # partition -> end offset
    broker_cpu: float = 0.0  # CPU seconds of the broker while publishing

    @property
    def messages(self) -> int:
        return sum(self.ends.values())


def fresh_topic(args: argparse.Namespace, path: Path, events: int, tag: str) -> Published:
    """A new topic with ``args.partitions`` partitions holding the events of ``path``."""
    topic = f"bench-kafka-{events}-{tag}"
    create_topic(args.bootstrap_servers, topic, args.partitions)
    others = OtherCpu()
    counts, took = publish(path, topic, args.bootstrap_servers)
    broker_cpu = others.since()["broker"]
    ends = end_offsets(args.bootstrap_servers, topic)
    return Published(topic, counts, took, ends, broker_cpu)


# ------------------------------------------------------------------------- profile


def profile(
    args: argparse.Namespace, config: Path, out_dir: Path, topics: list[str], top: int = 12
) -> str:
    """cProfile of ``slaclock consume`` of ``args.profile`` events into a fresh store."""
    import pstats
    from io import StringIO

    n = args.profile
    path, _ = ingest_bench.generate(n, args.seed, "avro", config, out_dir)
    tag = uuid.uuid4().hex[:8]
    pub = fresh_topic(args, path, n, f"prof-{tag}")
    topic = pub.topic
    topics += [topic, f"{topic}.dlq-{args.profile_store}"]
    if args.profile_store == "postgres":
        store = Store.postgres(args.postgres, f"bench_kafka_prof_{tag}")
    else:
        store = Store.sqlite(out_dir / f"kafka-profile-{n}.db")
    prof = out_dir / f"kafka-consume-{n}-{args.profile_store}.prof"
    dlq = f"{topic}.dlq-{args.profile_store}"
    create_topic(args.bootstrap_servers, dlq, 1)
    profiled = argparse.Namespace(**{**vars(args), "exit_when_idle": args.profile_idle})
    argv = consume_argv(config, store, topic, f"bench-prof-{tag}", profiled, dlq)
    argv[1:3] = ["-m", "cProfile", "-o", str(prof), "-m", "slaclock"]
    began = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if not args.keep:
        store.drop()
    if proc.returncode != 0:
        return f"profiled consume failed ({proc.returncode}): {proc.stderr[-600:]}"
    counts = json.loads(proc.stdout)
    text = StringIO()
    stats = pstats.Stats(str(prof), stream=text)
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in text.getvalue().splitlines() if line.strip()]
    stdlib = str(Path(os.__file__).parent) + "/"
    site = str(Path(stdlib) / "site-packages") + "/"
    venv_site = next((p for p in sys.path if p.endswith("site-packages")), "") + "/"
    lines = [
        line.replace(str(ROOT) + "/", "")
        .replace(venv_site, "")
        .replace(site, "")
        .replace(stdlib, "")
        for line in lines
    ]
    keep = [line for line in lines if not line.startswith(str(prof))]
    keep += ["", "where the time goes (cumulative seconds, main thread):"]
    keep += [f"  {line}" for line in phases(stats)]
    head = (
        f"(cProfile of slaclock consume of {pub.messages:,} messages into "
        f"{args.profile_store}, --exit-when-idle {args.profile_idle}: {elapsed:.1f} s "
        f"under the profiler incl. the idle wait; read {counts['read']:,}, published "
        f"{pub.counts['published']:,}; main thread only; {prof.relative_to(ROOT)})"
    )
    return head + "\n" + "\n".join(keep)


PHASES = (
    ("whole consume loop", "consumers/kafka_consumer.py", "run"),
    ("  Kafka poll (fetch, CRC, idle wait)", "kafka/consumer/group.py", "poll"),
    ("  one batch (_process)", "consumers/kafka_consumer.py", "_process"),
    ("    decode (WireDecoder.decode)", "consumers/kafka_wire.py", "decode"),
    ("    ingest (Ingestor.process)", "consumers/ingest.py", "process"),
    ("      duplicates lookup (known_event_ids)", "projections/store.py", "known_event_ids"),
    ("      ticket load (get_tickets)", "projections/store.py", "get_tickets"),
    ("      alerts (_alerts)", "consumers/ingest.py", "_alerts"),
    ("      store.save (one transaction)", "projections/store.py", "save"),
    ("        read-model rows (Batch.write)", "projections/store.py", "write"),
    ("    dead letters (flush)", "consumers/dead_letter.py", "flush"),
)


def phases(stats: Any) -> list[str]:
    """Cumulative time of the consume loop's parts, from a ``pstats.Stats``."""
    found: dict[tuple[str, str], float] = {}
    for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():
        for _, path, name in PHASES:
            if function == name and filename.endswith(path):
                found[(path, name)] = max(found.get((path, name), 0.0), cumulative)
    total = found.get((PHASES[0][1], PHASES[0][2]), 0.0)
    out = []
    for label, path, name in PHASES:
        if (path, name) in found:
            value = found[(path, name)]
            share = f"{value / total:5.1%}" if total else ""
            out.append(f"{label:<44} {value:7.2f} s  {share}")
    return out


# ------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--out-dir", type=Path, default=BENCH / "out")
    parser.add_argument("--bootstrap-servers", default=DEFAULT_BOOTSTRAP)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="base URL (a fresh schema)")
    parser.add_argument(
        "--max-poll-records", type=int, default=CONSUME_MAX_POLL, help="consume's default"
    )
    parser.add_argument("--exit-when-idle", type=float, default=3.0, metavar="SECONDS")
    parser.add_argument(
        "--clock",
        choices=("event", "wall"),
        default="event",
        help="consume --clock: the stream is historical, so its own event time (a backfill)",
    )
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument(
        "--group-consumers",
        type=int,
        default=2,
        metavar="N",
        help="also N consumers in one group into PostgreSQL (scale-out; 0: skip)",
    )
    parser.add_argument("--profile", type=int, metavar="N", help="also cProfile consume of N")
    parser.add_argument("--profile-store", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument(
        "--profile-idle",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="--exit-when-idle of the profiled consume (its wait shows up in the profile)",
    )
    parser.add_argument("--only-profile", action="store_true", help="skip the measured runs")
    parser.add_argument("--keep", action="store_true", help="keep topics and the PG schemas")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write all figures here")
    # The measured bare loop runs as this script in a subprocess:
    parser.add_argument("--bare-loop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_loop:
        return bare_loop(
            args.topic, args.bootstrap_servers, args.group, args.expect, args.max_poll_records
        )

    config = args.config.resolve()
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    stores = [s for s in args.stores.split(",") if s]
    log(
        f"slaclock kafka bench: {args.events:,} events, {args.partitions} partitions, seed "
        f"{args.seed}, {os.cpu_count()} CPUs, Python {platform.python_version()}, Kafka "
        f"{broker_version(args.bootstrap_servers)} at {args.bootstrap_servers}, "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}\n"
        f"code: {ingest_bench.describe_code()}\n"
        f"consume options: --clock {args.clock} --max-poll-records {args.max_poll_records} "
        f"--exit-when-idle {args.exit_when_idle} --dead-letter-topic TOPIC.dlq-STORE"
    )
    summary: dict[str, Any] = {
        "events": args.events,
        "partitions": args.partitions,
        "seed": args.seed,
        "code": ingest_bench.describe_code(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kafka": broker_version(args.bootstrap_servers),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": {},
    }
    topics: list[str] = []
    schemas: list[Store] = []
    failed = False
    rows: list[list[str]] = []
    try:
        if not args.only_profile:
            failed = measured_runs(args, config, out_dir, stores, summary, rows, topics, schemas)
        print()
        if rows:
            ingest_bench.print_table(rows, ["measure", "measured", "target", "verdict"])
        if args.profile:
            print(flush=True)
            text = profile(args, config, out_dir, topics)
            summary["profile"] = text
            print(text, flush=True)
    finally:
        if not args.keep:
            for store in schemas:
                store.drop()
            if topics:
                delete_topics(args.bootstrap_servers, topics)
    code_now = ingest_bench.describe_code()
    if code_now != summary["code"]:
        log(f"WARNING: the code under test changed during the run: now {code_now}")
        summary["code_at_end"] = code_now
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if failed else 0


def measured_runs(
    args: argparse.Namespace,
    config: Path,
    out_dir: Path,
    stores: list[str],
    summary: dict[str, Any],
    rows: list[list[str]],
    topics: list[str],
    schemas: list[Store],
) -> bool:
    n = args.events
    path, took = ingest_bench.generate(n, args.seed, "avro", config, out_dir)
    log(
        f"  {path.name}: {path.stat().st_size / 1e6:.1f} MB"
        + (f" (generated in {took:.1f} s)" if took else " (reused)")
    )
    meta = json.loads(Path(f"{path}.expected.json").read_text())
    tag = uuid.uuid4().hex[:8]
    published = fresh_topic(args, path, n, tag)
    topic, pub, pub_s, ends = published.topic, published.counts, published.seconds, published.ends
    topics.append(topic)
    total = published.messages
    log(
        f"  published to {topic}: {pub} in {pub_s:.1f} s ({pub['published'] / pub_s:,.0f}/s); "
        f"end offsets {ends} = {total:,} messages"
    )
    summary["topic"] = topic
    summary["publish"] = {
        **pub,
        "seconds": round(pub_s, 2),
        "broker_cpu_s": round(published.broker_cpu, 1),
        "end_offsets": ends,
    }
    # The generator's counts hold only if every event made it onto the topic.
    expected = meta["ingest"] if pub["published"] == n == total else None
    if expected is None:
        log(f"  note: {total:,} messages for {n:,} events: generator counts not compared")

    failed = False
    results: dict[str, Measured] = {}
    topic_run = TopicRun(topic, ends, expected, config, args, out_dir, tag)
    bare = run_bare(topic, args.bootstrap_servers, total, args.max_poll_records, out_dir, tag)
    results["bare"] = bare
    report_run(bare)
    for kind in stores:
        if kind == "sqlite":
            store = Store.sqlite(out_dir / f"kafka-store-{n}.db")
        else:
            store = Store.postgres(args.postgres, f"bench_kafka_{n}_{tag}")
            schemas.append(store)
        topics.append(f"{topic}.dlq-{kind}")
        m = run_consume(f"consume -> {kind}", store, topic_run)
        results[kind] = m
        report_run(m)
    if "postgres" in stores and args.group_consumers > 1:
        store = Store.postgres(args.postgres, f"bench_kafka_{n}_{tag}_group")
        schemas.append(store)
        topics.append(f"{topic}.dlq-{store.kind}-group")
        key = f"{args.group_consumers} consumers -> postgres"
        m = run_group(key, store, topic_run)
        results[key] = m
        report_run(m)
    for key, m in results.items():
        summary["runs"][key] = m.as_json()
        failed |= m.returncode != 0

    rows.append(
        [
            f"publish {n:,} Avro events ({args.partitions} partitions)",
            f"{pub['published'] / pub_s:,.0f} events/s ({pub_s:.1f} s, broker "
            f"{published.broker_cpu:.1f} s CPU), {total:,} messages",
            "(no target)",
            "",
        ]
    )
    for key, m in results.items():
        label = "bare loop (poll + decode)" if key == "bare" else f"consume -> {key}"
        if "consumers" in key:
            label = f"consume, {key} (one group)"
        if m.done is None:
            rows.append([f"{label} events/s", "failed", "", "MISS"])
            continue
        target, ok = "(no target)", None
        if key.endswith("postgres"):
            target = f">= {TARGET_POSTGRES_EVENTS_PER_S:,} events/s"
            ok = m.events_per_s >= TARGET_POSTGRES_EVENTS_PER_S
        rows.append(
            [
                f"{label} {total:,} events",
                f"{m.events_per_s:,.0f} events/s ({m.done:.1f} s wall; streaming "
                f"{m.streaming_per_s:,.0f}/s)",
                target,
                "" if ok is None else ingest_bench.verdict(ok),
            ]
        )
        per_cpu = total / m.cpu if m.cpu else 0.0
        others = ", ".join(f"{k} {v:.1f} s" for k, v in m.others_cpu.items())
        rows.append(
            [
                f"{label} CPU",
                f"{m.cpu:.1f} s ({per_cpu:,.0f} events/CPU-s); meanwhile {others}; load "
                f"{m.load[0]:.1f} -> {m.load[1]:.1f}",
                "",
                "",
            ]
        )
        course = " / ".join(f"{mb:,.0f}" for mb in m.rss_course())
        peak = f"{m.peak_rss_mb:,.0f} MB" + (f" (25/50/75/100 %: {course})" if course else "")
        rows.append([f"{label} peak RSS", peak, "", ""])
        if key != "bare":
            share = m.events_per_s / bare.events_per_s if bare.events_per_s else 0.0
            rows.append(
                [
                    f"{label} / bare loop",
                    f"{share:.0%} (streaming {m.streaming_per_s / bare.streaming_per_s:.0%})"
                    if bare.streaming_per_s
                    else f"{share:.0%}",
                    f">= {TARGET_SHARE_OF_BARE:.0%}",
                    ingest_bench.verdict(share >= TARGET_SHARE_OF_BARE),
                ]
            )
            stored = m.extra.get("stored", {})
            rows.append(
                [
                    f"{label} counts",
                    "as expected"
                    + (
                        f" ({m.counts.get('accepted', 0):,} accepted = "
                        f"{stored.get('accepted_events', 0):,} stored)"
                        if stored
                        else ""
                    )
                    if not m.problems
                    else "; ".join(m.problems),
                    "read = accepted + dup. + rejected; stored = accepted",
                    ingest_bench.verdict(not m.problems),
                ]
            )
        elif m.problems:
            rows.append(["bare loop", "; ".join(m.problems), "all read", "MISS"])
    return failed


def report_run(m: Measured) -> None:
    done = f"{m.done:.1f} s" if m.done is not None else "never done"
    log(
        f"    {m.name}: {done} ({m.events_per_s:,.0f} events/s, streaming "
        f"{m.streaming_per_s:,.0f}/s), exit after {m.exited:.1f} s, {m.cpu:.1f} s CPU, peak "
        f"{m.peak_rss_mb:.0f} MB, counts {m.counts}"
    )
    for problem in m.problems:
        log(f"    ANOMALY: {problem}")


if __name__ == "__main__":
    sys.exit(main())
