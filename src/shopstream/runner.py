"""Running streaming queries in the foreground: status lines, clean stop on Ctrl-C/SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from shopstream.errors import ShopstreamError, Terminal


class QueryFailed(Terminal):
    """A streaming query terminated with an error."""


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An Event set by SIGINT or SIGTERM while the block runs (handlers restored after)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _failure(name: str, query: Any) -> ShopstreamError | None:
    exc = query.exception()
    if exc is None:
        return None
    desc = str(getattr(exc, "desc", exc)).strip().splitlines()[0][:500]
    return QueryFailed(
        f"the {name} query stopped with an error: {desc}. See <home>/logs/spark.log."
    )


def run_queries(
    queries: Mapping[str, Any],
    stop: threading.Event,
    *,
    status: Callable[[], str] | None = None,
    console: Console | None = None,
    every: float = 5.0,
    poll: float = 0.25,
) -> bool:
    """Wait until every query finished (available-now) or `stop` is set; stop them all.

    Prints `status()` every `every` seconds. Returns True if stopped by the event.
    Raises QueryFailed if a query died.
    """
    last = time.monotonic()
    try:
        while not stop.is_set():
            active = 0
            for name, q in queries.items():
                if q.isActive:
                    active += 1
                elif (err := _failure(name, q)) is not None:
                    raise err
            if not active:
                return False
            if status and console and time.monotonic() - last >= every:
                console.print(status(), highlight=False)
                last = time.monotonic()
            stop.wait(poll)
        return True
    finally:
        stop_all(queries.values())


def stop_all(queries: Iterable[Any]) -> None:
    """Stop queries, tolerating a JVM that is already shutting down.

    A SIGTERM sent to the whole process group (service managers, `timeout`) also reaches
    Spark's JVM, whose shutdown hook stops the queries itself; the checkpoints stay
    consistent either way, so a failed stop() here is not an error.
    """
    for q in queries:
        with contextlib.suppress(Exception):
            if q.isActive:
                q.stop()
