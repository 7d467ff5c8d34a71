#!/usr/bin/env python3
"""Rewrite imports of the layers' old top-level names to their names under ``slaclock``.

``from domain.x import y`` becomes ``from slaclock.domain.x import y``, ``import schemas``
becomes ``from slaclock import schemas`` (the same name bound), ``import domain.x as y``
becomes ``import slaclock.domain.x as y``; likewise for ``projections``, ``consumers`` and
``schemas``. Only import statements change (prose and file paths keep the folder names).
Idempotent: run it again after merging a branch written with the old names, then let ruff
sort the imports (the script does, with ``--no-sort`` to skip).

    python scripts/rename_imports.py [--check] [--no-sort] [PATH...]

Default paths: the layers' folders, ``slaclock/``, ``tests/`` and ``bench/``. ``--check``
changes nothing and exits 1 if a file would change.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

OLD_NAMES = ("domain", "projections", "consumers", "schemas")
FOLDERS = ("domain", "projections", "consumers", "schemas", "slaclock", "tests", "bench")
ROOT = Path(__file__).resolve().parent.parent

_NAMES = "|".join(OLD_NAMES)
_FROM = re.compile(rf"^(?P<indent>[ \t]*)from (?P<name>{_NAMES})(?P<rest>[. ])", re.M)
_IMPORT_PLAIN = re.compile(
    rf"^(?P<indent>[ \t]*)import (?P<name>{_NAMES})[ \t]*(?P<end>#.*)?$", re.M
)
_IMPORT_DOTTED = re.compile(rf"^(?P<indent>[ \t]*)import (?P<name>{_NAMES})\.", re.M)


def rewrite(text: str) -> str:
    """``text`` with its imports of the old names rewritten (unchanged if there are none)."""
    text = _FROM.sub(r"\g<indent>from slaclock.\g<name>\g<rest>", text)

    def plain(match: re.Match[str]) -> str:
        end = f"  {match['end']}" if match["end"] else ""
        return f"{match['indent']}from slaclock import {match['name']}{end}"

    text = _IMPORT_PLAIN.sub(plain, text)
    return _IMPORT_DOTTED.sub(r"\g<indent>import slaclock.\g<name>.", text)


def python_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_file() and path.suffix == ".py":
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in sorted(path.rglob("*.py")) if "__pycache__" not in p.parts)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--no-sort", action="store_true", help="do not run ruff's import sort")
    args = parser.parse_args(argv)
    paths = args.paths or [ROOT / folder for folder in FOLDERS]
    changed = []
    for path in python_files(paths):
        text = path.read_text()
        new = rewrite(text)
        if new != text:
            changed.append(path)
            if not args.check:
                path.write_text(new)
    for path in changed:
        print(f"{'would rewrite' if args.check else 'rewrote'} {path.relative_to(ROOT)}")
    if args.check:
        return 1 if changed else 0
    if changed and not args.no_sort:
        ruff = [sys.executable, "-m", "ruff", "check", "--quiet", "--select", "I", "--fix"]
        subprocess.run([*ruff, *map(str, changed)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
