"""`shopstream process` (Silver + Gold in one Spark application) and `shopstream up`."""

from __future__ import annotations

from pathlib import Path

import typer

from shopstream.cli.common import HomeOption, console, settings_from
from shopstream.cli.gold import AvailableNowOption, TriggerOption
from shopstream.config import Settings


def real_time_master(settings: Settings, real_time: bool) -> Settings:
    """Real-time Mode runs a task per input partition at once: give a local master the slots.

    Slots may exceed cores (the tasks mostly wait on Kafka); a cluster master is left as is.
    """
    import os

    master = settings.spark.master
    if not real_time or not master.startswith("local"):
        return settings
    slots = max(settings.kafka.raw_partitions + 1, os.cpu_count() or 1)
    threads = master[6:-1] if master.startswith("local[") else "1"
    if master in ("local", "local[*]") or (threads.isdigit() and int(threads) < slots):
        spark = settings.spark.model_copy(update={"master": f"local[{slots}]"})
        return settings.model_copy(update={"spark": spark})
    return settings


def process(
    available_now: bool = AvailableNowOption,
    trigger_seconds: float = TriggerOption,
    real_time: bool = typer.Option(
        False, "--real-time", help="Silver in Spark Real-time Mode (needs >= 4 task slots)."
    ),
    home: Path = HomeOption,
) -> None:
    """Run Silver and Gold as two queries in one Spark application."""
    from shopstream.infra.kafka import ensure_topics
    from shopstream.infra.spark import spark_session
    from shopstream.pipeline import process_available_now, start_streams, status_line
    from shopstream.runner import run_queries, stop_on_signals
    from shopstream.warehouse import open_warehouse

    settings = real_time_master(
        settings_from(home, spark={"trigger_seconds": trigger_seconds}), real_time
    )
    ensure_topics(settings)
    from shopstream.warehouse.pgwire import serving

    with open_warehouse(settings) as wh, serving(wh, settings) as sql:
        wh.init()
        if sql is not None:
            console.print(f"SQL endpoint {sql.url} (password: {sql.password_source})")
        # Caught from before Spark starts: a Ctrl-C during start-up then stops cleanly.
        with stop_on_signals() as stop:
            spark = spark_session(settings, "shopstream-process")
            if available_now:
                streams = process_available_now(spark, settings, wh, stop, console=console)
            else:
                streams = start_streams(spark, settings, wh, real_time=real_time)
                console.print(f"silver + gold running -> {wh.target()} (Ctrl-C to stop)")
                run_queries(
                    streams.queries, stop, status=lambda: status_line(streams), console=console
                )
        console.print(status_line(streams), highlight=False)


def reset(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    home: Path = HomeOption,
) -> None:
    """Stop the local broker and delete all local state (topics, checkpoints, warehouse)."""
    import shutil

    from shopstream.infra.kafka import LocalCluster

    settings = settings_from(home)
    target = settings.state_dir
    if not target.exists():
        console.print(f"nothing to reset: {target} does not exist")
        return
    if not yes:
        typer.confirm(f"delete {target} (broker data, checkpoints, warehouse)?", abort=True)
    stopped = LocalCluster(settings).stop()
    shutil.rmtree(target)
    console.print(f"removed {target}" + (f" (stopped {stopped} broker(s))" if stopped else ""))


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("process")(process)
    app.command("reset")(reset)


def up(
    rate: float = typer.Option(1000.0, "--rate", min=0, help="Generator events per second."),
    no_generator: bool = typer.Option(
        False, "--no-generator", help="Do not generate events; feed raw_events yourself."
    ),
    port: int = typer.Option(None, "--port", min=0, help="Dashboard port (0 = a free port)."),
    seed: int = typer.Option(None, "--seed", help="Seed the generator for reproducible events."),
    real_time: bool = typer.Option(
        False, "--real-time", help="Silver in Spark Real-time Mode (needs >= 4 task slots)."
    ),
    home: Path = HomeOption,
) -> None:
    """Everything, one command: Kafka, Silver + Gold, the generator and the live dashboard."""
    from shopstream.pipeline import run_up

    settings = real_time_master(settings_from(home), real_time)
    run_up(
        settings,
        rate=None if no_generator else rate,
        port=port,
        real_time=real_time,
        seed=seed,
        console=console,
    )
