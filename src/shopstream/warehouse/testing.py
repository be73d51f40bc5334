"""Test-only: deterministic points inside a Gold batch, for crash and stop tests.

Tests need to act at an exact point: while a commit is open (its rows written, COMMIT not
yet sent), or just before Gold reads its batch out of Spark. With
`SHOPSTREAM_TEST_PAUSE_IN_COMMIT=PATH` (or `SHOPSTREAM_TEST_PAUSE_BEFORE_READ=PATH`) set,
Gold creates PATH there and waits until the test removes it; killed meanwhile, the
transaction never commits. Unset (as always outside tests) each costs one dictionary
lookup. Not settings: never set them in use.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "SHOPSTREAM_TEST_PAUSE_IN_COMMIT"
PAUSE_BEFORE_READ_ENV = "SHOPSTREAM_TEST_PAUSE_BEFORE_READ"
# Bounded, so a test that forgets to release it cannot hang Gold for good.
MAX_PAUSE_SECONDS = 300.0


def pause_in_commit() -> None:
    """Test-only: create $SHOPSTREAM_TEST_PAUSE_IN_COMMIT and wait while it exists."""
    _pause(PAUSE_ENV)


def pause_before_read() -> None:
    """Test-only: create $SHOPSTREAM_TEST_PAUSE_BEFORE_READ and wait while it exists."""
    _pause(PAUSE_BEFORE_READ_ENV)


def _pause(variable: str) -> None:
    path = os.environ.get(variable)
    if not path:
        return
    marker = Path(path)
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + MAX_PAUSE_SECONDS
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
