"""A/B of translation cost: an older commit's source modules against this tree's, in one process.

    python bench/translate_ab.py [--base COMMIT] [--tickets 300] [--rounds 25]

The four modules ``consumers/source_{config,kinds,rules,readers}.py`` of ``--base`` (default
``df92edf``, before service-levels section 5) are extracted with ``git show`` into a temporary
package (their imports of each other renamed), and the webhook lifecycles of
``translate_bench.py`` are translated by three variants in turn: ``base`` (the old modules),
``new`` (this tree, the sources as configured: no ``replies`` nor ``group``) and ``keys`` (this
tree with ``replies = true`` and a ``group`` path). The order rotates every round; the figure is
the best (least) CPU time of all rounds, which on a shared machine is the run least disturbed.
Nothing asserts; exit code 0.
"""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import translate_bench as tb

from slaclock.consumers import source_config as ncfg
from slaclock.consumers.source_intake import Payload, Translator

MODULES = ("source_config", "source_kinds", "source_rules", "source_readers")


def base_package(commit: str, folder: Path) -> tuple:
    """The old modules as package ``basepkg`` in ``folder`` (imported from there)."""
    package = folder / "basepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in MODULES:
        text = subprocess.run(
            ["git", "show", f"{commit}:consumers/{name}.py"],
            cwd=tb.ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        text = re.sub(r"slaclock\.consumers\.(source_\w+)", r"basepkg.\1", text)
        (package / f"{name}.py").write_text(text)
    sys.path.insert(0, str(folder))
    return tuple(importlib.import_module(f"basepkg.{name}") for name in MODULES)


class BaseTranslator:
    """The old modules' translation (``Translator.translate`` without its error wrapping)."""

    def __init__(self, modules: tuple, config: object) -> None:
        self.readers, self.rules = modules[3], modules[2]
        self.config, self.keeper = config, self.rules.MemoryKeeper()

    def translate(self, payload: Payload) -> list:
        change = self.readers.read_change(self.config, payload.body)
        if change is None:
            return []
        return self.rules.apply_change(self.config, change, self.keeper, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="df92edf")
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    tables = {
        kind: tomllib.loads((tb.HOOKS / kind / "source.toml").read_text())["sources"][name]
        for kind, (name, _) in tb.KINDS.items()
    }
    with tempfile.TemporaryDirectory() as folder:
        base = base_package(args.base, Path(folder))

    def make(kind: str, variant: str) -> Translator | BaseTranslator:
        name = tb.KINDS[kind][0]
        if variant == "base":
            return BaseTranslator(base, base[0].parse_source(name, tables[kind]))
        table = dict(tables[kind])
        if variant == "keys":
            table |= {"replies": True, "group": tb.GROUPS[kind]}
        return Translator(ncfg.parse_source(name, table))

    bodies = {k: [Payload(b, k) for b in tb.bodies(k, args.tickets)] for k in tb.KINDS}
    best: dict[tuple[str, str], float] = {}
    order = ["base", "new", "keys"]
    for round_ in range(args.rounds):
        for variant in order[round_ % 3 :] + order[: round_ % 3]:
            for kind in tb.KINDS:
                translator = make(kind, variant)
                cpu = time.process_time()
                for payload in bodies[kind]:
                    translator.translate(payload)
                took = time.process_time() - cpu
                best[(kind, variant)] = min(best.get((kind, variant), took), took)
    print(f"{'kind':<8} {'payloads':>8} {'base/CPU s':>10} {'new/CPU s':>10} {'keys/CPU s':>10}"
          f" {'new vs base':>11} {'keys vs base':>12}")  # fmt: skip
    for kind in tb.KINDS:
        n = len(bodies[kind])
        b, w, k = (n / best[(kind, v)] for v in order)
        print(f"{kind:<8} {n:>8} {b:>10,.0f} {w:>10,.0f} {k:>10,.0f} {w / b - 1:>+11.1%}"
              f" {k / b - 1:>+12.1%}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
