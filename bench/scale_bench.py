"""Scale benchmark (issue 21 item 5): ingest, store size, cold month reports and export.

    python bench/scale_bench.py                      # 1,000,000 events (and 100,000)
    python bench/scale_bench.py --events 200000      # a quick look
    python bench/scale_bench.py --events 10000000    # the issue's run (a quiet machine)
    python bench/scale_bench.py --postgres postgresql://slaclock@127.0.0.1:55432/slaclock

For N events (and N/10, to see whether ingest speed and memory stay flat as the store grows)
it generates the ``replies`` stream (bench/generate.py: four zones with DST, overnight desks,
pauses, reopens, late and duplicate events, reply cycles and reassignments; reused from
``bench/out/`` while unchanged) and, per store (SQLite; PostgreSQL too with ``--postgres``,
each run in a schema of its own, dropped afterwards):

* ingests it with ``slaclock ingest FILE --json`` in a fresh store: events/s, CPU seconds
  and peak RSS of that process (``wait4``);
* store bytes per event (SQLite: the file; PostgreSQL: ``pg_total_relation_size`` of the
  schema's tables);
* the first (cold) ``report compliance`` and ``report credits`` of the stream's middle
  month, each as a fresh process (what a user waits for: interpreter, configuration, store)
  and in a process that has imported slaclock and read the configuration (from opening the
  store to the answer);
* ``slaclock --help`` (start-up alone) and ``export clocks --month M --format parquet``.

It prints the machine (cores, CPU model, load average before and after each step) beside
every figure. The machine may be shared: compare CPU seconds rather than wall time. This is
a benchmark, not a test: nothing asserts; the exit code is 1 only if a command failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as runner  # noqa: E402  (bench/run.py: generation and measurement)

CONFIG = BENCH / "bench-replies.toml"
IN_PROCESS = """
import json, sys, time
from slaclock.config import read_policy
from slaclock.projections.answers import compliance_answer, credits_answer, queries_for
from slaclock.projections.store import TicketStore
from datetime import datetime
config, url, month, name, as_of = sys.argv[1:6]
loaded = read_policy(config)
began = time.perf_counter()
cpu = time.process_time()
store = TicketStore(url, loaded.policy)
queries = queries_for(store, loaded.policy, loaded.version, None, lambda text, name: loaded.policy)
answer = {"compliance": compliance_answer, "credits": credits_answer}[name]
data = answer(queries, month, datetime.fromisoformat(as_of), None)
print(json.dumps({"wall_s": round(time.perf_counter() - began, 3),
                  "cpu_s": round(time.process_time() - cpu, 3),
                  "rows": len(data.get("rows", data.get("customers", []))),
                  "from_rows": queries.rows_current}))
"""


def load() -> str:
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def slaclock(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "slaclock", "--config", str(CONFIG), "--store", url, *args]


def store_bytes(url: str, path: Path | None) -> int:
    if path is not None:
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    import psycopg

    base, schema = url.split("?schema=")
    with psycopg.connect(base) as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(format('%%I.%%I', schemaname, tablename))),"
            " 0) FROM pg_tables WHERE schemaname = %s",
            [schema],
        ).fetchone()
    return int(row[0]) if row else 0


def schema(url: str, statement: str) -> None:
    """``statement`` (``CREATE SCHEMA`` or ``DROP SCHEMA ... CASCADE``) on the run's schema."""
    import psycopg

    base, name = url.split("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(statement.format(f'"{name}"'))


def step(name: str, argv: list[str], work: Path) -> dict[str, Any]:
    """One fresh process, measured: wall and CPU seconds, peak RSS, load around it."""
    before = load()
    done = runner.measure(argv, runner.ROOT, work / name.replace(" ", "-"))
    figure = {
        "step": name,
        "wall_s": round(done.elapsed, 2),
        "cpu_s": round(done.cpu, 2),
        "peak_rss_mb": round(done.peak_rss_mb),
        "load": f"{before} -> {load()}",
        "exit": done.returncode,
    }
    if done.returncode != 0:
        figure["stderr"] = done.stderr.strip()[-400:]
    figure["stdout"] = done.stdout
    return figure


def one_store(events: int, path: Path, url: str, db: Path | None, work: Path) -> list[dict]:
    """Ingest ``path`` (``events`` events) into the fresh store ``url``; then, for the
    largest run, reports and export. Returns the figures."""
    meta = json.loads(Path(f"{path}.expected.json").read_text())
    first = datetime.fromisoformat(meta["stream"]["first_occurred_at"])
    last = datetime.fromisoformat(meta["stream"]["last_occurred_at"])
    month = (first + (last - first) / 2).strftime("%Y-%m")
    # As of a day after the stream's last event: a long stream runs past today, and a report
    # as of now would evaluate every ticket with later facts from its events.
    as_of = (last + timedelta(days=1)).isoformat()
    ingest = step(f"ingest {events}", slaclock(url, "ingest", str(path), "--json"), work)
    counts = json.loads(ingest["stdout"] or "{}")
    ingest["events_per_s"] = round(counts.get("read", 0) / ingest["wall_s"])
    ingest["events_per_cpu_s"] = round(counts.get("read", 0) / ingest["cpu_s"])
    size = store_bytes(url, db)
    ingest["store_bytes_per_event"] = round(size / max(events, 1))
    ingest["store_mb"] = round(size / 1e6)
    figures = [ingest]
    if ingest["exit"] != 0:
        return figures
    for name in ("compliance", "credits"):
        report = slaclock(url, "report", name, "--month", month, "--as-of", as_of, "--json")
        figures.append(step(f"report {name} {month}", report, work))
        inside = subprocess.run(
            [sys.executable, "-c", IN_PROCESS, str(CONFIG), url, month, name, as_of],
            cwd=runner.ROOT, env=runner.code_env(), capture_output=True, text=True,
        )  # fmt: skip
        got = json.loads(inside.stdout) if inside.returncode == 0 else {"error": inside.stderr}
        figures.append({"step": f"report {name} {month} in-process", **got, "load": load()})
    figures.append(step("start-up (--help)", slaclock(url, "--help"), work))
    out = work / f"export-{events}"
    shutil.rmtree(out, ignore_errors=True)
    export = ["export", "clocks", "--month", month, "--format", "parquet", "--out", str(out)]
    figures.append(step(f"export clocks {month} parquet", slaclock(url, *export), work))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", help="also into this PostgreSQL (a schema per run)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--rev", help="measure this commit (exported) instead of the tree")
    parser.add_argument("--no-tenth", action="store_true", help="skip the run at N/10 events")
    args = parser.parse_args(argv)
    runner.STREAM = "replies"
    out_dir = BENCH / "out"
    out_dir.mkdir(exist_ok=True)
    if args.rev:
        runner.CODE, _ = runner.export_rev(args.rev, out_dir)
    print(f"machine: {runner.machine()}; {load()}; code: {runner.describe_code()}", flush=True)
    results: dict[str, Any] = {"machine": runner.machine(), "runs": []}
    failed = False
    for events in (args.events,) if args.no_tenth else (args.events // 10, args.events):
        path, took = runner.generate(events, args.seed, "jsonl", CONFIG, out_dir)
        print(f"stream {path.name}: {events:,} events (generated in {took:.0f} s)", flush=True)
        stores: list[tuple[str, str, Path | None]] = []
        work = Path(tempfile.mkdtemp(prefix="scale-", dir=out_dir))
        db = work / "store.db"
        stores.append(("sqlite", f"sqlite:///{db}", db))
        if args.postgres:
            name = f"scale_{os.getpid()}_{events}"
            stores.append(("postgres", f"{args.postgres}?schema={name}", None))
        for kind, url, db_path in stores:
            if kind == "postgres":
                schema(url, "CREATE SCHEMA {}")
            try:
                figures = one_store(events, path, url, db_path, work)
            finally:
                if kind == "postgres":
                    schema(url, "DROP SCHEMA IF EXISTS {} CASCADE")
            for figure in figures:
                figure.pop("stdout", None)
                failed = failed or figure.get("exit", 0) != 0 or "error" in figure
                print(f"  {kind} {events:,}: " + json.dumps(figure), flush=True)
            results["runs"].append({"store": kind, "events": events, "figures": figures})
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
