"""Silver and Gold as two streaming queries in one Spark application.

`shopstream process` runs this; `shopstream up` adds the broker, the generator and the
dashboard around it. With `available_now`, Silver drains raw_events first and Gold then
drains what Silver wrote, so one call processes everything exactly once and exits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console

from shopstream.config import Settings
from shopstream.gold.job import GoldProgress, counters, start_gold
from shopstream.runner import run_queries, stop_all
from shopstream.warehouse.base import Warehouse

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
        stop_all(self.queries[n] for n in ("silver", "gold") if n in self.queries)


def start_streams(
    spark: SparkSession, settings: Settings, warehouse: Warehouse, *, real_time: bool = False
) -> Streams:
    """Start Silver and Gold streaming in this Spark application."""
    from shopstream.silver.job import start_silver

    streams = Streams(spark)
    streams.queries["silver"] = start_silver(spark, settings, real_time=real_time)
    streams.queries["gold"], streams.gold = start_gold(spark, settings, warehouse)
    return streams


def process_available_now(
    spark: SparkSession,
    settings: Settings,
    warehouse: Warehouse,
    stop: threading.Event,
    *,
    console: Console | None = None,
    status: Callable[[], str] | None = None,
) -> Streams:
    """Drain raw_events through Silver, then clean_events through Gold; return the streams."""
    from shopstream.silver.job import start_silver

    streams = Streams(spark)
    streams.queries["silver"] = start_silver(spark, settings, available_now=True)
    if run_queries({"silver": streams.queries["silver"]}, stop, console=console, status=status):
        return streams
    streams.queries["gold"], streams.gold = start_gold(
        spark, settings, warehouse, available_now=True, progress=streams.gold
    )
    run_queries({"gold": streams.queries["gold"]}, stop, console=console, status=status)
    return streams


def status_line(streams: Streams) -> str:
    """One line: input rates and Gold's counters."""
    parts = []
    for name, q in streams.queries.items():
        p: dict[str, Any] | None = q.lastProgress
        if p:
            parts.append(f"{name} {p.get('processedRowsPerSecond') or 0:,.0f}/s")
    g = counters(streams.gold)
    parts.append(
        f"gold {g['new_events']:,} events, {g['duplicates']:,} duplicates, "
        f"{g['dead_letters']:,} dead letters"
    )
    return " | ".join(parts)


class LiveGenerator:
    """The built-in shopper simulation, producing to raw_events at a steady rate in a thread."""

    def __init__(self, settings: Settings, rate: float, seed: int | None = None) -> None:
        from shopstream.bronze.generator import GeneratorConfig
        from shopstream.bronze.producer import StopFlag

        self.settings = settings
        self.rate = rate
        self.config = GeneratorConfig.from_settings(settings, seed=seed)
        self.stop_flag = StopFlag()
        self.sent = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="generator", daemon=True)

    def _run(self) -> None:
        from shopstream.bronze.producer import generator_source, produce

        def progress(report: Any) -> None:
            self.sent = report.sent

        try:
            report = produce(
                self.settings,
                generator_source(self.config, None, self.rate),
                rate=self.rate,
                stop=self.stop_flag,
                on_progress=progress,
            )
            self.sent = report.sent
            if not report.ok:
                self.error = f"{report.failed + report.undelivered} messages not delivered"
        except Exception as err:  # surfaced through counters() on the status line and page
            self.error = str(err)

    def start(self) -> LiveGenerator:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop producing and wait for the in-flight messages to be flushed."""
        self.stop_flag.set()
        self._thread.join(60)

    def counters(self) -> dict[str, Any]:
        return {"sent": self.sent, "rate": self.rate, "error": self.error}


def run_up(
    settings: Settings,
    *,
    rate: float | None,
    port: int | None,
    real_time: bool = False,
    seed: int | None = None,
    console: Console,
) -> None:
    """Everything, one command: broker, topics, warehouse, Silver + Gold, generator, dashboard.

    Blocks until Ctrl-C / SIGTERM, then stops in dependency order (generator, queries,
    dashboard, the broker if this call started it), leaving checkpoints and the warehouse
    consistent so the next `up` resumes.
    """
    from shopstream.dashboard.app import DashboardServer, create_app
    from shopstream.infra.kafka import LocalCluster, ensure_topics
    from shopstream.infra.spark import spark_session, ui_url
    from shopstream.runner import stop_on_signals
    from shopstream.status import LiveState
    from shopstream.warehouse import open_warehouse
    from shopstream.warehouse.pgwire import serving

    cluster = None if settings.kafka.bootstrap_servers else LocalCluster(settings)
    started_broker = cluster is not None and cluster.running() is None
    with stop_on_signals() as stop:
        if cluster is not None:
            with console.status("starting Kafka..."):
                bootstrap = cluster.start().bootstrap
        else:
            bootstrap = settings.kafka.bootstrap_servers or ""
        generator: LiveGenerator | None = None
        streams: Streams | None = None
        server = None
        try:
            ensure_topics(settings)
            with open_warehouse(settings) as wh, serving(wh, settings) as sql:
                # Producers and queries stop while the warehouse is still open: Gold may be
                # in the middle of a commit when the signal arrives.
                try:
                    wh.init()
                    live = LiveState()
                    server = DashboardServer(
                        create_app(settings, warehouse=wh, live=live), settings, port=port
                    ).start()
                    with console.status("starting Spark (Silver + Gold)..."):
                        spark = spark_session(settings, "shopstream")
                        streams = start_streams(spark, settings, wh, real_time=real_time)
                    live.queries.update(streams.queries)
                    live.started_at = time.time()
                    if rate:
                        generator = LiveGenerator(settings, rate, seed).start()
                        live.producer = generator.counters
                    _print_urls(console, bootstrap, wh.target(), server.url, ui_url(spark), rate)
                    if sql is not None:
                        console.print(f"  SQL         {sql.url}  (password: {sql.password_source})")

                    def line() -> str:
                        sent = f"produced {generator.sent:,} | " if generator else ""
                        return sent + status_line(streams)  # type: ignore[arg-type]

                    run_queries(streams.queries, stop, status=line, console=console)
                finally:
                    console.print("stopping...")
                    if generator is not None:
                        generator.stop()
                    if streams is not None:
                        streams.stop()
                    if server is not None:
                        server.stop()
        finally:
            if started_broker and cluster is not None:
                cluster.stop()
    console.print("stopped cleanly; `shopstream up` resumes from here.")


def _print_urls(
    console: Console,
    bootstrap: str,
    target: str,
    url: str,
    spark_ui: str | None,
    rate: float | None,
) -> None:
    console.print(f"[bold green]shopstream is up[/]  Kafka {bootstrap} -> {target}")
    console.print(f"  dashboard   {url}")
    console.print(f"  metrics     {url}/metrics")
    console.print(f"  API docs    {url}/docs")
    console.print(f"  Spark UI    {spark_ui}")
    generating = f"{rate:,.0f} events/s" if rate else "off (--no-generator)"
    console.print(f"  generator   {generating}   — Ctrl-C to stop")
