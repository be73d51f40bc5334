"""`shopstream silver` (the validation stream) and `shopstream dlq show|replay` (dead letters)."""

from __future__ import annotations

from pathlib import Path

import typer

from shopstream.cli.common import HomeOption, console, err_console, print_json, settings_from
from shopstream.cli.gold import AcceptDataLossOption

dlq_app = typer.Typer(help="Inspect dead-lettered records and replay them after a fix.")

ReasonOption = typer.Option(None, "--reason", "-r", help="Only this reason code.")
LimitOption = typer.Option(None, "--limit", "-n", min=1, help="At most N records.")


def silver(
    available_now: bool = typer.Option(
        False, "--available-now", help="Process everything in raw_events, then exit."
    ),
    real_time: bool = typer.Option(
        False, "--real-time", help="Real-time Mode: continuous, millisecond latency."
    ),
    checkpoint_interval: str = typer.Option(
        None, "--checkpoint-interval", help="Real-time Mode checkpoint interval, e.g. '30 seconds'."
    ),
    trigger: float = typer.Option(
        None, "--trigger", min=0, help="Micro-batch interval in seconds (default 0.1)."
    ),
    master: str = typer.Option(None, "--master", help="Spark master, e.g. local[4]."),
    status_every: float = typer.Option(
        10.0, "--status-every", min=0.5, help="Seconds between status lines while streaming."
    ),
    accept_data_loss: bool = AcceptDataLossOption,
    home: Path = HomeOption,
) -> None:
    """Validate and normalize raw_events into clean_events; rejects go to dead_letter."""
    from shopstream.runtime.stages import run_silver
    from shopstream.silver.job import DEFAULT_REAL_TIME_INTERVAL
    from shopstream.spark.checkpoints import checkpoint

    if available_now and real_time:
        raise typer.BadParameter("--available-now and --real-time exclude each other")
    settings = settings_from(
        home,
        spark={"master": master, "trigger_seconds": trigger},
        pipeline={"accept_data_loss": accept_data_loss or None},
    )
    if real_time:
        mode = (
            f"Real-time Mode (checkpoint every {checkpoint_interval or DEFAULT_REAL_TIME_INTERVAL})"
        )
    elif available_now:
        mode = "available-now"
    else:
        mode = f"micro-batches every {settings.spark.trigger_seconds:g}s"
    k = settings.kafka
    err_console.print(
        f"silver: {k.raw_topic} -> {k.clean_topic} + {k.dead_letter_topic}, {mode}, "
        f"checkpoint {checkpoint(settings, 'silver')}"
        + ("" if available_now else " (Ctrl-C stops)")
    )
    totals = run_silver(
        settings,
        available_now=available_now,
        real_time=(checkpoint_interval or True) if real_time else False,
        status_every=status_every,
        console=err_console,
    )
    console.print(f"silver done: {totals.batches} batches, {totals.summary()}", highlight=False)


@dlq_app.command("show")
def show(
    reason: str = ReasonOption,
    limit: int = LimitOption,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    home: Path = HomeOption,
) -> None:
    """Print dead-letter records (oldest first): reason, detail, source offset, raw bytes."""
    from rich.table import Table

    from shopstream.silver.dlq import read_dead_letters

    records = read_dead_letters(settings_from(home), reason, limit)
    if as_json:
        print_json([dl.as_json() for dl in records])
        return
    if not records:
        console.print("no dead letters" + (f" with reason {reason}" if reason else ""))
        return
    table = Table("source", "reason", "detail", "key", "raw")
    for dl in records:
        r = dl.record
        raw = dl.raw
        preview = "(null)" if raw is None else raw[:60].decode("utf-8", "replace")
        table.add_row(
            f"{r.get('source_partition')}:{r.get('source_offset')}",
            dl.reason,
            str(r.get("detail", ""))[:80],
            str(r.get("source_key") or ""),
            preview,
        )
    console.print(table)
    console.print(f"{len(records)} record(s)")


@dlq_app.command("replay")
def replay_cmd(
    reason: str = ReasonOption,
    limit: int = LimitOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be re-sent."),
    again: bool = typer.Option(False, "--again", help="Also re-send records replayed before."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    home: Path = HomeOption,
) -> None:
    """Re-send dead letters' original bytes and key to raw_events (after fixing the cause)."""
    from shopstream.silver.dlq import replay

    report = replay(settings_from(home), reason, limit, dry_run=dry_run, again=again)
    if as_json:
        print_json(report.as_json())
        return
    doc = report.as_json()
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(doc["by_reason"].items())) or "none"
    verb = "would re-send" if dry_run else "re-sent"
    n = doc["selected"] if dry_run else doc["sent"]
    skipped = doc["skipped_already_replayed"]
    console.print(
        f"{verb} {n} record(s) to raw_events ({reasons})"
        + (f"; skipped {skipped} replayed before (--again to include)" if skipped else "")
    )


def register(app: typer.Typer) -> None:
    app.command("silver")(silver)
    app.add_typer(dlq_app, name="dlq")
