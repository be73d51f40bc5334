"""The foreground runner: start Spark, start a stage's queries, wait, stop cleanly.

`silver`, `gold`, `process` and `up` all run through `run_stage`: signals are caught from
before Spark starts (a Ctrl-C during its start-up stops the queries as soon as they exist
instead of interrupting the JVM launch), status lines are printed while the queries run,
every query is stopped on the way out, and a query that died raises `QueryFailed`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rich.console import Console

from shopstream.config import Settings
from shopstream.gold.job import GoldProgress
from shopstream.runtime.exceptions import QueryFailed
from shopstream.runtime.signals import Stop, stop_on_signals

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQuery


@dataclass
class Streams:
    """The running queries of one Spark application, by stage name."""

    spark: SparkSession
    queries: dict[str, StreamingQuery] = field(default_factory=dict)
    gold: GoldProgress = field(default_factory=GoldProgress)

    def stop(self) -> None:
        """Stop Silver first so Gold is not left reading a half-written micro-batch."""
        self.gold.stopping.set()  # a commit waiting out a warehouse outage gives up
        stop_all(self.queries[n] for n in ("silver", "gold") if n in self.queries)


Phase = Callable[[Streams], None]
"""Starts some of a stage's queries into the Streams (non-blocking)."""


def query_failed(query: str, cause: str) -> str:
    """The user's message for a query that died (`cause`: the first line of Spark's error)."""
    return f"the {query} query stopped with an error: {cause[:500]}. See <home>/logs/spark.log."


@dataclass(frozen=True)
class Stage:
    """A stage as the runner runs it.

    `phases` run one after another, each until its queries finish (available-now) or a
    stop: Silver draining raw_events before Gold starts is two phases; streaming is one.
    """

    phases: Sequence[Phase]
    app_name: str = "shopstream"
    status: Callable[[Streams], str] | None = None  # a status line, every `status_every` s
    status_every: float = 5.0
    failure: Callable[[str, str], str] = query_failed  # (query, cause) -> message
    starting: str | None = None  # a spinner while Spark and the first phase start
    on_started: Callable[[Streams], None] | None = None  # once the first phase runs
    on_stopping: Callable[[], None] | None = None  # before the queries are stopped


def run_stage(
    settings: Settings, stage: Stage, *, console: Console | None = None, stop: Stop | None = None
) -> Streams:
    """Run `stage` in the foreground until its queries finish or SIGINT/SIGTERM; stop them.

    Raises QueryFailed if a query died.
    """
    from shopstream.kafka.clients import check_connection
    from shopstream.spark.session import spark_session

    # Kafka's address and credentials are checked before Spark starts (seconds, not minutes).
    check_connection(settings)
    spinner = console.status(stage.starting) if console and stage.starting else None

    def started(streams: Streams) -> None:
        if spinner is not None:
            spinner.stop()
        if stage.on_started is not None:
            stage.on_started(streams)

    with stop_on_signals(stop) as stop:
        try:
            if spinner is not None:
                spinner.start()
            streams = Streams(spark_session(settings, stage.app_name))
            run_streams(streams, replace(stage, on_started=started), stop, console=console)
        finally:
            if spinner is not None:
                spinner.stop()
    return streams


def run_streams(
    streams: Streams, stage: Stage, stop: threading.Event, *, console: Console | None = None
) -> bool:
    """Start `stage`'s phases in the running Spark application, each waited for; stop all.

    Returns True if `stop` ended the run. Raises QueryFailed if a query died.
    """
    try:
        return _run_phases(streams, stage, stop, console)
    except QueryFailed:
        # Gold stopped on a terminal warehouse error: its own message names the fix, which
        # Spark's wrapping of it (a Python traceback inside a JVM error) would bury.
        if streams.gold.fatal is not None:
            raise streams.gold.fatal from None
        raise
    finally:
        if stage.on_stopping is not None:
            stage.on_stopping()
        streams.stop()


def _run_phases(
    streams: Streams, stage: Stage, stop: threading.Event, console: Console | None
) -> bool:
    """Each phase started and waited for; True if `stop` ended the run."""
    status = stage.status
    for n, phase in enumerate(stage.phases):
        phase(streams)
        if n == 0 and stage.on_started is not None:
            stage.on_started(streams)
        if watch(
            streams.queries,
            stop,
            status=(lambda: status(streams)) if status is not None else None,
            console=console,
            every=stage.status_every,
            failure=stage.failure,
        ):
            return True
    return False


def watch(
    queries: Mapping[str, Any],
    stop: threading.Event,
    *,
    status: Callable[[], str] | None = None,
    console: Console | None = None,
    every: float = 5.0,
    poll: float = 0.25,
    failure: Callable[[str, str], str] = query_failed,
) -> bool:
    """Wait until every query finished (available-now) or `stop` is set.

    Prints `status()` every `every` seconds. Returns True if stopped by the event.
    Raises QueryFailed if a query died.
    """
    last = time.monotonic()
    while not stop.is_set():
        active = 0
        for name, q in queries.items():
            if q.isActive:
                active += 1
            elif (exc := q.exception()) is not None:
                cause = _first_line(exc)
                raise QueryFailed(failure(name, cause), query=name, cause=cause)
        if not active:
            return False
        if status and console and time.monotonic() - last >= every:
            console.print(status(), highlight=False)
            last = time.monotonic()
        stop.wait(poll)
    return True


def _first_line(exc: BaseException) -> str:
    """The first line of Spark's error (the rest is a JVM stack trace)."""
    text = str(getattr(exc, "desc", exc)).strip()
    return text.splitlines()[0] if text else repr(exc)


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
