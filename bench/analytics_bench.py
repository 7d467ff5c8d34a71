"""Analytics benchmark: a month's reports and exports on a store of N generated events.

    python bench/analytics_bench.py --events 1000000            # SQLite store
    python bench/analytics_bench.py --events 1000000 --store postgresql://...?schema=bench_a

Generates N events with ``bench/generate.py`` (the plain stream, ``bench/bench.toml``) into
``bench/out/`` (reused when present), ingests them into a fresh store, then times, each as a
fresh ``slaclock`` process (a cold start: interpreter, configuration and store opened, what a
user waits for): ``report compliance`` and ``report credits`` for one month, ``export clocks``
of that month as Parquet and CSV, ``export compliance`` as Parquet, and on SQLite
``analytics refresh``; on PostgreSQL it also times the month's query on the ``compliance``
view in one connection. Figures only: nothing asserts (targets in issue 21: a cold report
under 1 s, a month's Parquet export of the clock rows under 10 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CONFIG = BENCH / "bench.toml"


def run(store: str, *args: str) -> tuple[float, str]:
    argv = [sys.executable, "-m", "slaclock", "--config", str(CONFIG), "--store", store, *args]
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {done.returncode}: {done.stderr[-400:]}")
    return elapsed, done.stdout


def events_file(events: int) -> Path:
    path = BENCH / "out" / f"analytics-{events}.jsonl"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        subprocess.run(
            [sys.executable, str(BENCH / "generate.py"), "--events", str(events), "--format",
             "jsonl", "--out", str(path), "--config", str(CONFIG)],
            check=True,
        )  # fmt: skip
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--store", help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--month", help="default: the stream's middle month")
    args = parser.parse_args()
    path = events_file(args.events)
    meta = json.loads(Path(f"{path}.expected.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="analytics-bench-"))
    store = args.store or f"sqlite:///{work / 'store.db'}"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    print(f"{machine}; {args.events:,} events; store {store.split('?')[0]}")
    took, out = run(store, "ingest", str(path), "--json")
    counts = json.loads(out)
    print(f"ingest: {took:.1f} s, {counts['read'] / took:,.0f} events/s ({counts})")
    first = datetime.fromisoformat(meta["stream"]["first_occurred_at"])
    last = datetime.fromisoformat(meta["stream"]["last_occurred_at"])
    month = args.month or (first + (last - first) / 2).strftime("%Y-%m")
    figures: list[tuple[str, float, str]] = []
    for name in ("compliance", "credits"):
        took, out = run(store, "report", name, "--month", month, "--json")
        rows = len(json.loads(out).get("rows" if name == "compliance" else "customers", []))
        figures.append((f"report {name} --month {month} (cold)", took, f"{rows} rows"))
    if not store.startswith("postgres"):
        took, out = run(store, "analytics", "refresh", "--json")
        figures.append(("analytics refresh (SQLite tables)", took, out.replace("\n", "")))
    else:
        figures.append(_view_query(store, month))
    for dataset, fmt in (("clocks", "parquet"), ("clocks", "csv"), ("compliance", "parquet")):
        out_dir = work / "exports"
        took, out = run(store, "export", dataset, "--month", month, "--format", fmt, "--out",
                        str(out_dir), "--json")  # fmt: skip
        rows = json.loads(out)[0]["rows"]
        figures.append((f"export {dataset} --month {month} --format {fmt}", took, f"{rows} rows"))
    for what, took, note in figures:
        print(f"{what}: {took:.2f} s ({note})")
    shutil.rmtree(work, ignore_errors=True)


def _view_query(store: str, month: str) -> tuple[str, float, str]:
    import psycopg

    url, _, query = store.partition("?")
    schema = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("schema", "public")
    views = "slaclock_analytics" if schema == "public" else f"{schema}_analytics"
    with psycopg.connect(url) as conn:
        began = time.perf_counter()
        rows = conn.execute(
            f'SELECT * FROM "{views}".compliance WHERE period_month = %s::date', [f"{month}-01"]
        ).fetchall()
        took = time.perf_counter() - began
    return (f"SELECT the compliance view for {month} (one connection)", took, f"{len(rows)} rows")


if __name__ == "__main__":
    main()
