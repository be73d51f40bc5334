"""The one way a foreground command learns it should stop: SIGINT/SIGTERM set an event.

Examples:
    >>> with stop_on_signals() as stop:  # doctest: +SKIP
    ...     while not stop.wait(0.5):
    ...         work()
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Stop(threading.Event):
    """A stop request, set by code or by a signal; `signals` counts the signals received.

    Counting lets a stage treat a second Ctrl-C as "stop waiting" (the producer then gives
    up flushing) while the first one asks for a graceful stop.
    """

    def __init__(self) -> None:
        super().__init__()
        self.signals = 0


@contextmanager
def stop_on_signals(stop: Stop | None = None) -> Iterator[Stop]:
    """Route SIGINT and SIGTERM to `stop` (a new one by default) while the block runs.

    The previous handlers are restored after. Off the main thread, where Python cannot
    install handlers, the event is yielded untouched: only code can set it.
    """
    stop = stop if stop is not None else Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: Any) -> None:
        stop.signals += 1
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
