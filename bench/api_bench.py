"""HTTP API load benchmark: latency per route at a fixed request rate, PASS or MISS.

    python bench/api_bench.py                                  # 1,000,000 events (long)
    python bench/api_bench.py --events 20000 --seconds 5       # a quick look
    python bench/api_bench.py --profile                        # also py-spy the server

Steps:

* generates N events with ``bench/generate.py`` (JSON Lines, reused from ``bench/out/`` when
  the generator's inputs are unchanged, like ``bench/run.py``) and ingests them with
  ``slaclock ingest --clock event`` into ``bench/out/api-store-N-sS.db`` (kept and reused
  while the events file and the configuration are unchanged; ``--rebuild`` forces it);
* creates an admin token and a customer token (the customer with the most clock outcomes in
  the report month) with ``slaclock token create`` (revoked again at the end);
* starts ``slaclock serve`` (one uvicorn worker) on a free loopback port as a subprocess;
* measures each request kind alone, one at a time (the service time, no queueing);
* then drives the server **open-loop**: requests are *scheduled* at a fixed rate
  (``--rate``, evenly spaced) whatever the server does, sent over up to ``--clients``
  concurrent keep-alive connections, and each latency is counted from the scheduled instant
  (so a server that falls behind shows its queueing, no coordinated omission). Two mixes, one
  after the other, each at the full rate for ``--seconds``:

  - ``tickets``: ``GET /api/tickets/{id}`` for random existing tickets, ``as_of`` omitted
    (the read-model rows answer) and a share (``--past-share``) with an ``as_of`` between the
    ticket's creation and its last fact (re-evaluated from its events); a quarter of the
    requests with the customer token on that customer's tickets;
  - ``reports``: ``/api/reports/compliance`` and ``/api/reports/credits`` for the busiest
    month (``--month``), with the admin token (all customers) and the customer token.

Per route it prints the achieved rate, p50/p95/p99/max latency and errors, with the targets
(p99 < 50 ms for a ticket, < 200 ms for a month report, at 200 requests/s) marked PASS or MISS,
and the server's CPU use during each mix. ``--profile`` samples the server with py-spy
(``pip install py-spy``; not a project dependency) during each mix and prints where its busy
threads spend their time; sampling costs some CPU, so take the figures from a run without it.
The load generator shares the machine with the server: its own CPU time and how late it
queued requests are printed too. This is a benchmark,
not a test: nothing asserts, and the exit code is 0 whatever the figures (1 only if the store
or the server could not be set up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_CONFIG = BENCH / "bench.toml"
GENERATOR = BENCH / "generate.py"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import run as ingest_bench  # noqa: E402  (bench/run.py: the table helpers)

TARGET_RATE = 200.0  # requests/s
TARGET_TICKET_P99_MS = 50.0
TARGET_REPORT_P99_MS = 200.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------- store


def slaclock(config: Path, store: Path, *args: str) -> list[str]:
    base = [sys.executable, "-m", "slaclock", "--config", str(config)]
    return [*base, "--store", f"sqlite:///{store}", *args]


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:16]


def generate(events: int, seed: int, config: Path, out_dir: Path) -> tuple[Path, float]:
    """The JSON Lines stream of (events, seed): reused when bench/run.py's fingerprint of the
    generator's inputs matches, else generated now. Returns the path and the time taken."""
    path = out_dir / f"events-{events}-s{seed}.jsonl"
    stamp = path.with_name(path.name + ".fingerprint")
    expected = Path(f"{path}.expected.json")
    fingerprint = _digest(
        GENERATOR.read_bytes(), config.read_bytes(), f"{events}/{seed}/jsonl".encode()
    )
    fresh = path.exists() and expected.exists() and stamp.exists()
    if fresh and stamp.read_text().strip() == fingerprint:
        return path, 0.0
    argv = [sys.executable, str(GENERATOR), "--events", str(events), "--seed", str(seed)]
    argv += ["--format", "jsonl", "--out", str(path), "--config", str(config)]
    began = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT)
    stamp.write_text(fingerprint + "\n")
    return path, time.perf_counter() - began


def build_store(
    events_path: Path, config: Path, store: Path, rebuild: bool
) -> tuple[float, dict[str, Any] | None]:
    """The store of ``events_path``, ingested now unless an identical one exists.

    Returns the ingest time (0 when reused) and the ingest's counts (None when reused).
    """
    stamp = store.with_name(store.name + ".fingerprint")
    fingerprint = _digest(
        (events_path.with_name(events_path.name + ".fingerprint")).read_bytes(),
        config.read_bytes(),
    )
    fresh = not rebuild and store.exists() and stamp.exists()
    if fresh and stamp.read_text().strip() == fingerprint:
        return 0.0, None
    stamp.unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    argv = slaclock(config, store, "ingest", str(events_path), "--clock", "event", "--json")
    argv += ["--dead-letter", str(store.with_suffix(".dead.jsonl"))]
    store.with_suffix(".dead.jsonl").unlink(missing_ok=True)
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"ingest exited {done.returncode}: {done.stderr.strip()[-800:]}")
    stamp.write_text(fingerprint + "\n")
    return took, json.loads(done.stdout)


def create_token(config: Path, store: Path, *who: str) -> tuple[str, str]:
    """A new token (and its id) from ``slaclock token create --json``."""
    argv = slaclock(config, store, "token", "create", *who, "--label", "api-bench", "--json")
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    data = json.loads(done.stdout)
    return data["token"], data["token_id"]


def revoke_token(config: Path, store: Path, token_id: str) -> None:
    argv = slaclock(config, store, "token", "revoke", token_id)
    subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)


@dataclass
class Workload:
    """What the requests ask about, read from the store once (read-only)."""

    tickets: list[tuple[str, str, int, int]]  # (ticket_id, customer_id, created_at, last_fact)
    month: str
    customer: str
    customer_tickets: list[tuple[str, str, int, int]]
    ticket_count: int
    clock_count: int
    month_outcomes: int
    customer_outcomes: int
    store_mb: float


def read_workload(store: Path, month: str | None, sample: int, rng: random.Random) -> Workload:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT ticket_id, customer_id, created_at, last_fact_at FROM sla_tickets"
            " WHERE pending = 0 AND created_at IS NOT NULL"
        ).fetchall()
        ticket_count = len(rows)
        clock_count = db.execute("SELECT COUNT(*) FROM sla_clocks").fetchone()[0]
        outcome_month = "strftime('%Y-%m', COALESCE(breach_at, stopped_at), 'unixepoch')"
        outcome = "(breach_at IS NOT NULL OR stopped_at IS NOT NULL)"
        if month is None:
            month = db.execute(
                f"SELECT {outcome_month} AS m FROM sla_clocks WHERE {outcome}"
                " GROUP BY m ORDER BY COUNT(*) DESC, m LIMIT 1"
            ).fetchone()[0]
        per_customer = db.execute(
            f"SELECT customer_id, COUNT(*) FROM sla_clocks WHERE {outcome}"
            f" AND {outcome_month} = ? GROUP BY customer_id ORDER BY 2 DESC, 1 LIMIT 1",
            [month],
        ).fetchone()
        month_outcomes = db.execute(
            f"SELECT COUNT(*) FROM sla_clocks WHERE {outcome} AND {outcome_month} = ?", [month]
        ).fetchone()[0]
    finally:
        db.close()
    customer, customer_outcomes = per_customer
    mine = [r for r in rows if r[1] == customer]
    picked = rng.sample(rows, min(sample, len(rows)))
    return Workload(
        tickets=picked,
        month=month,
        customer=customer,
        customer_tickets=mine,
        ticket_count=ticket_count,
        clock_count=clock_count,
        month_outcomes=month_outcomes,
        customer_outcomes=customer_outcomes,
        store_mb=sum(
            Path(f"{store}{s}").stat().st_size for s in ("", "-wal") if Path(f"{store}{s}").exists()
        )
        / 1e6,
    )


# ------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class Request:
    route: str  # the label results are grouped by
    path: str
    params: tuple[tuple[str, str], ...]
    token: str


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def ticket_requests(
    work: Workload, admin: str, customer: str, past_share: float, n: int, rng: random.Random
) -> list[Request]:
    out = []
    for _ in range(n):
        if work.customer_tickets and rng.random() < 0.25:
            ticket_id, _, created, last = rng.choice(work.customer_tickets)
            token = customer
        else:
            ticket_id, _, created, last = rng.choice(work.tickets)
            token = admin
        if rng.random() < past_share and last > created:
            # Between its creation and its last fact: the rows do not answer then, so the
            # ticket is re-evaluated from its events.
            at = _iso(rng.randrange(created, last))
            out.append(
                Request("ticket as_of past", f"/api/tickets/{ticket_id}", (("as_of", at),), token)
            )
        else:
            out.append(Request("ticket", f"/api/tickets/{ticket_id}", (), token))
    return out


def report_requests(
    work: Workload, admin: str, customer: str, n: int, rng: random.Random
) -> list[Request]:
    kinds = [
        ("compliance admin", "/api/reports/compliance", admin),
        ("compliance customer", "/api/reports/compliance", customer),
        ("credits admin", "/api/reports/credits", admin),
        ("credits customer", "/api/reports/credits", customer),
    ]
    out = []
    for _ in range(n):
        route, path, token = rng.choice(kinds)
        out.append(Request(route, path, (("month", work.month),), token))
    return out


# ------------------------------------------------------------------------- load


@dataclass(slots=True)
class Sample:
    route: str
    status: int | str  # HTTP status, or the kind of failure
    latency: float  # from the scheduled instant to the end of the answer (s)
    service: float  # from the actual send to the end of the answer (s)
    late: float  # how late the load generator queued it, after its scheduled instant (s)
    done: float  # when the answer ended (perf_counter)
    size: int = 0


@dataclass
class Phase:
    name: str
    rate: float
    seconds: float
    requests: int = 0
    scheduled: Counter[str] = field(default_factory=Counter)  # requests per route
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0  # from the first scheduled request to the last answer (or give-up)
    unfinished: int = 0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    server_rss_mb: float = 0.0
    profile: str = ""


class Connection:
    """One keep-alive HTTP/1.1 connection: a minimal client, so that the load generator,
    which shares the CPUs with the server, spends as little as possible per request (about
    a fifth of httpx's CPU time: ~0.3 ms per request here). It sends a GET and reads the
    status and the body (Content-Length or chunked); on any failure the connection is
    closed and reopened."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def get(self, req: Request, timeout: float) -> tuple[int | str, int]:
        """(status, body bytes); status is the kind of failure when there is no answer."""
        try:
            return await asyncio.wait_for(self._get(req), timeout)
        except TimeoutError:
            self.close()
            return "timeout", 0
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            self.close()
            return type(e).__name__, 0

    async def _get(self, req: Request) -> tuple[int, int]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        target = req.path + (f"?{urlencode(req.params)}" if req.params else "")
        self.writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {req.token}\r\n\r\n".encode()
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head[9:12])
        size, chunked, close = 0, False, False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name == "content-length":
                size = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and "close" in value:
                close = True
        if chunked:
            size = 0
            while True:
                chunk = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(chunk + 2)
                size += chunk
                if chunk == 0:
                    break
        else:
            await self.reader.readexactly(size)
        if close:
            self.close()
        return status, size


async def open_loop(
    host: str,
    port: int,
    requests: list[Request],
    rate: float,
    clients: int,
    timeout: float,
    drain: float,
) -> tuple[list[Sample], float, int]:
    """Send ``requests`` at ``rate`` per second, evenly spaced, whatever the answers do.

    A scheduler queues each request at its instant; ``clients`` concurrent clients, each
    with its own keep-alive connection, take them from the queue in order. A request that
    waits for a free client waits as it would in front of the server: its latency counts
    from the scheduled instant. Returns the samples, the wall time from the first scheduled
    request to the last answer (or to giving up), and how many requests were unanswered
    ``drain`` seconds after the last one was due (abandoned; they count as errors).
    """
    samples: list[Sample] = []
    queue: asyncio.Queue[tuple[Request, float, float]] = asyncio.Queue()
    connections = [Connection(host, port) for _ in range(clients)]

    async def client_loop(connection: Connection) -> None:
        while True:
            req, scheduled, queued = await queue.get()
            sent = time.perf_counter()
            status, size = await connection.get(req, timeout)
            done = time.perf_counter()
            late = queued - scheduled
            samples.append(
                Sample(req.route, status, done - scheduled, done - sent, late, done, size)
            )
            queue.task_done()

    workers = [asyncio.create_task(client_loop(c)) for c in connections]
    start = time.perf_counter() + 0.05
    for i, req in enumerate(requests):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((req, scheduled, time.perf_counter()))
    last_due = start + (len(requests) - 1) / rate
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(queue.join(), max(0.01, last_due + drain - time.perf_counter()))
    gave_up = time.perf_counter()
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    for connection in connections:
        connection.close()
    unfinished = len(requests) - len(samples)
    end = gave_up if unfinished else max((s.done for s in samples), default=start)
    return samples, max(end - start, last_due - start), unfinished


async def one_at_a_time(
    host: str, port: int, kinds: dict[str, list[Request]], repeat: int
) -> dict[str, Any]:
    """Each request kind alone, one at a time: the service time without any queueing."""
    out: dict[str, Any] = {}
    connection = Connection(host, port)
    for route, reqs in kinds.items():
        took = []
        statuses: Counter[str] = Counter()
        for req in reqs[:repeat]:
            began = time.perf_counter()
            status, _ = await connection.get(req, 300)
            took.append((time.perf_counter() - began) * 1000)
            statuses[str(status)] += 1
        took.sort()
        out[route] = {
            "n": len(took),
            "p50_ms": percentile(took, 50),
            "max_ms": took[-1] if took else math.nan,
            "statuses": dict(statuses),
        }
    connection.close()
    return out


# ------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_server(config: Path, store: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    argv = slaclock(config, store, "serve", "--host", "127.0.0.1", "--port", str(port))
    with log.open("wb") as err:
        proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"slaclock serve exited {proc.returncode}: {log.read_text()[-800:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("slaclock serve did not become ready in 120 s")


@contextlib.contextmanager
def serving(config: Path, store: Path, log: Path) -> Iterator[Server]:
    """``slaclock serve`` on a free loopback port for the duration of the block."""
    port = free_port()
    proc = start_server(config, store, port, log)
    try:
        yield Server(proc.pid, port)
    finally:
        stop_server(proc)


@dataclass(frozen=True)
class Server:
    pid: int
    port: int


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------- profile


def start_profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling ``pid`` (all threads, native frames off) for ``seconds``."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        return None
    argv = [spy, "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", "200"]
    argv += ["-f", "raw", "-o", str(out), "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _frame_name(frame: str) -> str:
    """``function (path:line)`` as ``function (short path)`` (lines merged)."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0].rstrip(")")
    for prefix in (str(ROOT) + "/", str(Path(os.__file__).parent) + "/"):
        path = path.replace(prefix, "")
    path = path.split("site-packages/", 1)[-1]
    return f"{name} ({path})"


# Leaf frames of a thread that waits (py-spy's idle detection misses some of them).
IDLE_LEAVES = ("select", "wait", "_worker", "sleep", "get", "acquire", "accept", "poll")


def summarize_profile(raw: Path, top: int = 18) -> str:
    """Self and inclusive shares of the busy samples (threads not waiting), top functions."""
    if not raw.exists():
        return "(no profile written)"
    total = idle = 0
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    mine = ("projections/", "domain/", "slaclock/", "consumers/")
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";")]
        leaf = frames[-1].split(" (", 1)[0].rsplit(".", 1)[-1]
        if leaf in IDLE_LEAVES:
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        for name in {f for f in frames if f.split(" (", 1)[-1].startswith(mine)}:
            ours[name] += count
    if not total:
        return "(no busy samples)"
    lines = [f"{total} busy samples ({idle} more of waiting threads left out); self time:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in own.most_common(top)]
    lines += ["inclusive time, slaclock's own functions:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in ours.most_common(top)]
    return "\n".join(lines)


# ------------------------------------------------------------------------- figures


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def route_stats(
    samples: list[Sample], scheduled: Counter[str], wall: float
) -> dict[str, dict[str, Any]]:
    """Figures per route. Latencies are those of the answered requests; a request still
    unanswered when the load generator gave up counts as an error ("unanswered")."""
    by_route: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_route[s.route].append(s)
    out = {}
    for route in sorted(scheduled):
        group = by_route[route]
        ok = [s for s in group if s.status == 200]
        errors = Counter(str(s.status) for s in group if s.status != 200)
        if len(group) < scheduled[route]:
            errors["unanswered"] = scheduled[route] - len(group)
        lat = sorted(s.latency * 1000 for s in group)
        service = sorted(s.service * 1000 for s in group)
        out[route] = {
            "requests": scheduled[route],
            "ok": len(ok),
            "errors": dict(errors),
            "achieved_per_s": len(ok) / wall if wall else 0.0,
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "p99_ms": percentile(lat, 99),
            "max_ms": lat[-1] if lat else math.nan,
            "service_p50_ms": percentile(service, 50),
            "bytes_mean": sum(s.size for s in ok) / len(ok) if ok else 0,
        }
    return out


def _rounded(figures: dict[str, Any]) -> dict[str, Any]:
    """For JSON: floats rounded, NaN (nothing answered) as null."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, float):
            value = None if not math.isfinite(value) else round(value, 2)
        out[key] = value
    return out


verdict = ingest_bench.verdict
print_table = ingest_bench.print_table


def ms(value: float) -> str:
    return f"{value:,.1f}"


machine = ingest_bench.machine
describe_code = ingest_bench.describe_code


def run_phase(
    name: str,
    requests: list[Request],
    args: argparse.Namespace,
    server: Server,
    out_dir: Path,
) -> Phase:
    phase = Phase(name, args.rate, args.seconds, len(requests), Counter(r.route for r in requests))
    profiler = None
    raw = out_dir / f"api-profile-{args.events}-{name}.txt"
    if args.profile:
        raw.unlink(missing_ok=True)
        profiler = start_profiler(server.pid, args.seconds, raw)
        if profiler is None:
            phase.profile = "(py-spy not found: pip install py-spy)"
    cpu_before = proc_cpu(server.pid)
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    load_before = os.getloadavg()[0]
    samples, wall, unfinished = asyncio.run(
        open_loop(
            "127.0.0.1", server.port, requests, args.rate, args.clients, args.timeout, args.drain
        )
    )
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    phase.server_cpu = proc_cpu(server.pid) - cpu_before
    phase.client_cpu = (self_after.ru_utime + self_after.ru_stime) - (
        self_before.ru_utime + self_before.ru_stime
    )
    phase.load = (load_before, os.getloadavg()[0])
    phase.server_rss_mb = proc_rss_mb(server.pid)
    phase.samples, phase.wall, phase.unfinished = samples, wall, unfinished
    if profiler is not None:
        try:
            _, err = profiler.communicate(timeout=args.seconds + 60)
        except subprocess.TimeoutExpired:
            profiler.kill()
            _, err = profiler.communicate()
        phase.profile = summarize_profile(raw)
        if profiler.returncode != 0:
            phase.profile += f"\n(py-spy exited {profiler.returncode}: {err.decode()[-300:]})"
    return phase


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--out-dir", type=Path, default=BENCH / "out")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="requests/s (default 200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="per mix (default 30)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent connections")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument(
        "--drain", type=float, default=30.0, help="wait this long after the last request is due"
    )
    parser.add_argument("--mixes", default="tickets,reports", help="tickets,reports")
    parser.add_argument("--month", help="report month (default: the one with most outcomes)")
    parser.add_argument(
        "--past-share", type=float, default=0.2, help="ticket GETs with an as_of in the past"
    )
    parser.add_argument("--idle-repeat", type=int, default=20, help="unloaded requests per kind")
    parser.add_argument("--rebuild", action="store_true", help="ingest the store again")
    parser.add_argument("--profile", action="store_true", help="py-spy the server under load")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write all figures here")
    args = parser.parse_args(argv)
    config = args.config.resolve()
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    mixes = [m for m in args.mixes.split(",") if m]
    rng = random.Random(args.seed)

    print(
        f"slaclock API bench: {args.events:,} events, seed {args.seed}, {args.rate:g} req/s for "
        f"{args.seconds:g} s per mix, {args.clients} connections, "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}\nmachine: {machine()}, "
        f"load avg {os.getloadavg()[0]:.2f}\ncode: {describe_code()}",
        flush=True,
    )
    events_path, took = generate(args.events, args.seed, config, out_dir)
    print(
        f"  {events_path.name}: {events_path.stat().st_size / 1e6:.1f} MB"
        + (f" (generated in {took:.1f} s)" if took else " (reused)"),
        flush=True,
    )
    store = out_dir / f"api-store-{args.events}-s{args.seed}.db"
    try:
        ingest_s, counts = build_store(events_path, config, store, args.rebuild)
    except RuntimeError as exc:
        print(f"  store: {exc}")
        return 1
    if ingest_s:
        print(
            f"  {store.name}: ingested in {ingest_s:.1f} s "
            f"({args.events / ingest_s:,.0f} events/s), counts {counts}",
            flush=True,
        )
    else:
        print(f"  {store.name}: reused", flush=True)
    work = read_workload(store, args.month, 50_000, rng)
    print(
        f"  store {work.store_mb:.0f} MB: {work.ticket_count:,} tickets, {work.clock_count:,}"
        f" clocks; month {work.month}: {work.month_outcomes:,} clock outcomes (UTC month),"
        f" busiest customer {work.customer}: {work.customer_outcomes:,}",
        flush=True,
    )
    admin, admin_id = create_token(config, store, "--admin")
    mine, mine_id = create_token(config, store, "--customer", work.customer)
    n = int(args.rate * args.seconds)
    phases: list[Phase] = []
    idle: dict[str, Any] = {}
    try:
        idle_kinds: dict[str, list[Request]] = defaultdict(list)
        probe = ticket_requests(work, admin, mine, args.past_share, 2000, random.Random(1))
        probe += report_requests(work, admin, mine, 200, random.Random(2))
        for req in probe:
            idle_kinds[req.route].append(req)
        with serving(config, store, out_dir / f"api-serve-{args.events}-idle.log") as server:
            print(f"  unloaded, one request at a time (pid {server.pid}):", flush=True)
            idle = asyncio.run(
                one_at_a_time("127.0.0.1", server.port, idle_kinds, args.idle_repeat)
            )
            for route, figures in idle.items():
                print(
                    f"    {route:22} p50 {ms(figures['p50_ms'])} ms,"
                    f" max {ms(figures['max_ms'])} ms"
                    f" ({figures['n']} requests, statuses {figures['statuses']})",
                    flush=True,
                )
        for mix in mixes:
            if mix == "tickets":
                reqs = ticket_requests(work, admin, mine, args.past_share, n, rng)
            elif mix == "reports":
                reqs = report_requests(work, admin, mine, n, rng)
            else:
                print(f"  unknown mix {mix!r} (tickets, reports)")
                continue
            # A fresh server per mix: a backlog left by one mix must not slow the next.
            with serving(config, store, out_dir / f"api-serve-{args.events}-{mix}.log") as server:
                warm_up = {"warm-up": reqs[:-21:-1]}
                asyncio.run(one_at_a_time("127.0.0.1", server.port, warm_up, 20))
                print(
                    f"  mix {mix}: {len(reqs):,} requests at {args.rate:g}/s"
                    f" (pid {server.pid}, RSS {proc_rss_mb(server.pid):.0f} MB) ...",
                    flush=True,
                )
                phase = run_phase(mix, reqs, args, server, out_dir)
            phases.append(phase)
            print(
                f"    done in {phase.wall:.1f} s; server CPU {phase.server_cpu:.1f} s"
                f" ({100 * phase.server_cpu / phase.wall:.0f} % of one core), load generator"
                f" CPU {phase.client_cpu:.1f} s, load avg {phase.load[0]:.2f} ->"
                f" {phase.load[1]:.2f}, server RSS {phase.server_rss_mb:.0f} MB",
                flush=True,
            )
    except RuntimeError as exc:
        print(f"  server: {exc}")
        return 1
    finally:
        revoke_token(config, store, admin_id)
        revoke_token(config, store, mine_id)

    rows: list[list[str]] = []
    summary: dict[str, Any] = {
        "events": args.events,
        "seed": args.seed,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "code": describe_code(),
        "rate": args.rate,
        "seconds": args.seconds,
        "clients": args.clients,
        "store": {
            "path": str(store),
            "mb": round(work.store_mb, 1),
            "tickets": work.ticket_count,
            "clocks": work.clock_count,
            "ingest_s": round(ingest_s, 1) if ingest_s else None,
        },
        "month": work.month,
        "customer": work.customer,
        "idle": idle,
        "phases": [],
    }
    for phase in phases:
        stats = route_stats(phase.samples, phase.scheduled, phase.wall)
        everything = [replace(s, route="all") for s in phase.samples]
        total = route_stats(everything, Counter({"all": phase.requests}), phase.wall)["all"]
        lags = sorted(s.late * 1000 for s in phase.samples)
        target = TARGET_REPORT_P99_MS if phase.name == "reports" else TARGET_TICKET_P99_MS
        answered = len(phase.samples)
        for route, st in [*stats.items(), (f"all (offered {phase.rate:g}/s)", total)]:
            errs = sum(st["errors"].values())
            whole = route.startswith("all")
            met = st["p99_ms"] < target and not errs
            if whole:  # the target holds at the target rate, all of it answered
                met = met and phase.rate >= TARGET_RATE
                met = met and st["achieved_per_s"] >= 0.97 * phase.rate
            rows.append(
                [
                    f"{phase.name}: {route}",
                    f"{st['requests']:,}",
                    f"{st['achieved_per_s']:.1f}/s",
                    ms(st["p50_ms"]),
                    ms(st["p95_ms"]),
                    ms(st["p99_ms"]),
                    ms(st["max_ms"]),
                    str(errs) + (f" {st['errors']}" if errs else ""),
                    f"p99 < {target:g} ms" + (f" at {TARGET_RATE:g}/s" if whole else ""),
                    verdict(met),
                ]
            )
        summary["phases"].append(
            {
                "mix": phase.name,
                "offered_per_s": phase.rate,
                "wall_s": round(phase.wall, 2),
                "all": _rounded(total),
                "routes": {k: _rounded(st) for k, st in stats.items()},
                "generator_late_p99_ms": round(percentile(lags, 99), 2),
                "server_cpu_s": round(phase.server_cpu, 2),
                "server_cpu_ms_per_answer": round(1000 * phase.server_cpu / max(1, answered), 2),
                "client_cpu_s": round(phase.client_cpu, 2),
                "load_avg_1m": [round(x, 2) for x in phase.load],
                "server_rss_mb": round(phase.server_rss_mb, 1),
                "profile": phase.profile,
            }
        )
        print(
            f"\n{phase.name}: the load generator queued requests p99 {ms(percentile(lags, 99))} ms"
            f" / max {ms(lags[-1] if lags else 0.0)} ms after their instant; server CPU "
            f"{phase.server_cpu / phase.wall:.2f} cores, "
            f"{1000 * phase.server_cpu / max(1, answered):.1f} ms CPU per answer"
            f" (one core: at most ~{answered / phase.server_cpu if phase.server_cpu else 0:,.0f}"
            " answers/s)"
        )
    print()
    print_table(
        rows,
        [
            "mix: route",
            "requests",
            "achieved",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "errors",
            "target",
            "verdict",
        ],
    )
    print(
        "latency: from each request's scheduled instant to the end of its answer (queueing"
        " included), over the answered requests; unanswered: still waiting"
        f" {args.drain:g} s after the last request was due (abandoned)"
    )
    for phase in phases:
        if phase.profile:
            print(f"\nserver profile, mix {phase.name} (py-spy):\n{phase.profile}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
