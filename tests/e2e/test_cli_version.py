"""``slaclock --version``: the versions, with no configuration file or store around."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path


def test_version_needs_no_config_or_store(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "slaclock", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "SLACLOCK_STORE": f"sqlite:///{tmp_path / 'x.db'}"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"slaclock {version('slaclock')} (holidays {version('holidays')})\n"
    assert done.stderr == ""
    assert list(tmp_path.iterdir()) == []  # no store was opened or created
