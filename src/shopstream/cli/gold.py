"""`shopstream gold`: clean events -> exactly-once commits into the warehouse."""

from __future__ import annotations

from pathlib import Path

import typer

from shopstream.cli.common import HomeOption, console, settings_from

AvailableNowOption = typer.Option(
    False, "--available-now", help="Process everything available now, then exit."
)
TriggerOption = typer.Option(
    None, "--trigger-seconds", min=0, help="Micro-batch interval when streaming (default 0.5)."
)
MaxOffsetsOption = typer.Option(
    None, "--max-offsets-per-trigger", min=1, help="Cap on records per micro-batch."
)


def gold(
    available_now: bool = AvailableNowOption,
    trigger_seconds: float = TriggerOption,
    max_offsets_per_trigger: int = MaxOffsetsOption,
    home: Path = HomeOption,
) -> None:
    """Commit clean events and dead letters to the warehouse, exactly once per micro-batch."""
    from shopstream.gold.job import counters, start_gold
    from shopstream.infra.kafka import ensure_topics
    from shopstream.infra.spark import spark_session
    from shopstream.runner import run_queries, stop_on_signals
    from shopstream.warehouse import open_warehouse

    settings = settings_from(
        home,
        spark={
            "trigger_seconds": trigger_seconds,
            "max_offsets_per_trigger": max_offsets_per_trigger,
        },
    )
    from shopstream.warehouse.pgwire import serving

    ensure_topics(settings)
    with open_warehouse(settings) as wh, serving(wh, settings) as sql:
        wh.init()
        if sql is not None:
            console.print(f"SQL endpoint {sql.url} (password: {sql.password_source})")
        # Caught from before Spark starts: a Ctrl-C during start-up then stops cleanly.
        with stop_on_signals() as stop:
            spark = spark_session(settings, "shopstream-gold")
            query, progress = start_gold(spark, settings, wh, available_now=available_now)
            console.print(f"gold running -> {wh.target()} (Ctrl-C to stop)")

            def line() -> str:
                c = counters(progress)
                return (
                    f"gold: {c['batches']} batches, {c['new_events']:,} new events, "
                    f"{c['duplicates']:,} duplicates, {c['dead_letters']:,} dead letters"
                )

            run_queries({"gold": query}, stop, status=line, console=console)
        console.print(line(), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("gold")(gold)
