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
  a fresh SQLite store, without escalations, with a realistic configuration (two levels on
  P1/P2 response and resolution: 75 % to a webhook, breach to it and a file) and with a
  heavy one (four levels on every clock of every plan); each raised or withdrawn level
  writes one outbox row per notifier in the batch's transaction. CPU seconds (user +
  system), best of ``--repeat``. Target: at most a few per cent.

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
REALISTIC_LEVELS = """
[[plans.{plan}.escalations]]
level = 1
at = "75%"
metrics = ["response", "resolution"]
priorities = [1, 2]
notify = ["duty"]
[[plans.{plan}.escalations]]
level = 2
at = "0"
metrics = ["response", "resolution"]
priorities = [1, 2]
notify = ["duty", "log"]
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


LATENCY_CONFIG = """
priorities = [1]
default_priority = 1
[calendars.always]
timezone = "UTC"
hours = {{ "mon-sun" = "00:00-24:00" }}
[plans.p]
calendar = "always"
targets = {{ response = {{ "1" = "1h" }} }}
[[plans.p.escalations]]
level = 1
at = "0"
notify = ["duty"]
[[contracts]]
customer = "acme"
plan = "p"
from = "2025-01-01"
monthly_fee = 100
[notifiers.duty]
kind = "webhook"
url = "{url}"
"""


def consume_latency(bootstrap: str, tickets: int, work: Path, tick_every: float) -> list[float]:
    """Seconds from each breach level's instant to its arrival at the receiver, with one
    ``slaclock consume --clock wall`` running (tickets created so that their breaches fall
    due over the next 20 s)."""
    import threading
    import uuid
    from datetime import UTC, datetime
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from kafka.admin import KafkaAdminClient, NewTopic

    from slaclock.consumers.kafka_publish import publish_files

    arrived: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            due = datetime.fromisoformat(json.loads(body)["due_at"]).timestamp()
            arrived.append(time.time() - due)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a: object) -> None:
            return None

    class Server(ThreadingHTTPServer):
        # A listen backlog of a real receiver (nginx: 511), not socketserver's 5: the
        # deliverer's eight senders connect at once, and on a loaded machine a full backlog
        # drops a connection attempt, which the kernel retries after a whole second.
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = work / "latency.toml"
    config.write_text(LATENCY_CONFIG.format(url=f"http://127.0.0.1:{server.server_port}/"))
    topic = f"alert-latency-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    start = time.time() + 15  # consume is running by then
    events = work / "latency.jsonl"
    with events.open("w") as out:
        for n in range(tickets):
            created = start + 20 * n / tickets - 3600
            when = datetime.fromtimestamp(created, UTC).isoformat()
            out.write(json.dumps({"event_id": f"l{n}", "type": "ticket.created",
                                  "ticket_id": f"L{n}", "occurred_at": when,
                                  "customer_id": "acme"}) + "\n")  # fmt: skip
    publish_files([str(events)], topic, {"bootstrap_servers": bootstrap}, fmt="json")
    argv = [sys.executable, "-m", "slaclock", "--config", str(config), "--store",
            f"sqlite:///{work / 'latency.db'}", "consume", "--bootstrap-servers", bootstrap,
            "--topic", topic, "--group", topic, "--clock", "wall",
            "--tick-every", str(tick_every)]  # fmt: skip
    log = work / "latency-consume.log"
    with log.open("w") as stderr:
        consumer = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.time() + 90
        while len(arrived) < tickets and time.time() < deadline:
            time.sleep(0.2)
    finally:
        consumer.terminate()
        consumer.wait(60)
        server.shutdown()
    late = [f"#{n} {lag:.2f} s" for n, lag in enumerate(arrived) if lag > 1.5]
    if late:  # which arrivals (in arrival order) were slow: the first ones, or any?
        print(f"  arrivals over 1.5 s: {', '.join(late[:10])}")
    if len(arrived) < tickets:  # say why (the consumer's log)
        print(f"  only {len(arrived)} of {tickets} arrived; consume's log ends:")
        print("    " + "\n    ".join(log.read_text().splitlines()[-10:]))
    return sorted(arrived)


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
    parser.add_argument("--kafka", help="bootstrap servers: also measure latency during consume")
    parser.add_argument("--latency-tickets", type=int, default=200)
    parser.add_argument("--tick-every", type=float, default=0.5, help="consume's (0.5)")
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
        if args.kafka:
            print(
                f"latency during consume (--clock wall --tick-every {args.tick_every:g}),"
                f" {args.latency_tickets} breach levels"
            )
            lags = consume_latency(args.kafka, args.latency_tickets, work, args.tick_every)
            if lags:
                p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
                print(f"  {len(lags)} arrived; median {lags[len(lags) // 2]:.2f} s,"
                      f" p99 {p99:.2f} s, max {lags[-1]:.2f} s (target p99 <= 2 s);"
                      f" slowest: {', '.join(f'{lag:.2f}' for lag in lags[-5:])}")  # fmt: skip
        if args.no_ingest:
            return
        bench_run.STREAM = "varied"
        varied = BENCH / "bench-varied.toml"
        out = BENCH / "out"
        out.mkdir(exist_ok=True)
        events, _ = bench_run.generate(args.events, 1, "jsonl", varied, out)
        text = varied.read_text()
        plans = sorted(tomllib.loads(text)["plans"])
        notifiers = NOTIFIERS.format(path=work / "log.jsonl")
        configs = {"no": varied}
        for name, levels in (("realistic", REALISTIC_LEVELS), ("heavy", LEVELS)):
            configs[name] = work / f"{name}.toml"
            configs[name].write_text(
                text + "".join(levels.format(plan=plan) for plan in plans) + notifiers
            )
        print(f"ingest of {args.events:,} events ({bench_run.STREAM} stream), SQLite")
        best: dict[str, float] = {}
        for n, (name, config) in enumerate(list(configs.items()) * args.repeat):
            rate, per_cpu, rows = ingest_rate(config, events, work, f"{name}-{n}")
            best[name] = max(best.get(name, 0.0), per_cpu)
            print(
                f"  {name:9} escalations: {rate:,.0f} events/s of wall time,"
                f" {per_cpu:,.0f} per CPU second, {rows:,} outbox rows,"
                f" load average {os.getloadavg()[0]:.1f}"
            )
        for name in ("realistic", "heavy"):
            cost = best["no"] / best[name] - 1
            print(f"  best of {args.repeat}: {cost:.1%} more CPU per event with {name} escalations")


if __name__ == "__main__":
    main()
