"""`silver`, `gold` and `process` as the foreground runner runs them.

`process` runs Silver and Gold as two queries in one Spark application. With
`available_now`, Silver drains raw_events first and Gold then drains what Silver wrote,
so one call processes everything exactly once and exits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console

from shopstream.config import Settings
from shopstream.gold.job import counters, start_gold
from shopstream.runtime.retention import guard_retention
from shopstream.runtime.runner import Phase, Stage, Streams, run_stage, run_streams
from shopstream.runtime.signals import stop_on_signals
from shopstream.warehouse.base import Warehouse

STAGES = ("silver", "gold")
T = TypeVar("T")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from shopstream.silver.metrics import Totals
    from shopstream.sqlendpoint import SqlEndpoint


def run_silver(
    settings: Settings,
    *,
    available_now: bool = False,
    real_time: bool | str = False,
    status_every: float = 10.0,
    console: Console | None = None,
) -> Totals:
    """Run Silver until done (available-now) or SIGINT/SIGTERM; return its totals."""
    from shopstream.silver.job import query_totals, start_silver
    from shopstream.silver.job import status_line as silver_line

    skip_lost = guard_retention(settings, ("silver",), console=console)

    def start(streams: Streams) -> None:
        streams.queries["silver"] = start_silver(
            streams.spark,
            settings,
            available_now=available_now,
            real_time=real_time,
            skip_lost=skip_lost["silver"],
        )

    def status(streams: Streams) -> str:
        query = streams.queries["silver"]
        return silver_line(query_totals(streams.spark, query), query)

    def failure(_query: str, cause: str) -> str:
        return (
            f"the Silver query failed: {cause[:400]}. See {settings.files.spark_log}; "
            "the checkpoint is intact, so rerunning resumes where it stopped."
        )

    stage = Stage(
        [start],
        app_name="shopstream-silver",
        status=status,
        status_every=status_every,
        failure=failure,
    )
    streams = run_stage(settings, stage, console=console)
    return query_totals(streams.spark, streams.queries["silver"])


def waiting_line(console: Console) -> Callable[[BaseException, float], None]:
    """Prints each failed attempt to reach the warehouse while the writer waits for it."""

    def say(err: BaseException, delay: float) -> None:
        console.print(
            f"warehouse unavailable: {err} — retrying in {delay:.1f} s (Ctrl-C to stop)",
            highlight=False,
        )

    return say


ABANDONED = "stopped while waiting for the warehouse; nothing was committed"


def run_as_writer(
    settings: Settings,
    command: str,
    stop: threading.Event,
    console: Console,
    body: Callable[[Warehouse, SqlEndpoint | None], T],
    *,
    announce: bool = True,
) -> T | None:
    """`body(warehouse, endpoint)` holding the warehouse for writing, its SQL endpoint serving.

    The one way `gold`, `process` and `up` start a writer: wait (saying so) while another
    process holds the warehouse, serve BI tools and run the business-alert checks while we
    hold it, print where (`announce`).
    None if stopped while waiting: nothing was committed.
    """
    from shopstream.alerts.monitor import monitoring
    from shopstream.sqlendpoint import serving
    from shopstream.warehouse.outage import RetryAbandoned
    from shopstream.warehouse.writer import writing

    try:
        with (
            writing(settings, command=command, stop=stop, on_retry=waiting_line(console)) as wh,
            serving(wh, settings) as sql,
            monitoring(wh, settings),
        ):
            if announce:
                print_sql_endpoint(console, sql)
            return body(wh, sql)
    except RetryAbandoned:
        return None


def run_gold(settings: Settings, *, available_now: bool = False, console: Console) -> str:
    """Run Gold until done (available-now) or SIGINT/SIGTERM; return its last status line."""
    from shopstream.kafka.topics import ensure_topics

    ensure_topics(settings)
    with stop_on_signals() as stop:

        def body(wh: Warehouse, _sql: SqlEndpoint | None) -> str:
            skip_lost = guard_retention(settings, ("gold",), wh, console)

            def start(streams: Streams) -> None:
                streams.queries["gold"], streams.gold = start_gold(
                    streams.spark,
                    settings,
                    wh,
                    available_now=available_now,
                    skip_lost=skip_lost["gold"],
                )
                console.print(f"gold running -> {wh.target()} (Ctrl-C to stop)")

            stage = Stage([start], app_name="shopstream-gold", status=gold_line)
            return gold_line(run_stage(settings, stage, console=console, stop=stop))

        line = run_as_writer(settings, "gold", stop, console, body)
        return line if line is not None else f"gold: {ABANDONED}"


def print_sql_endpoint(console: Console, endpoint: SqlEndpoint | None) -> None:
    """Where BI tools and `shopstream sql` reach the warehouse while this process holds it."""
    if endpoint is not None:
        console.print(f"  SQL         {endpoint.url}  (password: {endpoint.password_source})")


def gold_line(streams: Streams) -> str:
    """One line: Gold's counters."""
    c = counters(streams.gold)
    return (
        f"gold: {c['batches']} batches, {c['new_events']:,} new events, "
        f"{c['duplicates']:,} duplicates, {c['dead_letters']:,} dead letters" + _unavailable(c)
    )


def _unavailable(gold: dict[str, Any]) -> str:
    """` | warehouse unavailable since 04:00:00 UTC, retrying` while Gold waits, else ``."""
    since = gold.get("unavailable_since")
    return f" | warehouse unavailable since {since:%H:%M:%S} UTC, retrying" if since else ""


def run_process(
    settings: Settings,
    *,
    available_now: bool = False,
    real_time: bool | None = None,
    console: Console,
) -> str:
    """Run Silver + Gold in one Spark application until done or a signal; return a status line.

    Streaming, Silver runs in Real-time Mode where the machine can (`real_time` None), or
    as asked; available-now is micro-batches.
    """
    from shopstream.kafka.topics import ensure_topics
    from shopstream.spark.slots import silver_mode

    mode = silver_mode(settings, False if available_now else real_time)
    settings = mode.settings
    if mode.notice:
        console.print(mode.notice, highlight=False)
    ensure_topics(settings)
    with stop_on_signals() as stop:

        def body(wh: Warehouse, _sql: SqlEndpoint | None) -> str:
            skip = guard_retention(settings, STAGES, wh, console)
            if available_now:
                phases = available_now_phases(settings, wh, skip_lost=skip)
                stage = Stage(phases, app_name="shopstream-process")
            else:
                both = start_both(settings, wh, real_time=mode.real_time, skip_lost=skip)

                def start(streams: Streams) -> None:
                    both(streams)
                    console.print(
                        f"silver ({mode.name}) + gold running -> {wh.target()} (Ctrl-C to stop)",
                        highlight=False,
                    )

                stage = Stage([start], app_name="shopstream-process", status=status_line)
            return status_line(run_stage(settings, stage, console=console, stop=stop))

        line = run_as_writer(settings, "process", stop, console, body)
        return line if line is not None else f"process: {ABANDONED}"


def start_both(
    settings: Settings,
    warehouse: Warehouse,
    *,
    real_time: bool = False,
    console: Console | None = None,
    skip_lost: Mapping[str, bool] | None = None,
) -> Phase:
    """The phase starting Silver and Gold streaming.

    `skip_lost`: what `guard_retention` returned, if the caller ran it; else it runs here.
    """
    from shopstream.silver.job import start_silver

    def start(streams: Streams) -> None:
        skip = skip_lost or guard_retention(settings, STAGES, warehouse, console)
        streams.queries["silver"] = start_silver(
            streams.spark, settings, real_time=real_time, skip_lost=skip["silver"]
        )
        streams.queries["gold"], streams.gold = start_gold(
            streams.spark, settings, warehouse, skip_lost=skip["gold"]
        )

    return start


def start_streams(
    spark: SparkSession, settings: Settings, warehouse: Warehouse, *, real_time: bool = False
) -> Streams:
    """Start Silver and Gold streaming in this Spark application."""
    streams = Streams(spark)
    start_both(settings, warehouse, real_time=real_time)(streams)
    return streams


def available_now_phases(
    settings: Settings,
    warehouse: Warehouse,
    *,
    console: Console | None = None,
    skip_lost: Mapping[str, bool] | None = None,
) -> list[Phase]:
    """Silver drains raw_events, then Gold drains clean_events: two phases.

    `skip_lost`: what `guard_retention` returned, if the caller ran it; else it runs here.
    """
    from shopstream.silver.job import start_silver

    skip: dict[str, bool] = dict(skip_lost or {})

    def silver(streams: Streams) -> None:
        if not skip:
            skip.update(guard_retention(settings, STAGES, warehouse, console))
        streams.queries["silver"] = start_silver(
            streams.spark, settings, available_now=True, skip_lost=skip["silver"]
        )

    def gold(streams: Streams) -> None:
        streams.queries["gold"], streams.gold = start_gold(
            streams.spark,
            settings,
            warehouse,
            available_now=True,
            progress=streams.gold,
            skip_lost=skip["gold"],
        )

    return [silver, gold]


def process_available_now(
    spark: SparkSession, settings: Settings, warehouse: Warehouse, stop: threading.Event
) -> Streams:
    """Drain raw_events through Silver, then clean_events through Gold; return the streams."""
    streams = Streams(spark)
    run_streams(streams, Stage(available_now_phases(settings, warehouse)), stop)
    return streams


def _last_progress(query: Any) -> dict[str, Any] | None:
    """The query's last progress; None once Spark's JVM is gone (see `unless_jvm_gone`)."""
    from shopstream.spark.session import unless_jvm_gone

    return unless_jvm_gone(lambda: query.lastProgress, None)


def status_line(streams: Streams) -> str:
    """One line: input rates and Gold's counters."""
    parts = []
    for name, q in streams.queries.items():
        p = _last_progress(q)
        if p:
            parts.append(f"{name} {p.get('processedRowsPerSecond') or 0:,.0f}/s")
    g = counters(streams.gold)
    parts.append(
        f"gold {g['new_events']:,} events, {g['duplicates']:,} duplicates, "
        f"{g['dead_letters']:,} dead letters" + _unavailable(g)
    )
    return " | ".join(parts)
