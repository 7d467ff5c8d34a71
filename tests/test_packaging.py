"""An installed slaclock adds one top-level import name, ``slaclock``, and works from there.

The wheel is built from a copy of the sources (the repository is left as it was), installed
into a directory of its own, and used from another working directory: the layers import under
``slaclock``, their old bare names do not import, and the installed code reads the old-release
store (old event topics) with the same number of tickets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (
    "pyproject.toml",
    "README.md",
    "slaclock",
    "domain",
    "projections",
    "consumers",
    "schemas",
)
OLD = ROOT / "tests" / "fixtures" / "old_release"


def _run(*argv: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=300, **kwargs
    )  # type: ignore[call-overload]
    assert done.returncode == 0, done.stderr
    return done


def _wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, source / name)
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", source)
    (wheel,) = (tmp_path / "dist").glob("slaclock-*.whl")
    return wheel


def test_an_installed_slaclock_exposes_only_slaclock(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top == {"slaclock"}
    top_level = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    with zipfile.ZipFile(wheel) as archive:
        assert all(archive.read(n).decode().split() == ["slaclock"] for n in top_level)
    assert "slaclock/schemas/registry.json" in names  # package data moved with the package

    target = tmp_path / "installed"
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "install", "-q", "--no-deps", "--target", target, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("SLACLOCK_STORE", None)

    def python(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True
        )

    done = python("import slaclock.domain.ticket as m, slaclock.schemas as s; print(m.__file__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(target / "slaclock" / "domain")), done.stdout
    for old in ("domain", "projections", "consumers", "schemas"):
        failed = python(f"import {old}")
        assert failed.returncode == 1 and "ModuleNotFoundError" in failed.stderr, old

    store = tmp_path / "old.db"
    shutil.copy(OLD / "store.db", store)
    run = (sys.executable, "-m", "slaclock", "--config", OLD / "slaclock.toml")
    tickets = _run(
        *run, "--store", f"sqlite:///{store}", "tickets", "--json", cwd=elsewhere, env=env
    )
    expected = json.loads((OLD / "answers" / "tickets.json").read_text())
    assert len(json.loads(tickets.stdout)) == len(expected)
