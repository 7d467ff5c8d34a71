"""Configuration-change benchmark (issue 12 point 6): time to consistent answers after a change.

    python bench/recompute_bench.py                  # a store of 1,000,000 events
    python bench/recompute_bench.py --events 50000   # a quick check

It generates a JSON Lines stream with ``bench/generate.py`` (reused from ``bench/out/`` while
the generator's inputs are unchanged), ingests it with ``slaclock ingest --clock event`` into a
fresh SQLite store under a copy of ``bench/bench.toml`` (as ``bench/run.py`` builds its stores),
and times one ``report compliance`` on that store (no change: the baseline answer time).

Then, for each change below, **independently**: the base store file is copied, the changed
configuration written next to it, and the next ``slaclock report compliance --month M --json``
on the copy is timed as a subprocess, from spawn to exit (interpreter start, config load, the
recompute that ``slaclock/bootstrap.py`` ``open_store`` -> ``adopt_policy`` runs because the
policy version changed, and the report). The number of tickets recomputed is parsed from the
``slaclock: configuration changed (...)`` line the command prints on stderr. A second run of
the same report on the same copy shows the answer time once the change is adopted.

* (a) a comment appended to the TOML file;
* (b) a contract for a new customer (no stored tickets);
* (c) one more closed date (a weekday in the report month) in calendar ``office``;
* (d) the hours of calendar ``office`` changed (09:00-17:00 -> 08:00-17:00): a full recompute
  of every ticket with a clock on that calendar (clock rows only: resolved tickets are
  evaluated from the clock inputs their rows keep);
* (e) the default priority changed (3 -> 2): every ticket recomputed, each folded from its
  events (a ticket's own row can move), few rows actually change.

This is a benchmark: nothing asserts and the exit code is 0 whatever the figures (1 only if a
command failed). Figures go to stdout as a table and, with ``--results``, to a Markdown file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench/run.py: the helpers that build and time its stores.
from run import (
    BENCH,
    ROOT,
    Run,
    describe_code,
    generate,
    ingest_supports,
    measure,
    print_table,
    slaclock,
)

DEFAULT_CONFIG = BENCH / "bench.toml"
TARGET_FULL_TICKETS_PER_S = 25_000
CALENDAR = "office"
OLD_HOURS = "[calendars.office]            # Mon-Fri 09:00-17:00, German holidays (NRW)\n"
OLD_HOURS += 'timezone = "Europe/Berlin"\nhours = { "mon-fri" = "09:00-17:00" }\n'
OLD_CLOSED = 'closed = ["2025-12-24", "2025-12-31"]'
OLD_DEFAULT = "default_priority = 3 "
CHANGED = re.compile(r"^slaclock: configuration changed \(policy version [^)]*\): ")
RECOMPUTED = re.compile(r"; (?P<n>\d+) tickets recomputed(?P<all> \(all\))?$")
SUFFIXES = ("", "-wal", "-shm", "-journal")


@dataclass
class Step:
    key: str
    what: str
    config_text: str
    first: Run | None = None
    second: Run | None = None
    line: str = ""
    recomputed: int | None = None
    full: bool = False
    same_report: bool | None = None  # the report equals the base store's (expected for a, b)


def comment(text: str, _day: date) -> str:
    return text + "\n# bench: a comment appended to the configuration\n"


def new_contract(text: str, _day: date) -> str:
    return text + (
        "\n[[contracts]]\n"
        'customer = "bench-new-customer"\n'
        'plan = "professional"\n'
        'from = "2025-01-01"\n'
        'monthly_fee = "100.00"\n'
    )


def closed_date(text: str, day: date) -> str:
    if OLD_CLOSED not in text:
        raise SystemExit(f"the configuration has no {OLD_CLOSED!r} to extend")
    return text.replace(OLD_CLOSED, f'closed = ["{day.isoformat()}", "2025-12-24", "2025-12-31"]')


def hours(text: str, _day: date) -> str:
    if OLD_HOURS not in text:
        raise SystemExit("the configuration's [calendars.office] is not the expected one")
    return text.replace(OLD_HOURS, OLD_HOURS.replace('"09:00-17:00"', '"08:00-17:00"'))


def default_priority(text: str, _day: date) -> str:
    if OLD_DEFAULT not in text:
        raise SystemExit(f"the configuration has no {OLD_DEFAULT!r}")
    return text.replace(OLD_DEFAULT, OLD_DEFAULT.replace("3", "2"))


def copy_store(src: Path, dst: Path) -> None:
    for suffix in SUFFIXES:
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")


def remove_store(path: Path) -> None:
    for suffix in SUFFIXES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def parse_change(stderr: str) -> tuple[str, int | None, bool]:
    """The ``configuration changed`` line, the tickets it recomputed and whether all were."""
    for line in stderr.splitlines():
        if CHANGED.match(line):
            found = RECOMPUTED.search(line)
            if found:
                return line, int(found["n"]), bool(found["all"])
            return line, None, False
    return "", 0, False  # no change noticed: nothing recomputed


def _without_version(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_version(v) for k, v in value.items() if k != "policy_version"}
    if isinstance(value, list):
        return [_without_version(v) for v in value]
    return value


def rows_of(run: Run) -> object:
    """The report's JSON without its ``policy_version`` (which every change moves)."""
    if run.returncode != 0 or not run.stdout.strip():
        return None
    return _without_version(json.loads(run.stdout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--out-dir", type=Path, default=BENCH / "out")
    parser.add_argument("--month", help="report month (default: the stream's middle month)")
    parser.add_argument(
        "--keep-store", action="store_true", help="reuse the base store of an earlier run"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures here")
    args = parser.parse_args(argv)
    config = args.config.resolve()
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    n = args.events
    base_text = config.read_text()
    print(
        f"slaclock recompute bench: {n:,} events, seed {args.seed}, config {config.name}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}, code {describe_code()}, "
        f"load {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    # ----------------------------------------------------------------- the base store
    path, took = generate(n, args.seed, "jsonl", config, out_dir)
    meta = json.loads(Path(f"{path}.expected.json").read_text())
    print(f"  {path.name} " + (f"generated in {took:.1f} s" if took else "reused"), flush=True)
    base_config = out_dir / f"recompute-{n}-base.toml"
    base_config.write_text(base_text)
    base = out_dir / f"recompute-{n}-base.db"
    if not (args.keep_store and base.exists()):
        remove_store(base)
        argv_ = slaclock(base_config, base, "ingest", str(path), "--json")
        argv_ += ["--dead-letter", str(out_dir / f"recompute-{n}-dead.jsonl")]
        if ingest_supports("--clock"):
            argv_ += ["--clock", "event"]
        ingest = measure(argv_, ROOT, out_dir / f"recompute-{n}-ingest")
        if ingest.returncode != 0:
            print(f"ingest failed: {ingest.stderr[-800:]}")
            return 1
        print(
            f"  ingest {ingest.elapsed:.1f} s ({json.loads(ingest.stdout)}), store "
            f"{base.stat().st_size / 1e6:.0f} MB",
            flush=True,
        )
    first = datetime.fromisoformat(meta["stream"]["first_occurred_at"])
    last = datetime.fromisoformat(meta["stream"]["last_occurred_at"])
    middle = first + (last - first) / 2
    month = args.month or middle.strftime("%Y-%m")
    as_of = (last + timedelta(days=2)).replace(microsecond=0).isoformat()
    report = ("report", "compliance", "--month", month, "--as-of", as_of, "--json")
    # The closed date: the first Wednesday on or after the middle of the stream.
    day = middle.date() + timedelta(days=(2 - middle.weekday()) % 7)

    baseline = measure(slaclock(base_config, base, *report), ROOT, out_dir / f"rc-{n}-base")
    if baseline.returncode != 0:
        print(f"report failed: {baseline.stderr[-800:]}")
        return 1
    base_rows = rows_of(baseline)
    tickets = meta["stream"].get("tickets_created")
    print(
        f"  report compliance --month {month} on the unchanged store: {baseline.elapsed:.2f} s"
        + (f" ({baseline.stderr.strip()})" if baseline.stderr.strip() else ""),
        flush=True,
    )

    steps = [
        Step("a", "comment appended to the TOML", comment(base_text, day)),
        Step("b", "new customer's contract", new_contract(base_text, day)),
        Step("c", f"closed date {day} in calendar {CALENDAR}", closed_date(base_text, day)),
        Step("d", f"hours of calendar {CALENDAR} 09-17 -> 08-17", hours(base_text, day)),
        Step("e", "default priority 3 -> 2 (every ticket)", default_priority(base_text, day)),
    ]
    failed = False
    for step in steps:
        store = out_dir / f"recompute-{n}-{step.key}.db"
        cfg = out_dir / f"recompute-{n}-{step.key}.toml"
        copy_store(base, store)
        cfg.write_text(step.config_text)
        step.first = measure(slaclock(cfg, store, *report), ROOT, out_dir / f"rc-{n}-{step.key}1")
        step.second = measure(slaclock(cfg, store, *report), ROOT, out_dir / f"rc-{n}-{step.key}2")
        step.line, step.recomputed, step.full = parse_change(step.first.stderr)
        if step.first.returncode or step.second.returncode:
            failed = True
            print(f"  ({step.key}) FAILED: {step.first.stderr[-800:]}{step.second.stderr[-800:]}")
        step.same_report = rows_of(step.first) == base_rows
        consistent = rows_of(step.first) == rows_of(step.second)
        print(
            f"  ({step.key}) {step.what}: {step.first.elapsed:.2f} s, then"
            f" {step.second.elapsed:.2f} s; recomputed {step.recomputed}; report as on the base"
            f" store: {step.same_report}; first and second answers equal: {consistent}\n"
            f"      {step.line or '(no configuration change noticed)'}",
            flush=True,
        )
        remove_store(store)

    headers = ["change", "next report (s)", "CPU (s)", "tickets recomputed", "tickets/s"]
    headers += ["after (s)"]
    headers += ["report = base", "stderr"]
    table = []
    for step in steps:
        assert step.first is not None and step.second is not None
        rate = ""
        if step.recomputed:
            net = step.first.elapsed - baseline.elapsed
            rate = f"{step.recomputed / step.first.elapsed:,.0f}"
            rate += f" ({step.recomputed / net:,.0f} net)" if net > 0 else ""
        table.append(
            [
                f"({step.key}) {step.what}",
                f"{step.first.elapsed:.2f}",
                f"{step.first.cpu:.2f}",
                "?" if step.recomputed is None else f"{step.recomputed:,}",
                rate,
                f"{step.second.elapsed:.2f}",
                "yes" if step.same_report else "no",
                step.line.split("): ", 1)[-1] if step.line else "(no change noticed)",
            ]
        )
    print()
    print(
        f"baseline: report compliance on the unchanged store {baseline.elapsed:.2f} s;"
        f" {tickets:,} tickets created in the stream; each change on its own copy of the store"
    )
    print_table(table, headers)
    print(
        "next report = wall time of the first report compliance after the change (spawn to"
        " exit); tickets/s = recomputed / that time (net: minus the unchanged store's report"
        f" time); after = the same report once more; target for a full recompute"
        f" >= {TARGET_FULL_TICKETS_PER_S:,} tickets/s; a comment recomputes nothing"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "events": n,
                    "tickets": tickets,
                    "month": month,
                    "baseline_s": baseline.elapsed,
                    "steps": [
                        {
                            "key": s.key,
                            "what": s.what,
                            "first_s": s.first.elapsed if s.first else None,
                            "second_s": s.second.elapsed if s.second else None,
                            "cpu_s": s.first.cpu if s.first else None,
                            "recomputed": s.recomputed,
                            "full": s.full,
                            "report_unchanged": s.same_report,
                            "line": s.line,
                        }
                        for s in steps
                    ],
                },
                indent=1,
            )
            + "\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
