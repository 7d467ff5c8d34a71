"""Translate throughput: helpdesk payloads to slaclock events, in process.

    python bench/translate_bench.py                   # 2,000 tickets per kind, best of 3
    python bench/translate_bench.py --tickets 200 --profile jira
    python bench/translate_bench.py --keys            # with replies = true and group (section 5)

The bodies are the webhook lifecycles of ``tests/fixtures/sources/hooks/<kind>/payloads.jsonl``
(real shapes: Jira ``issue_updated`` bodies of 3.7-6.6 KB with a changelog or a comment, Zendesk
events of about 1 KB, Zammad snapshots of about 5 KB, GLPI items of about 1 KB), without their
unmappable last line, copied for ``--tickets`` tickets per kind with the ticket id changed. They
are translated step by step across all tickets (every ticket's creation, then every ticket's
second change, ...), so the in-memory keeper holds all tickets, as a busy desk's would. The
redelivered line of each lifecycle is included.

Only ``Translator.translate`` is timed (``consumers.source_intake``: JSON parsing, reading the
ticket object, rules 1-8, event ids); the bodies are built beforehand and nothing is stored.
Figures: payloads per second, wall and CPU, best of ``--repeat`` runs with a fresh translator
each; ``loads/CPU s`` is ``json.loads`` alone on the same bodies, the floor of any translator.
The target is 20,000 payloads/s on a 2-core machine. ``--keys`` gives every source
``replies = true`` and a ``group`` path (service-levels section 5): comments then also become
reply events and the group is read from every body (without the flag: what the sources emit
when the keys are absent). ``--profile KIND`` prints the functions
that take the time (cProfile, one run). Nothing asserts; exit code 0.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from slaclock.config import load_sources
from slaclock.consumers.events import Rejected
from slaclock.consumers.source_intake import Payload, Translator

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / "tests" / "fixtures" / "sources" / "hooks"
TARGET = 20_000

# kind -> (source name, the byte strings holding the ticket id, a template for ticket n)
KINDS: dict[str, tuple[str, list[tuple[bytes, str]]]] = {
    "jira": ("jsd", [(b'"key":"SUP-481"', '"key":"SUP-{n}"')]),
    "zendesk": ("zd", [(b'"id":"48213"', '"id":"{n}"'), (b"zen:ticket:48213", "zen:ticket:{n}")]),
    "zammad": ("zm", [(b'"number":"91007"', '"number":"{n}"')]),
    "glpi": ("gl", [(b'"id":5120,', '"id":{n},'), (b'"items_id":5120,', '"items_id":{n},')]),
}


def lifecycle(kind: str) -> list[bytes]:
    """The kind's lifecycle bodies, without the unmappable last line."""
    return (HOOKS / kind / "payloads.jsonl").read_bytes().splitlines()[:-1]


def bodies(kind: str, tickets: int) -> list[bytes]:
    """Step by step across ``tickets`` copies of the lifecycle, each with its own ticket id."""
    _, swaps = KINDS[kind]
    steps = lifecycle(kind)
    out = []
    for step in steps:
        for n in range(100_000, 100_000 + tickets):
            body = step
            for old, new in swaps:
                body = body.replace(old, new.format(n=n).encode())
            out.append(body)
    return out


def translators(config: Path) -> dict[str, Callable[[], Translator]]:
    sources = load_sources(config)
    return {
        kind: (lambda name=name: Translator(sources[name])) for kind, (name, _) in KINDS.items()
    }


GROUPS = {
    "jira": "fields.customfield_10001",
    "zendesk": "group_id",
    "zammad": "group.name",
    "glpi": "team.type=Group,role=assigned.name",
}
"""``--keys``: each kind's ``group`` path (Jira's is a custom field the bodies carry as null)."""


def config_file(folder: Path, keys: bool = False) -> Path:
    text = (HOOKS / "slaclock.toml").read_text()
    for kind in KINDS:
        text += "\n" + (HOOKS / kind / "source.toml").read_text()
        if keys:
            text += f'replies = true\ngroup = "{GROUPS[kind]}"\n'

    path = folder / "bench-sources.toml"
    path.write_text(text)
    return path


def run_once(work: list[tuple[Translator, Payload]]) -> tuple[float, float, int, int]:
    emitted = rejected = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for translator, payload in work:
        try:
            emitted += len(translator.translate(payload))
        except Rejected:
            rejected += 1
    return time.perf_counter() - wall, time.process_time() - cpu, emitted, rejected


def parse_only(work: list[tuple[Translator, Payload]]) -> float:
    """CPU seconds of ``json.loads`` alone on the same bodies: the floor any translator pays."""
    cpu = time.process_time()
    for _, payload in work:
        json.loads(payload.body)
    return time.process_time() - cpu


def scenario(
    kinds: list[str], tickets: int, make: dict[str, Callable[[], Translator]]
) -> Callable[[], list[tuple[Translator, Payload]]]:
    """A fresh translator per kind and the payloads, interleaved across kinds."""
    per_kind = {kind: bodies(kind, tickets) for kind in kinds}

    def build() -> list[tuple[Translator, Payload]]:
        fresh = {kind: make[kind]() for kind in kinds}
        work = []
        longest = max(len(b) for b in per_kind.values())
        for index in range(longest):
            for kind in kinds:
                if index < len(per_kind[kind]):
                    payload = Payload(per_kind[kind][index], f"{kind}:{index + 1}")
                    work.append((fresh[kind], payload))
        return work

    return build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=2000, help="tickets per kind")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=[*KINDS, "mix"], help="profile one scenario")
    parser.add_argument("--keys", action="store_true", help="sources with replies and group")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        make = translators(config_file(Path(folder), args.keys))
    scenarios = {kind: [kind] for kind in KINDS} | {"mix": list(KINDS)}
    if args.profile:
        work = scenario(scenarios[args.profile], args.tickets, make)()
        profiler = cProfile.Profile()
        profiler.runcall(run_once, work)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
        return 0

    print(
        f"{'scenario':<8} {'payloads':>8} {'KB avg':>6} {'emitted':>7} {'rejected':>8} "
        f"{'wall s':>7} {'payloads/s':>10} {'CPU s':>6} {'per CPU s':>9} {'loads/CPU s':>11}"
        "  target"
    )
    for name, kinds in scenarios.items():
        build = scenario(kinds, args.tickets, make)
        best, floor = None, None
        for _ in range(args.repeat):
            work = build()
            result = run_once(work)
            if best is None or result[0] < best[0]:
                best = result
            loads = parse_only(work)
            floor = loads if floor is None else min(floor, loads)
        assert best is not None and floor is not None
        wall, cpu, emitted, rejected = best
        size = sum(len(p.body) for _, p in work) / len(work) / 1024
        rate = len(work) / wall
        print(
            f"{name:<8} {len(work):>8} {size:>6.1f} {emitted:>7} {rejected:>8} {wall:>7.3f} "
            f"{rate:>10,.0f} {cpu:>6.3f} {len(work) / cpu:>9,.0f} {len(work) / floor:>11,.0f}  "
            f"{'met' if rate >= TARGET else 'MISSED'} ({TARGET:,})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
