"""`shopstream up`: everything, one command — broker, Silver + Gold, generator, dashboard.

The dashboard is handed in by the caller (the CLI builds it): running stages never
imports presentation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console

from shopstream.config import Settings
from shopstream.runtime.runner import Stage, Streams, run_stage
from shopstream.runtime.signals import Stop, stop_on_signals
from shopstream.runtime.stages import (
    ABANDONED,
    print_sql_endpoint,
    run_as_writer,
    start_both,
    status_line,
)
from shopstream.warehouse.base import Warehouse

if TYPE_CHECKING:
    from shopstream.sqlendpoint import SqlEndpoint
    from shopstream.status import LiveState


class Dashboard(Protocol):
    """A page served beside the queries: started before them, stopped after them."""

    @property
    def url(self) -> str: ...

    def start(self) -> Dashboard: ...

    def stop(self) -> None: ...


DashboardFactory = Callable[[Warehouse, "LiveState"], Dashboard]
"""Builds the dashboard over the open warehouse and the live state of the queries."""


class LiveGenerator:
    """The built-in shopper simulation, producing to raw_events in a thread.

    `rate` is the mean of the day/night curve of `settings.generator` (flat when its
    day length is 0); incidents there count from this generator's start.
    """

    def __init__(self, settings: Settings, rate: float, seed: int | None = None) -> None:
        from shopstream.bronze.generator import GeneratorConfig

        self.settings = settings
        self.rate = rate
        self.config = GeneratorConfig.from_settings(
            settings, seed=seed, rate=rate, start_ms=time.time_ns() // 1_000_000
        )
        self.stop_flag = Stop()
        self.sent = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="generator", daemon=True)

    def _run(self) -> None:
        from shopstream.bronze.producer import generator_source, produce

        def progress(report: Any) -> None:
            self.sent = report.sent

        try:
            source = generator_source(self.config, None)
            report = produce(
                self.settings,
                source,
                rate=source.schedule,
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
    dashboard: DashboardFactory,
    real_time: bool | None = None,
    seed: int | None = None,
    console: Console,
) -> None:
    """Everything, one command: broker, topics, warehouse, Silver + Gold, generator, dashboard.

    Blocks until Ctrl-C / SIGTERM, then stops in dependency order (generator, queries,
    dashboard, the broker if this call started it), leaving checkpoints and the warehouse
    consistent so the next `up` resumes. Silver runs in Real-time Mode where the machine
    can (`real_time` None; a one-line notice says why not), or as asked.
    """
    from shopstream.kafka.cluster import LocalCluster
    from shopstream.kafka.topics import ensure_topics
    from shopstream.spark.session import ui_url
    from shopstream.spark.slots import silver_mode
    from shopstream.status import LiveState

    mode = silver_mode(settings, real_time)
    settings = mode.settings
    if mode.notice:
        console.print(mode.notice, highlight=False)
    cluster = None if settings.kafka.bootstrap_servers else LocalCluster(settings)
    started_broker = cluster is not None and cluster.running() is None
    with stop_on_signals() as stop:
        if cluster is not None:
            with console.status("starting Kafka..."):
                bootstrap = cluster.start().bootstrap
        else:
            bootstrap = settings.kafka.bootstrap_servers or ""
        generator: LiveGenerator | None = None
        server: Dashboard | None = None
        said_stopping = False

        def stopping() -> None:
            """Before the queries stop (or, if they never started, before the dashboard)."""
            nonlocal said_stopping
            if not said_stopping:
                console.print("stopping...")
                said_stopping = True
            if generator is not None:
                generator.stop()

        def body(wh: Warehouse, sql: SqlEndpoint | None) -> None:
            nonlocal server
            # Producers and queries stop while the warehouse is still open: Gold may be in
            # the middle of a commit when the signal arrives.
            try:
                live = LiveState()
                server = dashboard(wh, live).start()
                url = server.url

                def started(streams: Streams) -> None:
                    nonlocal generator
                    live.queries.update(streams.queries)
                    live.started_at = time.time()
                    if rate:
                        generator = LiveGenerator(settings, rate, seed).start()
                        live.producer = generator.counters
                    spark_ui = ui_url(streams.spark)
                    _print_urls(
                        console, bootstrap, wh.target(), url, spark_ui, rate, mode.name, sql
                    )

                def line(streams: Streams) -> str:
                    sent = f"produced {generator.sent:,} | " if generator else ""
                    return sent + status_line(streams)

                stage = Stage(
                    [start_both(settings, wh, real_time=mode.real_time, console=console)],
                    status=line,
                    starting="starting Spark (Silver + Gold)...",
                    on_started=started,
                    on_stopping=stopping,
                )
                run_stage(settings, stage, console=console, stop=stop)
            finally:
                stopping()
                if server is not None:
                    server.stop()

        try:
            ensure_topics(settings)
            # The URLs, the SQL endpoint's too, are printed together once Spark runs.
            if run_as_writer(settings, "up", stop, console, body, announce=False) is None:
                console.print(ABANDONED)
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
    silver: str,
    sql: SqlEndpoint | None,
) -> None:
    console.print(f"[bold green]shopstream is up[/]  Kafka {bootstrap} -> {target}")
    console.print(f"  silver      {silver}", highlight=False)
    console.print(f"  dashboard   {url}")
    console.print(f"  metrics     {url}/metrics")
    console.print(f"  API docs    {url}/docs")
    console.print(f"  Spark UI    {spark_ui}")
    print_sql_endpoint(console, sql)
    generating = f"{rate:,.0f} events/s" if rate else "off (--no-generator)"
    console.print(f"  generator   {generating}   — Ctrl-C to stop")
