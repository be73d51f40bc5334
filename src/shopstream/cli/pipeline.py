"""`shopstream process` (Silver + Gold in one Spark application) and `shopstream up`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from shopstream.cli.common import HomeOption, console, settings_from
from shopstream.cli.gold import AcceptDataLossOption, AvailableNowOption, TriggerOption
from shopstream.cli.produce import DayLengthOption, IncidentOption, shop_overrides

if TYPE_CHECKING:
    from shopstream.dashboard.app import DashboardServer
    from shopstream.status import LiveState
    from shopstream.warehouse.base import Warehouse


RealTimeOption = typer.Option(
    None,
    "--real-time/--micro-batch",
    show_default=False,
    help=(
        "Silver in Spark Real-time Mode (sub-second latency; a local master gets a task slot "
        "per raw partition plus Gold's) or in micro-batches. Default: Real-time Mode where "
        "it can run, else micro-batches with a one-line notice."
    ),
)


def process(
    available_now: bool = AvailableNowOption,
    trigger_seconds: float = TriggerOption,
    real_time: bool | None = RealTimeOption,
    accept_data_loss: bool = AcceptDataLossOption,
    home: Path = HomeOption,
) -> None:
    """Run Silver and Gold as two queries in one Spark application."""
    from shopstream.runtime.stages import run_process

    if available_now and real_time:
        raise typer.BadParameter("--available-now and --real-time exclude each other")
    settings = settings_from(
        home,
        spark={"trigger_seconds": trigger_seconds},
        pipeline={"accept_data_loss": accept_data_loss or None},
    )
    line = run_process(settings, available_now=available_now, real_time=real_time, console=console)
    console.print(line, highlight=False)


def reset(
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    home: Path = HomeOption,
) -> None:
    """Stop the local broker and delete all local state (topics, checkpoints, warehouse)."""
    import shutil

    from shopstream.kafka.cluster import LocalCluster

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
    rate: float = typer.Option(
        1000.0, "--rate", min=0, help="Generator events per second (the day's mean)."
    ),
    no_generator: bool = typer.Option(
        False, "--no-generator", help="Do not generate events; feed raw_events yourself."
    ),
    port: int = typer.Option(None, "--port", min=0, help="Dashboard port (0 = a free port)."),
    seed: int = typer.Option(None, "--seed", help="Seed the generator for reproducible events."),
    incident: list[str] = IncidentOption,
    day_length: str = DayLengthOption,
    real_time: bool | None = RealTimeOption,
    accept_data_loss: bool = AcceptDataLossOption,
    home: Path = HomeOption,
) -> None:
    """Everything, one command: Kafka, Silver + Gold, the generator and the live dashboard.

    The generator's --rate is the mean of a day/night curve (see --day-length); incident
    START times count from when the generator starts (once Spark is up).
    """
    from shopstream.bronze.generator import GeneratorConfig
    from shopstream.errors import ConfigError
    from shopstream.runtime.up import run_up

    if no_generator and incident:
        raise ConfigError("--incident needs the generator; drop --no-generator")
    settings = settings_from(
        home,
        pipeline={"accept_data_loss": accept_data_loss or None},
        generator=shop_overrides(incident, day_length),
    )
    if not no_generator:  # every generator flag and setting is checked before Kafka starts
        GeneratorConfig.from_settings(settings, seed=seed, rate=rate or None)

    def dashboard(warehouse: Warehouse, live: LiveState) -> DashboardServer:
        from shopstream.dashboard.app import DashboardServer, create_app

        app = create_app(settings, warehouse=warehouse, live=live)
        return DashboardServer(app, settings, port=port)

    run_up(
        settings,
        rate=None if no_generator else rate,
        dashboard=dashboard,
        real_time=real_time,
        seed=seed,
        console=console,
    )
