"""`shopstream dashboard` (the page, standalone) and `shopstream status [--json]`."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import typer

from shopstream.cli.common import HomeOption, console, print_json, settings_from


def dashboard(
    port: int = typer.Option(None, "--port", help="Port to serve on (0 = a free port)."),
    host: str = typer.Option(None, "--host", help="Interface to listen on (default 127.0.0.1)."),
    home: Path = HomeOption,
) -> None:
    """Serve the live dashboard from the warehouse (read-only); Kafka may be down."""
    from shopstream.dashboard.app import DashboardServer, create_app
    from shopstream.sqlendpoint import running_endpoint
    from shopstream.status.collect import running_dashboard_url

    settings = settings_from(home, dashboard={"port": port, "host": host})
    running = running_dashboard_url(settings)
    if (
        running is not None
        and settings.warehouse.kind == "duckdb"
        and running_endpoint(settings) is None
    ):
        # The pipeline holds the DuckDB file for writing and serves no SQL endpoint to read
        # through (SHOPSTREAM_SQL__ENABLED=false): only its own dashboard can read.
        console.print(f"the pipeline of this home already serves the dashboard: [bold]{running}[/]")
        return
    server = DashboardServer(create_app(settings), settings).start()
    console.print(f"dashboard: [bold]{server.url}[/]  (API docs {server.url}/docs; Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while stopping
        server.wait()
    # Skip interpreter finalization: it ends daemon threads with pthread_exit, and one caught
    # inside DuckDB's C++ (a request's query, or the server thread still closing the
    # warehouse after a second Ctrl-C) aborts the process ("FATAL: exception not rethrown",
    # exit -6). Nothing is left to flush but the terminal.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    check: bool = typer.Option(False, "--check", help="Exit with code 1 when not healthy."),
    home: Path = HomeOption,
) -> None:
    """Counts, lag, freshness, reconciliation and which stage (if any) is stuck."""
    from shopstream.status import collect_status

    settings = settings_from(home)
    doc = collect_status(settings)
    if as_json:
        print_json(doc)
    else:
        print_status(doc)
    if check and not doc["healthy"]:
        raise typer.Exit(1)


def print_status(doc: dict[str, Any]) -> None:
    """The status document as a few terminal tables."""
    from rich.table import Table

    def shown(value: Any) -> str:
        return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)

    verdict = "[bold green]healthy[/]" if doc["healthy"] else "[bold red]NOT HEALTHY[/]"
    console.print(f"pipeline: {verdict}  (stall limit {doc['stall_seconds']:g}s)")
    for problem in doc["problems"]:
        console.print(f"  [red]✗[/] {problem}", highlight=False)
    fresh = doc["freshness_seconds"]
    console.print(f"freshness: {'-' if fresh is None else f'{fresh:,.1f}s'} (now - newest event)")
    alerts = doc.get("business_alerts")
    if alerts is not None:
        now_open = [f"[red]{r}[/] ({a['severity']})" for r, a in alerts.items() if a["open"]]
        opened = sum(a["opened"] for a in alerts.values())
        console.print(
            f"business alerts: {', '.join(now_open) + ' open' if now_open else 'none open'}"
            f" ({opened:,} opened so far)"
        )

    stages = Table("stage", "state", "reason", "lag", "rate/s", "last batch ms", "last commit")
    for name, stage in doc["stages"].items():
        color = "green" if stage["healthy"] else "red"
        age = stage.get("last_progress_age_seconds")
        rate, batch_ms = stage.get("input_rate"), stage.get("last_batch_ms")
        stages.add_row(
            name,
            f"[{color}]{stage['state']}[/]",
            stage["reason"],
            shown(stage.get("lag")),
            "-" if rate is None else f"{rate:,.0f}",
            "-" if batch_ms is None else f"{batch_ms:,.0f}",
            "never" if age is None else f"{age:,.1f}s ago",
        )
    console.print(stages)

    counts = Table("reconciliation", "", "holds")
    silver, gold = doc["reconciliation"]["silver"], doc["reconciliation"]["gold"]
    # Records in flight are "pending" (holds null), not a failure (document._verdict).
    mark = {"holds": "[green]yes[/]", "fails": "[red]no[/]", "pending": "[yellow]pending[/]"}
    counts.add_row(
        "raw = clean + dead_letter",
        f"{shown(silver['raw'])} = {shown(silver['clean'])} + {shown(silver['dead_letter'])}"
        f"  (pending {shown(silver['pending'])})",
        mark.get(silver.get("state", ""), "-"),
    )
    counts.add_row(
        "clean = unique + duplicates",
        f"{shown(gold['clean'])} = {shown(gold['unique'])} + {shown(gold['duplicates'])}"
        f"  (pending {shown(gold['pending'])})",
        mark.get(gold.get("state", ""), "-"),
    )
    console.print(counts)
    if doc.get("counts_source") == "silver progress":
        console.print("clean and dead letters: Silver's own counts (its progress log)")
    if doc.get("redelivered"):
        console.print(
            f"redelivered: {doc['redelivered']:,} copies Silver re-sent after a crash "
            "(each record counted once above)",
            highlight=False,
        )

    lag = Table("stage", "topic", "partition", "end", "committed", "lag")
    for stage, entry in doc["lag"].items():
        for topic, parts in entry["topics"].items():
            for partition, offsets in parts.items():
                lag.add_row(
                    stage,
                    topic,
                    partition,
                    shown(offsets["end"]),
                    shown(offsets["committed"]),
                    shown(offsets["lag"]),
                )
    if lag.rows:
        console.print(lag)
    silver_lag = doc["lag"].get("silver", {})
    if silver_lag.get("basis") == "written":
        console.print(
            f"silver: {silver_lag['total']:,} records not written yet (raw end offsets minus "
            "clean + dead_letter); its rows above are its last checkpoint's",
            highlight=False,
        )
    if doc["dead_letter"]["by_reason"]:
        dlq = Table("dead-letter reason", "records")
        for reason, count in doc["dead_letter"]["by_reason"].items():
            dlq.add_row(reason, shown(count))
        console.print(dlq)
    tables = Table("warehouse table", "rows")
    for table, rows in doc["warehouse"].items():
        tables.add_row(table, shown(rows))
    if tables.rows:
        console.print(tables)


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
    app.command("status")(status)
