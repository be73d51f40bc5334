"""`shopstream dashboard` (the page, standalone) and `shopstream status [--json]`."""

from __future__ import annotations

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
    from shopstream.status.collect import running_dashboard_url

    settings = settings_from(home, dashboard={"port": port, "host": host})
    running = running_dashboard_url(settings)
    if running is not None and settings.warehouse.kind == "duckdb":
        # The pipeline holds the DuckDB file for writing; its own dashboard reads through it.
        console.print(f"the pipeline of this home already serves the dashboard: [bold]{running}[/]")
        return
    server = DashboardServer(create_app(settings), settings).start()
    console.print(f"dashboard: [bold]{server.url}[/]  (API docs {server.url}/docs; Ctrl-C stops)")
    server.wait()


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

    def n(v: Any) -> str:
        return "-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)

    verdict = "[bold green]healthy[/]" if doc["healthy"] else "[bold red]NOT HEALTHY[/]"
    console.print(f"pipeline: {verdict}  (stall limit {doc['stall_seconds']:g}s)")
    for p in doc["problems"]:
        console.print(f"  [red]✗[/] {p}", highlight=False)
    fresh = doc["freshness_seconds"]
    console.print(f"freshness: {'-' if fresh is None else f'{fresh:,.1f}s'} (now - newest event)")

    stages = Table("stage", "state", "reason", "lag", "rate/s", "last batch ms", "last commit")
    for name, st in doc["stages"].items():
        color = "green" if st["healthy"] else "red"
        age = st.get("last_progress_age_seconds")
        stages.add_row(
            name,
            f"[{color}]{st['state']}[/]",
            st["reason"],
            n(st.get("lag")),
            "-" if st.get("input_rate") is None else f"{st['input_rate']:,.0f}",
            "-" if st.get("last_batch_ms") is None else f"{st['last_batch_ms']:,.0f}",
            "never" if age is None else f"{age:,.1f}s ago",
        )
    console.print(stages)

    r = doc["reconciliation"]
    counts = Table("reconciliation", "", "holds")
    s, g = r["silver"], r["gold"]
    mark = {True: "[green]yes[/]", False: "[yellow]no[/]", None: "-"}
    counts.add_row(
        "raw = clean + dead_letter",
        f"{n(s['raw'])} = {n(s['clean'])} + {n(s['dead_letter'])}  (pending {n(s['pending'])})",
        mark[s["holds"]],
    )
    counts.add_row(
        "clean = unique + duplicates",
        f"{n(g['clean'])} = {n(g['unique'])} + {n(g['duplicates'])}  (pending {n(g['pending'])})",
        mark[g["holds"]],
    )
    console.print(counts)

    lag = Table("stage", "topic", "partition", "end", "committed", "lag")
    for stage, entry in doc["lag"].items():
        for topic, parts in entry["topics"].items():
            for p, v in parts.items():
                lag.add_row(stage, topic, p, n(v["end"]), n(v["committed"]), n(v["lag"]))
    if lag.rows:
        console.print(lag)
    if doc["dead_letter"]["by_reason"]:
        dlq = Table("dead-letter reason", "records")
        for reason, count in doc["dead_letter"]["by_reason"].items():
            dlq.add_row(reason, n(count))
        console.print(dlq)
    tables = Table("warehouse table", "rows")
    for t, rows in doc["warehouse"].items():
        tables.add_row(t, n(rows))
    if tables.rows:
        console.print(tables)


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard)
    app.command("status")(status)
