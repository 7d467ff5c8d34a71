"""Escalation delivery benchmark: outbox throughput to a local receiver, and what the outbox
costs an ingest.

    python bench/alert_bench.py                      # 5,000 deliveries, 100,000 varied events
    python bench/alert_bench.py --postgres URL       # also deliver from a PostgreSQL store
    python bench/alert_bench.py --deliveries 20000 --events 1000000

* **Delivery throughput**: an outbox of N pending webhook deliveries (rows written directly),
  drained by one ``Deliverer`` (``slaclock notify``'s loop, in this process) to a receiver that
  answers 204 in another process (an HTTP/1.1 keep-alive server), signing every request.
  Target: 500 deliveries/s.
* **Ingest cost**: ``slaclock ingest`` of the varied stream (``bench/bench-varied.toml``) into
  a fresh SQLite store, with and without four escalation levels on every plan (each raised
  or withdrawn level writes one outbox row per notifier in the batch's transaction). Target:
  at most a few per cent.

A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

import bench.run as bench_run  # noqa: E402
from slaclock.config import read_policy  # noqa: E402
from slaclock.consumers.alert_delivery import Deliverer  # noqa: E402
from slaclock.consumers.notifiers import open_notifiers  # noqa: E402
from slaclock.projections.alert_outbox import (  # noqa: E402
    INSERT_DELIVERY,
    delivery_row,
    payload_text,
    summary,
)
from slaclock.projections.event_store import EventStore  # noqa: E402

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

LEVELS = """
[[plans.{plan}.escalations]]
level = 1
at = "50%"
notify = ["duty"]
[[plans.{plan}.escalations]]
level = 2
at = "-30m"
notify = ["duty"]
[[plans.{plan}.escalations]]
level = 3
at = "0"
notify = ["duty", "log"]
[[plans.{plan}.escalations]]
level = 4
at = "+1h"
notify = ["log"]
"""
NOTIFIERS = """
[notifiers.duty]
kind = "webhook"
url = "http://127.0.0.1:9/never-sent-by-the-ingest"
[notifiers.log]
kind = "file"
path = "{path}"
"""


def delivery_throughput(store_url: str, count: int, work: Path) -> float:
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(receiver.stdout.readline())  # type: ignore[union-attr]
        config = work / "deliver.toml"
        config.write_text(
            (ROOT / "examples" / "slaclock.toml").read_text()
            + f'[notifiers.duty]\nkind = "webhook"\nurl = "http://127.0.0.1:{port}/hook"\n'
            + 'secret_env = "BENCH_SECRET"\n'
        )
        os.environ["BENCH_SECRET"] = "bench"
        loaded = read_policy(config)
        store = EventStore(store_url, cache_size=0)
        payload = {
            "id": "", "level": 1, "kind": "raised", "ticket_id": "T", "customer_id": "c",
            "plan": "p", "metric": "response", "cycle": None, "priority": 1,
            "deadline": "2025-09-05T14:00:00+00:00", "due_at": "2025-09-05T13:00:00+00:00",
        }  # fmt: skip
        now = time.time()
        rows = []
        for n in range(count):
            payload = {**payload, "id": f"alert-{n}", "ticket_id": f"T{n}"}
            rows.append(delivery_row(f"alert-{n}", "duty", f"T{n}", payload_text(payload), now))
        with store.write() as cursor:
            cursor.executemany(store.dialect.sql(INSERT_DELIVERY), rows)
        deliverer = Deliverer(store, open_notifiers(loaded.notifiers))
        began = time.perf_counter()
        stats = deliverer.drain()
        elapsed = time.perf_counter() - began
        deliverer.close()
        left = summary(store, time.time())["pending"]
        store.close()
        print(f"  delivered {stats.delivered:,} in {elapsed:.2f} s, {left:g} pending")
        return stats.delivered / elapsed
    finally:
        receiver.terminate()
        receiver.wait()


def ingest_rate(config: Path, events: Path, work: Path, name: str) -> tuple[float, float, int]:
    """Events per second of wall time and per second of CPU time (user + system, of the
    ingest and its decoding process: on a shared machine the wall time says more about the
    neighbours), and the outbox rows written."""
    store = f"sqlite:///{work / (name + '.db')}"
    argv = [sys.executable, "-m", "slaclock", "--config", str(config), "--store", store]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(
        [*argv, "ingest", str(events), "--json", "--decoder", "inline"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    read = json.loads(done.stdout)["read"]
    outbox = EventStore(store, cache_size=0)
    rows = int(outbox.query("SELECT COUNT(*) AS n FROM {p}sla_alert_deliveries")[0]["n"])
    outbox.close()
    return read / elapsed, read / cpu, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--postgres", help="also deliver from this PostgreSQL store (a schema)")
    parser.add_argument("--no-ingest", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="ingests with and without (3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"delivery throughput, SQLite, {args.deliveries:,} webhook deliveries (target 500/s)")
        rate = delivery_throughput(f"sqlite:///{work / 'deliver.db'}", args.deliveries, work)
        print(f"  {rate:,.0f} deliveries/s")
        if args.postgres:
            print("delivery throughput, PostgreSQL")
            rate = delivery_throughput(args.postgres, args.deliveries, work)
            print(f"  {rate:,.0f} deliveries/s")
        if args.no_ingest:
            return
        bench_run.STREAM = "varied"
        varied = BENCH / "bench-varied.toml"
        out = BENCH / "out"
        out.mkdir(exist_ok=True)
        events, _ = bench_run.generate(args.events, 1, "jsonl", varied, out)
        text = varied.read_text()
        plans = sorted(tomllib.loads(text)["plans"])
        escalating = work / "escalating.toml"
        escalating.write_text(
            text
            + "".join(LEVELS.format(plan=plan) for plan in plans)
            + NOTIFIERS.format(path=work / "log.jsonl")
        )
        print(f"ingest of {args.events:,} events ({bench_run.STREAM} stream), SQLite")
        best: dict[str, float] = {}
        for n, (name, config) in enumerate(
            [("without", varied), ("with", escalating)] * args.repeat
        ):
            rate, per_cpu, rows = ingest_rate(config, events, work, f"{name}-{n}")
            best[name] = max(best.get(name, 0.0), per_cpu)
            print(
                f"  {name:8} escalations: {rate:,.0f} events/s of wall time,"
                f" {per_cpu:,.0f} per CPU second, {rows:,} outbox rows"
            )
        cost = 1 - best["with"] / best["without"]
        print(f"  best of {args.repeat}: {cost:.1%} more CPU per event with escalations")


if __name__ == "__main__":
    main()
