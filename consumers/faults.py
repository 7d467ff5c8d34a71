"""Crashes on request, for the tests that prove the dead-letter outbox loses nothing.

A real ``kill -9`` cannot be timed to the moment between two steps; this exits there.
Never set the variable in production.
"""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("slaclock.kafka.consume")

FAULT_VARIABLE = "SLACLOCK_TEST_FAULT"
"""``exit-after-store`` makes the process exit (code :data:`FAULT_EXIT`, no cleanup) right
after the first batch with dead letters is committed, before they are relayed: the moment a
crash would have lost them without the outbox; ``exit-after-relay`` right after the broker
acknowledged dead letters, before they are marked relayed (the next start sends them again,
with the same ids)."""
FAULT_EXIT = 86


def inject(fault: str) -> None:
    """Exit here, without cleanup, if :data:`FAULT_VARIABLE` asks for ``fault``."""
    if os.environ.get(FAULT_VARIABLE) == fault:
        log.error("%s=%s: exiting", FAULT_VARIABLE, fault)
        sys.stderr.flush()
        os._exit(FAULT_EXIT)
