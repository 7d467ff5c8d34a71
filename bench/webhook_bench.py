"""Webhook receiver under load: signed Jira deliveries at a fixed rate, every 202 durable.

    python bench/webhook_bench.py                         # 200 requests/s for 30 s
    python bench/webhook_bench.py --rate 100 --seconds 5  # a quick look

Steps:

* writes a configuration (``examples/slaclock.toml`` plus the Jira source of
  ``tests/fixtures/sources/jira`` with a ``secret_env``) and starts ``slaclock serve`` on a
  fresh SQLite store (``--store`` for another) on a free loopback port;
* builds the deliveries: the seven ``jira:issue_*`` bodies of the fixture lifecycle (about
  4.8 KB each), for as many tickets as the run needs (the issue key replaced per ticket),
  each signed like Jira does (``X-Hub-Signature: sha256=...``) with its own
  ``X-Atlassian-Webhook-Identifier``; the schedule goes round the tickets, so that one
  ticket's changes arrive in order and seconds apart, as a desk sends them;
* drives the server **open-loop**: request *i* is scheduled at ``i / rate`` whatever the
  server does, sent over up to ``--clients`` keep-alive connections, and its latency counts
  from the scheduled instant (queueing included);
* then kills the server with SIGKILL (no clean shutdown) and reads the store: the events
  the 202 answers reported as accepted must all be there ("every 202 durable").

It prints p50/p95/p99/max latency, the achieved rate, errors, the server's CPU, and PASS or
MISS against the target (p99 < 50 ms at 200 requests/s). A benchmark, not a test: the exit
code is 0 whatever the figures (1 only if the server could not start or a 202 was lost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slaclock.consumers.webhook_signatures import sign  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "sources" / "jira"
SECRET = "bench-webhook-secret"
TARGET_P99_MS = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(directory: Path) -> Path:
    table = (FIXTURE / "source.toml").read_text() + 'secret_env = "SLACLOCK_BENCH_SECRET"\n'
    path = directory / "bench-hooks.toml"
    path.write_text((ROOT / "examples" / "slaclock.toml").read_text() + "\n" + table)
    return path


def deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` signed deliveries, round the tickets (one ticket's changes in order)."""
    bodies = [line.encode() for line in (FIXTURE / "payloads.jsonl").read_text().splitlines()]
    tickets = -(-count // len(bodies))
    found = []
    for index in range(count):
        step, ticket = divmod(index, tickets)
        body = bodies[step].replace(b"NWS-2291", f"BEN-{ticket}".encode())
        headers = sign("jira", SECRET, body)
        headers["X-Atlassian-Webhook-Identifier"] = f"bench-{ticket}-{step}"
        headers["Content-Type"] = "application/json"
        found.append((body, headers))
    return found


def start_server(config: Path, store: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "slaclock", "--config", str(config), "--store", store]
    command += ["serve", "--port", str(port)]
    env = dict(os.environ, SLACLOCK_BENCH_SECRET=SECRET)
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"slaclock serve did not start:\n{log.read_text()}")


async def drive(
    url: str, work: list[tuple[bytes, dict[str, str]]], rate: float, clients: int
) -> tuple[list[float], list[str], int, float]:
    """Latencies (ms, from the scheduled instant), errors, events accepted, elapsed s.

    A minimal HTTP/1.1 client on asyncio streams (keep-alive, requests built beforehand):
    the load generator shares two cores with the server, and a full client library would
    spend more CPU per request than the receiver does."""
    host, port = url.removeprefix("http://").split(":")
    requests = [_request(host, body, headers) for body, headers in work]
    pending: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors: list[str] = []
    accepted = 0

    async def connection() -> None:
        nonlocal accepted
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while (item := await pending.get()) is not None:
                at, request = item
                writer.write(request)
                status, body = await _response(reader)
                latencies.append((time.perf_counter() - at) * 1000)
                if status != 202:
                    errors.append(f"{status}: {body[:200]!r}")
                else:
                    accepted += json.loads(body)["accepted"]
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(clients)]
    started = time.perf_counter()
    for index, request in enumerate(requests):
        at = started + index / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.put_nowait((at, request))
    for _ in workers:
        pending.put_nowait(None)
    await asyncio.gather(*workers)
    return latencies, errors, accepted, time.perf_counter() - started


def _request(host: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = ["POST /hooks/jsm HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


def stored_events(store: str, config: Path) -> int:
    from slaclock.config import load_policy
    from slaclock.projections.store import TicketStore

    opened = TicketStore(store, load_policy(config)[0])
    try:
        ids = [t for t in opened.ticket_ids() if t.startswith("BEN-")]
        return sum(len(opened.load_ticket(t).facts) for t in ids)  # type: ignore[union-attr]
    finally:
        opened.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s (default 200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration (default 30)")
    parser.add_argument("--clients", type=int, default=64, help="connections (default 64)")
    parser.add_argument("--store", help="store URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        directory = Path(tmp)
        config = write_config(directory)
        store = args.store or f"sqlite:///{directory / 'store.db'}"
        work = deliveries(int(args.rate * args.seconds))
        size = sum(len(body) for body, _ in work) / len(work)
        process, url = start_server(config, store, directory / "serve.log")
        try:
            for body, _headers in deliveries(7 * 20)[:20]:  # warm-up, one at a time
                httpx.post(
                    f"{url}/hooks/jsm",
                    content=body.replace(b"BEN-", b"WARM-"),
                    headers=sign("jira", SECRET, body.replace(b"BEN-", b"WARM-"))
                    | {"Content-Type": "application/json"},
                    timeout=30,
                )
            cpu_before = cpu_seconds(process.pid)
            latencies, errors, accepted, elapsed = asyncio.run(
                drive(url, work, args.rate, args.clients)
            )
            cpu = cpu_seconds(process.pid) - cpu_before
        finally:
            process.send_signal(signal.SIGKILL)  # no clean shutdown: 202 must mean stored
            process.wait()
        durable = stored_events(store, config)
    p99 = percentile(latencies, 0.99)
    achieved = len(latencies) / elapsed
    print(
        f"deliveries: {len(work)} signed Jira bodies, {size / 1024:.1f} KB on average,"
        f" scheduled at {args.rate:g}/s for {args.seconds:g} s over {args.clients} connections"
    )
    print(f"achieved: {achieved:.1f} requests/s ({elapsed:.1f} s), errors: {len(errors)}")
    for error in errors[:5]:
        print(f"  {error}")
    print(
        f"latency ms: p50 {percentile(latencies, 0.5):.1f}  p95 {percentile(latencies, 0.95):.1f}"
        f"  p99 {p99:.1f}  max {max(latencies, default=0):.1f}"
    )
    print(
        f"server CPU: {cpu / elapsed:.2f} cores ({cpu / max(len(latencies), 1) * 1000:.2f} ms"
        " per delivery)"
    )
    print(
        f"durable: {accepted} events accepted by the 202 answers, {durable} in the store"
        " after SIGKILL"
    )
    verdict = (
        "PASS" if p99 < TARGET_P99_MS and achieved >= 0.98 * args.rate and not errors else "MISS"
    )
    print(f"target p99 < {TARGET_P99_MS:g} ms at {args.rate:g} requests/s: {verdict}")
    return 1 if durable < accepted else 0


if __name__ == "__main__":
    raise SystemExit(main())
