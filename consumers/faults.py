"""Crashes on request, for the tests that prove the dead-letter outbox loses nothing.

A real ``kill -9`` cannot be timed to the moment between two steps; this exits there.
Never set the variable in production.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger("slaclock.kafka.consume")

FAULT_VARIABLE = "SLACLOCK_TEST_FAULT"
"""``exit-after-store`` makes the process exit (code :data:`FAULT_EXIT`, no cleanup) right
after the first batch with dead letters is committed, before they are relayed: the moment a
crash would have lost them without the outbox; ``exit-after-relay`` right after the broker
acknowledged dead letters, before they are marked relayed (the next start sends them again,
with the same ids)."""
FAULT_EXIT = 86

HOLD_VARIABLE = "SLACLOCK_TEST_HOLD"
"""With ``SLACLOCK_TEST_FAULT=recompute-hold``: a file; a large recompute waits after each
shard it wrote while that file exists (a test reads the store meanwhile, then deletes it)."""


def inject(fault: str) -> None:
    """Exit here, without cleanup, if :data:`FAULT_VARIABLE` asks for ``fault``."""
    if os.environ.get(FAULT_VARIABLE) == fault:
        log.error("%s=%s: exiting", FAULT_VARIABLE, fault)
        sys.stderr.flush()
        os._exit(FAULT_EXIT)


def hold(fault: str) -> None:
    """Wait here while :data:`FAULT_VARIABLE` asks for ``fault`` and the file named by
    :data:`HOLD_VARIABLE` exists (creating ``<file>.reached`` to say it got here)."""
    if os.environ.get(FAULT_VARIABLE) != fault or not os.environ.get(HOLD_VARIABLE):
        return
    path = Path(os.environ[HOLD_VARIABLE])
    if path.exists():
        Path(f"{path}.reached").touch()
    while path.exists():
        time.sleep(0.05)
