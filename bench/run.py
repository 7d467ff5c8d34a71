"""Ingest and calendar benchmark: figures next to their targets, PASS or MISS.

    python bench/run.py                   # 1,000,000 events (several minutes)
    python bench/run.py --events 100000   # a quick look
    python bench/run.py --profile 100000  # also cProfile an ingest of 100k events
    python bench/run.py --stream varied   # the varied stream (bench/bench-varied.toml)

For N events (and N/4, to see whether memory grows with the input) it generates one JSON
Lines and one Avro file with ``bench/generate.py`` into ``bench/out/`` (kept and reused while
the generator's inputs are unchanged), then per format:

* runs ``slaclock ingest FILE --json`` as a subprocess into a fresh SQLite store and measures
  wall time from spawn to exit (events/s = read / elapsed, interpreter start included), CPU
  time and peak RSS (``wait4`` rusage of that child; RSS is also sampled from ``/proc`` to
  show its course during the run);
* checks the reported counts against what the generator wrote into ``FILE.expected.json``
  (and read = accepted + duplicates + rejected);
* times ``report compliance`` and ``report credits`` for one month right after the ingest,
  as subprocesses too (what a user waits for; interpreter start and config load included).

Then it measures ``BusinessCalendar.add_epoch`` and ``add`` (datetime) calls/s on the
``office`` calendar, in this process. This is a benchmark, not a test: nothing asserts, and
the exit code is 0 whatever the figures (1 only if a command failed).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import random
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_CONFIG = BENCH / "bench.toml"
VARIED_CONFIG = BENCH / "bench-varied.toml"
REPLIES_CONFIG = BENCH / "bench-replies.toml"
GENERATOR = BENCH / "generate.py"

TARGET_EVENTS_PER_S = 20_000
TARGET_PEAK_MB = 1024
TARGET_GROWTH = 1.15  # peak RSS at N may be at most this times the peak at N/4
TARGET_CALENDAR_CALLS_PER_S = 200_000
FORMATS = ("jsonl", "avro")
# Which generated stream (bench/generate.py --stream): "plain" keeps the original file names.
STREAM = "plain"


def bench_calendar() -> str:
    """The calendar the calendar benchmark and the start-up probe use."""
    return "berlin" if STREAM in ("varied", "replies") else "office"


def stream_suffix() -> str:
    return "" if STREAM == "plain" else f"-{STREAM}"


# ------------------------------------------------------------------------- processes


@dataclass
class Run:
    """One measured subprocess."""

    argv: list[str]
    returncode: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    peak_rss_mb: float = 0.0
    stdout: str = ""
    stderr: str = ""
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, RSS MB)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end

    def rss_course(self, parts: int = 4) -> list[float]:
        """Sampled RSS (MB) at 1/parts, 2/parts, ... of the run's wall time."""
        if not self.samples:
            return []
        out = []
        for k in range(1, parts + 1):
            at = self.elapsed * k / parts
            before = [mb for t, mb in self.samples if t <= at]
            out.append(before[-1] if before else self.samples[0][1])
        return out


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# The slaclock code under test: the working tree, or a commit exported by ``--rev``.
CODE = ROOT


def code_env() -> dict[str, str]:
    """The environment for slaclock subprocesses: CODE first on the import path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CODE), env.get("PYTHONPATH")]))
    return env


def export_rev(rev: str, out_dir: Path) -> tuple[Path, str]:
    """The committed tree of ``rev`` exported to ``out_dir/src-SHA`` (reused if present)."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    target = out_dir / f"src-{sha[:12]}"
    if not (target / "slaclock" / "cli.py").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", sha],
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            tar.extractall(target, filter="data")
    _link_mapped_packages(target)
    return target, sha


# Folders the package maps into ``slaclock`` (pyproject's package-dir). The editable install
# of the venv maps them to the working tree; links inside the export make the commit's own
# folders win (the import system looks in ``slaclock/`` before asking the editable finder).
MAPPED_PACKAGES = ("domain", "projections", "consumers", "schemas")


def _link_mapped_packages(target: Path) -> None:
    for name in MAPPED_PACKAGES:
        link = target / "slaclock" / name
        if (target / name).is_dir() and not link.exists():
            link.symlink_to(Path("..") / name, target_is_directory=True)


# Extra options for every ``slaclock ingest`` (see ``--clock``).
INGEST_OPTIONS: list[str] = []


def ingest_supports(option: str) -> bool:
    """Whether the slaclock under test has ``ingest OPTION`` (older commits may not)."""
    argv = [sys.executable, "-m", "slaclock", "ingest", "--help"]
    help_text = subprocess.run(
        argv, cwd=CODE, env=code_env(), capture_output=True, text=True
    ).stdout
    return option in help_text


def machine() -> str:
    """The machine in one line: architecture, cores and CPU model, memory, system, Python."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = 0
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs ({model}), {mem_kb / 2**20:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def describe_code() -> str:
    if CODE != ROOT:
        return f"commit {CODE.name.removeprefix('src-')} (exported to {CODE})"
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return f"working tree at {head}" + (f" with {len(dirty)} modified files" if dirty else "")


def measure(argv: list[str], cwd: Path, log: Path) -> Run:
    """Run ``argv`` to completion; wall time, CPU time and peak RSS of exactly that child."""
    run = Run(argv)
    out_path, err_path = log.with_suffix(".out"), log.with_suffix(".err")
    load_before = os.getloadavg()[0]
    with out_path.open("w") as out, err_path.open("w") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=code_env(), stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                mb = _rss_mb(proc.pid)
                if mb is not None:
                    run.samples.append((time.perf_counter() - began, mb))
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        run.elapsed = time.perf_counter() - began
        done.set()
        sampler.join()
        proc.returncode = run.returncode = os.waitstatus_to_exitcode(status)
    run.load = (load_before, os.getloadavg()[0])
    run.cpu = usage.ru_utime + usage.ru_stime
    run.peak_rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
    run.stdout = out_path.read_text()
    run.stderr = err_path.read_text()
    return run


def slaclock(config: Path, store: Path, *args: str) -> list[str]:
    base = [sys.executable, "-m", "slaclock", "--config", str(config)]
    return [*base, "--store", f"sqlite:///{store}", *args]


# ------------------------------------------------------------------------- generation


def _fingerprint(events: int, seed: int, config: Path, fmt: str) -> str:
    digest = hashlib.sha256()
    spec = f"{events}/{seed}/{fmt}" + (f"/{STREAM}" if STREAM != "plain" else "")
    parts = [GENERATOR.read_bytes(), config.read_bytes(), spec.encode()]
    if fmt == "avro":
        parts += [(ROOT / "consumers" / "avro.py").read_bytes()]
        parts += [(ROOT / "schemas" / "ticket_event.v1.avsc").read_bytes()]
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:16]


def generate(events: int, seed: int, fmt: str, config: Path, out_dir: Path) -> tuple[Path, float]:
    """The generated file for (events, seed, format), made now unless an identical one exists.

    Returns the path and the generation time (0 when reused).
    """
    path = out_dir / f"events-{events}-s{seed}{stream_suffix()}.{fmt}"
    stamp = path.with_name(path.name + ".fingerprint")
    fingerprint = _fingerprint(events, seed, config, fmt)
    expected = Path(f"{path}.expected.json")
    fresh = path.exists() and expected.exists() and stamp.exists()
    if fresh and stamp.read_text().strip() == fingerprint:
        return path, 0.0
    argv = [sys.executable, str(GENERATOR), "--events", str(events), "--seed", str(seed)]
    argv += ["--format", fmt, "--out", str(path), "--config", str(config), "--stream", STREAM]
    began = time.perf_counter()
    subprocess.run(argv, check=True)
    stamp.write_text(fingerprint + "\n")
    return path, time.perf_counter() - began


# ------------------------------------------------------------------------- ingest + reports


@dataclass
class IngestResult:
    events: int
    fmt: str
    size_mb: float
    run: Run
    counts: dict[str, int]
    expected: dict[str, int]
    problems: list[str]
    db_mb: float
    reports: dict[str, Run]

    @property
    def events_per_s(self) -> float:
        return self.counts.get("read", 0) / self.run.elapsed if self.run.elapsed else 0.0


def ingest_and_report(
    path: Path, fmt: str, events: int, config: Path, out_dir: Path, month: str | None
) -> IngestResult:
    meta = json.loads(Path(f"{path}.expected.json").read_text())
    expected = meta["ingest"]
    store = out_dir / f"store-{events}{stream_suffix()}-{fmt}.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    dead = out_dir / f"dead-{events}{stream_suffix()}-{fmt}.jsonl"
    dead.unlink(missing_ok=True)
    log = out_dir / f"ingest-{events}{stream_suffix()}-{fmt}"
    argv = slaclock(config, store, "ingest", str(path), "--json", "--dead-letter", str(dead))
    argv += INGEST_OPTIONS
    run = measure(argv, CODE, log)
    problems: list[str] = []
    counts: dict[str, int] = {}
    if run.returncode != 0:
        problems.append(f"ingest exited {run.returncode}: {run.stderr.strip()[-500:]}")
    else:
        counts = json.loads(run.stdout)
        for key, want in expected.items():
            if counts.get(key) != want:
                problems.append(f"{key}: reported {counts.get(key)}, generator expects {want}")
        total = counts.get("accepted", 0) + counts.get("duplicates", 0) + counts["rejected"]
        if counts.get("read") != total:
            problems.append(
                f"read {counts.get('read')} != accepted + duplicates + rejected = {total}"
            )
        if counts.get("voided"):
            problems.append(f"voided: {counts['voided']} (the generator makes none)")
        dead_lines = sum(1 for _ in dead.open()) if dead.exists() else 0
        want_dead = counts.get("rejected", 0) + counts.get("voided", 0)
        if dead_lines != want_dead:
            problems.append(f"dead letters: {dead_lines} lines, rejected + voided = {want_dead}")
    db_mb = store.stat().st_size / 1e6 if store.exists() else 0.0
    reports: dict[str, Run] = {}
    if run.returncode == 0:
        first = datetime.fromisoformat(meta["stream"]["first_occurred_at"])
        last = datetime.fromisoformat(meta["stream"]["last_occurred_at"])
        report_month = month or (first + (last - first) / 2).strftime("%Y-%m")
        # After every fact: reports answer from the read-model rows (no re-evaluation).
        as_of = (last + timedelta(days=2)).replace(microsecond=0).isoformat()
        for name in ("compliance", "credits"):
            args = ("report", name, "--month", report_month, "--as-of", as_of, "--json")
            rlog = out_dir / f"report-{events}{stream_suffix()}-{fmt}-{name}"
            reports[name] = measure(slaclock(config, store, *args), CODE, rlog)
            if reports[name].returncode != 0:
                problems.append(f"report {name} exited {reports[name].returncode}")
    return IngestResult(
        events=events,
        fmt=fmt,
        size_mb=path.stat().st_size / 1e6,
        run=run,
        counts=counts,
        expected=expected,
        problems=problems,
        db_mb=db_mb,
        reports=reports,
    )


def report_summary(run: Run) -> str:
    if run.returncode != 0:
        return "failed"
    data = json.loads(run.stdout)
    if "rows" in data:
        met = sum(r["met"] for r in data["rows"])
        breached = sum(r["breached"] for r in data["rows"])
        return f"{len(data['rows'])} rows, {met} met / {breached} breached"
    entries = sum(len(c["entries"]) for c in data["customers"])
    return f"{len(data['customers'])} customers, {entries} credit entries"


# ------------------------------------------------------------------------- calendar


def calendar_bench(config: Path, seconds: float = 2.0) -> dict[str, float]:
    """Calls/s of ``add_epoch``, ``add`` (datetime) and ``between_epoch`` on 'office'."""
    sys.path.insert(0, str(CODE))
    from slaclock.config import load_policy

    policy, _ = load_policy(config)
    office = policy.calendars[bench_calendar()]
    rng = random.Random(7)
    lo = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
    hi = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    targets = [3600, 3 * 3600, 6 * 3600, 9 * 3600, 24 * 3600, 40 * 3600, 12 * 3600, 90 * 60]
    count = 100_000
    starts = [rng.randrange(lo, hi) for _ in range(count)]
    durations = [targets[rng.randrange(len(targets))] for _ in range(count)]
    zone = ZoneInfo("Europe/Berlin")
    starts_dt = [datetime.fromtimestamp(t, zone) for t in starts]
    ends = [t + rng.randrange(0, 10 * 86400) for t in starts]
    # Warm up: compile every year these calls touch.
    for t, d in zip(starts[:1000], durations[:1000], strict=True):
        office.add_epoch(t, d)
    office.add_epoch(hi, 200 * 3600)

    def rate(call: Any, firsts: list[Any], seconds_list: list[int]) -> float:
        calls, began = 0, time.perf_counter()
        while True:
            for a, b in zip(firsts, seconds_list, strict=True):
                call(a, b)
            calls += len(firsts)
            elapsed = time.perf_counter() - began
            if elapsed >= seconds:
                return calls / elapsed

    return {
        "add_epoch": rate(office.add_epoch, starts, durations),
        "add": rate(office.add, starts_dt, durations),
        "between_epoch": rate(office.between_epoch, starts, ends),
    }


# ------------------------------------------------------------------------- profile


def profile(events: int, seed: int, config: Path, out_dir: Path, top: int = 15) -> str:
    """``python -m cProfile -s tottime`` of an ingest of ``events`` JSON Lines events."""
    import pstats
    from io import StringIO

    path, _ = generate(events, seed, "jsonl", config, out_dir)
    store = out_dir / f"profile-{events}{stream_suffix()}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    prof = out_dir / f"ingest-{events}{stream_suffix()}.prof"
    argv = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "slaclock"]
    argv += ["--config", str(config), "--store", f"sqlite:///{store}", "ingest", str(path)]
    argv += ["--json", *INGEST_OPTIONS]
    began = time.perf_counter()
    subprocess.run(argv, cwd=CODE, env=code_env(), check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - began
    text = StringIO()
    stats = pstats.Stats(str(prof), stream=text)
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in text.getvalue().splitlines() if line.strip()]
    stdlib = str(Path(os.__file__).parent) + "/"
    lines = [
        line.replace(str(CODE) + "/", "").replace(str(ROOT) + "/", "").replace(stdlib, "")
        for line in lines
    ]
    keep = [line for line in lines if not line.startswith(str(prof))]
    return f"(profiled ingest of {events} events took {elapsed:.1f} s)\n" + "\n".join(keep)


# ------------------------------------------------------------------------- table


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--stream",
        choices=("plain", "varied", "replies"),
        default="plain",
        help="the generated stream (bench/generate.py --stream); varied uses bench-varied.toml,"
        " replies (varied plus replies and reassignments, JSON Lines only) bench-replies.toml",
    )
    parser.add_argument("--config", type=Path, help="default: bench.toml, bench-varied.toml")
    parser.add_argument("--out-dir", type=Path, default=BENCH / "out")
    parser.add_argument("--month", help="report month (default: the stream's middle month)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="jsonl,avro")
    parser.add_argument("--no-quarter", action="store_true", help="skip the N/4 memory runs")
    parser.add_argument("--no-calendar", action="store_true")
    parser.add_argument("--profile", type=int, metavar="N", help="also cProfile an N-event ingest")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write all figures here")
    parser.add_argument(
        "--clock",
        choices=("event", "wall", "default"),
        default="event",
        help="what ages clocks for alerts during ingest (slaclock ingest --clock): the stream"
        " is historical, so by default its own event time, as for any backfill; 'wall' ages"
        " every clock to now; 'default' passes nothing (for commits without the option)",
    )
    parser.add_argument(
        "--rev",
        help="benchmark this commit (exported with git archive) instead of the working tree",
    )
    args = parser.parse_args(argv)
    global STREAM
    STREAM = args.stream
    if args.config is None:
        args.config = {"varied": VARIED_CONFIG, "replies": REPLIES_CONFIG}.get(
            STREAM, DEFAULT_CONFIG
        )
    config = args.config.resolve()
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    global CODE
    if args.rev:
        CODE, _ = export_rev(args.rev, out_dir)
    if args.clock != "default":
        if ingest_supports("--clock"):
            INGEST_OPTIONS.extend(["--clock", args.clock])
        else:
            print(f"note: this slaclock has no 'ingest --clock'; --clock {args.clock} ignored")
    formats = [f for f in args.formats.split(",") if f]
    sizes = [args.events] if args.no_quarter else [args.events // 4, args.events]

    print(
        f"slaclock bench: {args.events:,} events ({STREAM} stream), seed {args.seed}, "
        f"config {config.name}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}\ncode: {describe_code()}"
        f"\ningest options: {' '.join(INGEST_OPTIONS) or '(none)'}",
        flush=True,
    )
    results: dict[tuple[int, str], IngestResult] = {}
    generated: dict[str, float] = {}
    failed = False
    for events in sizes:
        for fmt in formats:
            path, took = generate(events, args.seed, fmt, config, out_dir)
            generated[path.name] = took
            print(f"  {path.name}: {path.stat().st_size / 1e6:.1f} MB", end="", flush=True)
            print(f" (generated in {took:.1f} s)" if took else " (reused)", flush=True)
            result = ingest_and_report(path, fmt, events, config, out_dir, args.month)
            results[(events, fmt)] = result
            failed |= result.run.returncode != 0
            print(
                f"    ingest {result.run.elapsed:.1f} s, {result.events_per_s:,.0f} events/s, "
                f"{result.run.cpu:.1f} s CPU, peak {result.run.peak_rss_mb:.0f} MB, "
                f"load {result.run.load[0]:.1f} -> {result.run.load[1]:.1f}, "
                f"counts {result.counts}",
                flush=True,
            )
            for problem in result.problems:
                print(f"    ANOMALY: {problem}", flush=True)

    n = args.events
    rows: list[list[str]] = []
    summary: dict[str, Any] = {
        "events": n,
        "seed": args.seed,
        "stream": STREAM,
        "code": describe_code(),
        "ingest_options": INGEST_OPTIONS,
        "ingest": [],
        "calendar": {},
    }
    for fmt in formats:
        result = results.get((n, fmt))
        if result is None or result.run.returncode != 0:
            rows.append([f"ingest {fmt} events/s", "failed", f">= {TARGET_EVENTS_PER_S:,}", "MISS"])
            continue
        eps = result.events_per_s
        rows.append(
            [
                f"ingest {fmt} {n:,} events (end to end)",
                f"{eps:,.0f} events/s "
                f"({result.run.elapsed:.1f} s wall, {result.run.cpu:.1f} s CPU)",
                f">= {TARGET_EVENTS_PER_S:,} events/s",
                verdict(eps >= TARGET_EVENTS_PER_S),
            ]
        )
        per_cpu = result.counts.get("read", 0) / result.run.cpu if result.run.cpu else 0.0
        rows.append(
            [
                f"ingest {fmt} per CPU second",
                f"{per_cpu:,.0f} events/CPU-s (load avg {result.run.load[0]:.1f} at start, "
                f"{result.run.load[1]:.1f} at end)",
                # Large files are decoded by a second process, so CPU seconds add up over
                # two cores: a figure for comparing runs, not one for the wall-clock target.
                "(CPU of all ingest processes; no target)",
                "",
            ]
        )
        peak = result.run.peak_rss_mb
        rows.append(
            [
                f"ingest {fmt} peak RSS",
                f"{peak:,.0f} MB",
                f"< {TARGET_PEAK_MB:,} MB",
                verdict(peak < TARGET_PEAK_MB),
            ]
        )
        quarter = results.get((n // 4, fmt))
        if quarter is not None and quarter.run.returncode == 0:
            growth = peak / quarter.run.peak_rss_mb
            rows.append(
                [
                    f"ingest {fmt} peak RSS N/4 -> N",
                    f"{quarter.run.peak_rss_mb:,.0f} -> {peak:,.0f} MB (x{growth:.2f})",
                    f"not growing (<= x{TARGET_GROWTH})",
                    verdict(growth <= TARGET_GROWTH),
                ]
            )
        course = " / ".join(f"{mb:,.0f}" for mb in result.run.rss_course())
        rows.append([f"ingest {fmt} RSS at 25/50/75/100 % of run", f"{course} MB", "", ""])
        for name, report in result.reports.items():
            rows.append(
                [
                    f"report {name} after {fmt} ingest",
                    f"{report.elapsed:.2f} s ({report_summary(report)})",
                    "ready at once",
                    verdict(report.returncode == 0),
                ]
            )
        rows.append(
            [
                f"ingest {fmt} counts",
                "as expected" if not result.problems else "; ".join(result.problems),
                "read = accepted + duplicates + rejected",
                verdict(not result.problems),
            ]
        )
        for r in (quarter, result):
            if r is None:
                continue
            summary["ingest"].append(
                {
                    "events": r.events,
                    "format": r.fmt,
                    "file_mb": round(r.size_mb, 1),
                    "db_mb": round(r.db_mb, 1),
                    "elapsed_s": round(r.run.elapsed, 2),
                    "cpu_s": round(r.run.cpu, 2),
                    "load_avg_1m": [round(x, 2) for x in r.run.load],
                    "events_per_s": round(r.events_per_s),
                    "peak_rss_mb": round(r.run.peak_rss_mb, 1),
                    "rss_course_mb": [round(x, 1) for x in r.run.rss_course()],
                    "counts": r.counts,
                    "expected": r.expected,
                    "problems": r.problems,
                    "reports_s": {k: round(v.elapsed, 2) for k, v in r.reports.items()},
                    "reports": {k: report_summary(v) for k, v in r.reports.items()},
                }
            )

    # What every CLI call pays before touching a store: interpreter, imports, config load.
    base = [sys.executable, "-m", "slaclock", "--config", str(config), "calendar", "add"]
    base += [bench_calendar(), "--start", "2025-03-03T10:00:00+01:00", "--duration", "3h"]
    startup = measure(base, CODE, out_dir / "startup")
    summary["cli_startup_s"] = round(startup.elapsed, 2)
    rows.append(["CLI start-up (calendar add, no store)", f"{startup.elapsed:.2f} s", "", ""])

    if set(formats) >= {"jsonl", "avro"}:
        for events in sizes:
            a, b = results.get((events, "jsonl")), results.get((events, "avro"))
            if a is None or b is None or not a.reports or not b.reports:
                continue
            same = a.counts == b.counts and all(
                a.reports[k].stdout == b.reports[k].stdout for k in a.reports
            )
            summary.setdefault("formats_agree", {})[str(events)] = same
            rows.append(
                [
                    f"jsonl and avro agree ({events:,} events)",
                    "same counts and reports" if same else "counts or reports DIFFER",
                    "identical",
                    verdict(same),
                ]
            )

    if not args.no_calendar:
        calls = calendar_bench(config)
        summary["calendar"] = {k: round(v) for k, v in calls.items()}
        for name, value in calls.items():
            target = TARGET_CALENDAR_CALLS_PER_S if name != "between_epoch" else None
            rows.append(
                [
                    f"calendar {bench_calendar()} {name}",
                    f"{value:,.0f} calls/s",
                    f">= {target:,} calls/s" if target else "(no target)",
                    verdict(value >= target) if target else "",
                ]
            )

    print()
    print_table(rows, ["measure", "measured", "target", "verdict"])
    if args.profile:
        print()
        text = profile(args.profile, args.seed, config, out_dir)
        summary["profile"] = text
        print(text)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
