"""Waiting on a page's state without `page.wait_for_function`.

The dashboard's Content-Security-Policy has no 'unsafe-eval', and Playwright's
`wait_for_function` polls with `eval` inside the page, which that policy refuses. Each
`page.evaluate` is a DevTools call, which the policy does not govern, so polling from here
sees the page exactly as its own (policy-bound) scripts left it.
"""

from __future__ import annotations

import time
from typing import Any


def wait_until(page: Any, expression: str, timeout: float) -> None:
    """Poll the JavaScript `expression` until it is truthy; `timeout` in milliseconds."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page never satisfied {expression!r} in {timeout / 1000:g} s")
        time.sleep(0.1)
