"""Test-only: a deterministic point inside Gold's warehouse transaction.

Crash and stop tests need to act while a commit is open (its rows written, COMMIT not yet
sent). With `SHOPSTREAM_TEST_PAUSE_IN_COMMIT=PATH` set, each commit creates PATH there and
waits until the test removes it; killed meanwhile, the transaction never commits. Unset (as
always outside tests) it costs one dictionary lookup. Not a setting: never set it in use.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "SHOPSTREAM_TEST_PAUSE_IN_COMMIT"
# Bounded, so a test that forgets to release it cannot hang Gold for good.
MAX_PAUSE_SECONDS = 300.0


def pause_in_commit() -> None:
    """Test-only: create $SHOPSTREAM_TEST_PAUSE_IN_COMMIT and wait while it exists."""
    path = os.environ.get(PAUSE_ENV)
    if not path:
        return
    marker = Path(path)
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + MAX_PAUSE_SECONDS
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
