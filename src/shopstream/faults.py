"""Pause points: exact places where a stage stops and waits, for fault injection.

A crash or stop test must act at an exact point: while Gold's commit is open (its rows
written, COMMIT not yet sent), or just before Gold reads its batch out of Spark. The
`faults` settings name a file per point (`config.FaultSettings`); at the point, the stage
creates that file and waits while it exists, bounded, so a run that forgets to remove it
cannot hang the stage for good. Killed meanwhile, the transaction never commits.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# The settings' environment variables (SHOPSTREAM_ + section + __ + field), for runs that
# start a stage as a child process.
PAUSE_IN_COMMIT_ENV = "SHOPSTREAM_FAULTS__PAUSE_IN_COMMIT"
PAUSE_BEFORE_READ_ENV = "SHOPSTREAM_FAULTS__PAUSE_BEFORE_READ"
MAX_PAUSE_SECONDS = 300.0


def pause_at(marker: Path | None) -> None:
    """With a marker set, create it (holding this pid) and wait while it exists."""
    if marker is None:
        return
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + MAX_PAUSE_SECONDS
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
