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
    from shopstream.runtime.stages import run_gold

    settings = settings_from(
        home,
        spark={
            "trigger_seconds": trigger_seconds,
            "max_offsets_per_trigger": max_offsets_per_trigger,
        },
    )
    line = run_gold(settings, available_now=available_now, console=console)
    console.print(line, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("gold")(gold)
