"""`shopstream produce`: generate realistic events (or replay a file) into Kafka raw_events.

Every noise kind has its own `--<kind>-rate` flag, built from its declaration in
`bronze.noise_rates.NOISE_RATES` (name, default and help), so adding a kind adds its flag.
The shop model's flags (`--incident`, `--day-length`, `--customers`, ...) are shared
with `up` (`shop_flags`) and layered over the `generator` settings section.
"""

from __future__ import annotations

import dataclasses
import inspect
import secrets
import time
from pathlib import Path
from typing import Any

import typer

from shopstream.bronze.noise_rates import NOISE_RATES, NoiseRates, rate_flag
from shopstream.cli.common import HomeOption, console, err_console, print_json, settings_from
from shopstream.errors import BrokerUnavailable, ConfigError, ShopstreamError


def parse_rate(value: str | None) -> float | None:
    """`--rate`: events per second, or `max` / unset for as fast as possible."""
    if value is None or value.strip().lower() in ("max", "", "0"):
        return None
    try:
        rate = float(value)
    except ValueError:
        raise ConfigError(
            f"--rate must be a number of events per second or 'max', got {value!r}"
        ) from None
    if rate <= 0:
        raise ConfigError("--rate must be positive (or 'max')")
    return rate


IncidentOption = typer.Option(
    None,
    "--incident",
    help=(
        "Inject an incident, KIND@START+DURATION[:MAGNITUDE] (repeatable): checkout_outage, "
        "payment_failures, traffic_spike, traffic_drop, bad_release; e.g. "
        "checkout_outage@5m+2m, traffic_spike@10m+90s:x3. See docs/generator.md."
    ),
    rich_help_panel="Shop model",
)
DayLengthOption = typer.Option(
    None,
    "--day-length",
    help=(
        "Length of one shop day in a live run (the traffic curve's period), e.g. 20m, 24h; "
        "'off' = flat traffic everywhere. Default: generator.day_length_seconds (20m)."
    ),
    rich_help_panel="Shop model",
)


def parse_day_length(value: str | None) -> float | None:
    """`--day-length`: a duration, or `off` (0: flat traffic); None = the setting."""
    from shopstream.bronze.incidents import parse_duration

    if value is None:
        return None
    if value.strip().lower() in ("off", "flat", "0"):
        return 0.0
    try:
        return parse_duration(value)
    except ValueError:
        raise ConfigError(
            f"--day-length must be a duration such as 20m or 24h, or 'off'; got {value!r}"
        ) from None


def shop_overrides(
    incidents: list[str] | None,
    day_length: str | None,
    customers: int | None = None,
    products: int | None = None,
) -> dict[str, Any]:
    """The `generator` settings the shop flags override (None = not given)."""
    return {
        "incidents": list(incidents) if incidents else None,
        "day_length_seconds": parse_day_length(day_length),
        "customers": customers,
        "products": products,
    }


# The shop model's flags, shown in their own --help panel.
CustomersOption = typer.Option(
    None,
    "--customers",
    min=1,
    help="Customers known at the start; first-time customers join (default 10,000).",
    rich_help_panel="Shop model",
)
ProductsOption = typer.Option(
    None,
    "--products",
    min=1,
    help="Catalog size (default 1,000).",
    rich_help_panel="Shop model",
)
MeanViewsOption = typer.Option(
    None,
    "--mean-views",
    help="Mean page views per session (default 5).",
    rich_help_panel="Shop model",
)
CartRateOption = typer.Option(
    None,
    "--cart-rate",
    help="Share of sessions that add to cart, every device (default: per device, 6-12%).",
    rich_help_panel="Shop model",
)
PurchaseRateOption = typer.Option(
    None,
    "--purchase-rate",
    help="Share of carts bought, every device (default: per device, 1 - abandonment).",
    rich_help_panel="Shop model",
)


def produce_cmd(
    events: int = typer.Option(None, "--events", "-n", min=1, help="Send N events, then stop."),
    duration: float = typer.Option(None, "--duration", min=0.001, help="Send for S seconds."),
    rate: str = typer.Option("max", "--rate", help="Events per second, or 'max'."),
    seed: int = typer.Option(
        None, "--seed", help="Seed for reproducible events (default: random)."
    ),
    truth: Path = typer.Option(
        None, "--truth", help="Write the ground truth here (.json, or .parquet + .json)."
    ),
    from_file: Path = typer.Option(
        None, "--from-file", exists=True, dir_okay=False, help="Send JSON lines byte-for-byte."
    ),
    seed_compat: bool = typer.Option(
        False, "--seed-compat", help="The seed's shape: 5 customers, 25% invalid, hint flags."
    ),
    backfill_days: float = typer.Option(
        0.0, "--backfill-days", min=0, help="Spread event time over the last D days (needs -n)."
    ),
    customers: int = CustomersOption,
    products: int = ProductsOption,
    mean_views: float = MeanViewsOption,
    cart_rate: float = CartRateOption,
    purchase_rate: float = PurchaseRateOption,
    incident: list[str] = IncidentOption,
    day_length: str = DayLengthOption,
    no_noise: bool = typer.Option(
        False, "--no-noise", help="Only canonical events (rate flags given still apply)."
    ),
    topic: str = typer.Option(None, "--topic", help="Target topic (default: the raw topic)."),
    parallel: bool = typer.Option(
        None,
        "--parallel/--no-parallel",
        help="Generate in a second process (default: on for --rate max).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    home: Path = HomeOption,
    **noise_rates: float | None,
) -> None:
    """Generate realistic shop events (or replay a file) into Kafka, with ground truth."""
    from shopstream.bronze.generator import GeneratorConfig
    from shopstream.bronze.incidents import check_fits
    from shopstream.bronze.producer import FileSource, ProcessSource, produce, raise_for_delivery
    from shopstream.bronze.shop import ShopModel
    from shopstream.bronze.truth import TruthBuilder
    from shopstream.runtime.signals import stop_on_signals

    per_second = parse_rate(rate)
    if from_file and (truth or seed_compat or backfill_days or incident):
        raise ConfigError(
            "--from-file sends a file as is: --truth, --seed-compat, --backfill-days and "
            "--incident need the generator; drop them or --from-file."
        )
    if events is None and duration is None and from_file is None and per_second is None:
        raise ConfigError("say how much to send: --events N, --duration S or --rate R (endless)")
    shop = shop_overrides(incident, day_length, customers, products)
    settings = settings_from(home, kafka={"raw_topic": topic}, generator=shop)
    gen = None
    send_rate: Any = per_second
    if from_file:
        source: Any = FileSource(from_file, events)
    else:
        noise = _noise(noise_rates, off=no_noise or seed_compat)
        model = ShopModel.from_settings(
            settings.generator,
            mean_views=mean_views,
            cart_rate=cart_rate,
            purchase_rate=purchase_rate,
        )
        config = GeneratorConfig.from_settings(
            settings,
            seed=seed if seed is not None else secrets.randbits(31),
            shop=model,
            rate=per_second,
            start_ms=time.time_ns() // 1_000_000,
            backfill_days=backfill_days,
            seed_compat=seed_compat,
            noise=noise,
        )
        if not backfill_days:
            check_fits(config.incidents, duration, "run")
        use_process = parallel if parallel is not None else per_second is None
        source, gen = _generator_source(config, events, in_process=not use_process)
        send_rate = gen.send_schedule() if isinstance(source, ProcessSource) else source.schedule
    builder = TruthBuilder(gen) if (truth and gen is not None) else None

    try:
        # Kafka only after every flag is validated: config errors never wait on a broker.
        bootstrap = _prepare_topics(settings)
        with stop_on_signals() as stop, _progress(events, as_json) as on_progress:
            report = produce(
                settings,
                source,
                rate=send_rate,
                duration_s=duration,
                truth=builder,
                stop=stop,
                bootstrap=bootstrap,
                on_progress=on_progress,
            )
    finally:
        if isinstance(source, ProcessSource):
            source.close()  # when produce never got to read it (no broker)
    summary = _summary(report, gen)
    if builder is not None and truth is not None:
        if isinstance(source, ProcessSource):
            builder.customer_base = source.customer_base
        summary |= _write_truth(builder, truth, report)
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)
    raise_for_delivery(report)


def _noise(given_rates: dict[str, float | None], *, off: bool) -> Any:
    """The noise rates: defaults (or none) with the `--<kind>-rate` flags given."""
    given = {k.removesuffix("_rate"): v for k, v in given_rates.items() if v is not None}
    return dataclasses.replace(NoiseRates.none() if off else NoiseRates(), **given)


def _summary(report: Any, gen: Any) -> dict[str, Any]:
    """The run's summary: the report, and the seed and incident windows if generated."""
    from shopstream.bronze.truth_shop import iso_ms

    summary = report.to_json()
    if gen is not None:
        summary["seed"] = gen.config.seed
        if gen.windows:
            summary["incidents"] = [
                {"spec": w.incident.spec, "start": iso_ms(w.start_ms), "end": iso_ms(w.end_ms)}
                for w in gen.windows
            ]
    return summary


def _generator_source(config: Any, events: int | None, *, in_process: bool) -> tuple[Any, Any]:
    """The generator's event source and the generator whose names the truth uses."""
    from shopstream.bronze.generator import EventGenerator
    from shopstream.bronze.producer import ProcessSource, generator_source

    if in_process:
        source = generator_source(config, events)
        return source, source.generator
    # With a rate, batches of ~1/20 s keep sending smooth (as in-process does).
    size = 65_536 if config.rate is None else max(1, min(65_536, int(config.rate / 20)))
    process = ProcessSource(config, events, batch_size=size)
    # The child's start-up (~0.5 s: imports, world, first batch) overlaps ours.
    process.start()
    try:
        return process, EventGenerator(config, total_events=events)  # validates; truth's names
    except Exception:
        process.close()
        raise


def _write_truth(builder: Any, truth: Path, report: Any) -> dict[str, Any]:
    """Write the ground truth of what was delivered; the summary's truth and expected keys."""
    from shopstream.bronze.truth import write_truth

    doc = builder.result()
    doc["produced"] = {
        "topic": report.topic,
        "delivered": report.delivered,
        "failed": report.failed + report.undelivered,
        "interrupted": report.interrupted,
    }
    return {
        "truth": [str(p) for p in write_truth(doc, truth)],
        "expected": {
            "clean": doc["clean"],
            "dead_letter": doc["dead_letter"]["total"],
            "duplicates": doc["duplicates"],
            "unique": doc["unique"],
        },
    }


def _prepare_topics(settings: Any) -> str:
    """The bootstrap servers, with the pipeline topics present; a clear error if unreachable."""
    from shopstream.kafka.connection import bootstrap_servers
    from shopstream.kafka.topics import ensure_topics

    bootstrap = bootstrap_servers(settings)
    try:
        ensure_topics(settings, bootstrap)
    except ShopstreamError:
        raise
    except Exception as err:  # librdkafka errors: say where we looked and what to do
        raise BrokerUnavailable(
            f"cannot reach Kafka at {bootstrap} to prepare topic {settings.kafka.raw_topic} "
            f"({err}); start it with `shopstream kafka start` or fix the bootstrap servers."
        ) from None
    return bootstrap


def _progress(total: int | None, quiet: bool) -> Any:
    """Context manager yielding an `on_progress(report)` callback (a rich bar on stderr)."""
    import contextlib

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    @contextlib.contextmanager
    def cm() -> Any:
        if quiet:
            yield None
            return
        progress = Progress(
            TextColumn("[bold]producing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>10} ev/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=False,
        )
        task = progress.add_task("produce", total=total, rate="-")
        last = [0.0, 0]

        def on_progress(report: Any) -> None:
            dt = report.elapsed_s - last[0]
            if dt > 0 and report.sent > last[1]:
                recent = (report.sent - last[1]) / dt
                progress.update(task, completed=report.sent, rate=f"{recent:,.0f}")
                last[0], last[1] = report.elapsed_s, report.sent

        with progress:
            yield on_progress

    return cm()


def _print_summary(s: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="produce summary", show_header=False, title_justify="left")
    table.add_row("topic", s["topic"])
    table.add_row("sent", f"{s['sent']:,}")
    table.add_row("delivered", f"{s['delivered']:,}")
    bad = s["failed"] + s["undelivered"]
    table.add_row("not delivered", f"[red]{bad:,}[/] {s['errors']}" if bad else "0")
    table.add_row("throughput", f"{s['events_per_s']:,.0f} events/s, {s['mb_per_s']} MB/s")
    table.add_row(
        "elapsed", f"{s['elapsed_s']:.2f} s" + (" (interrupted)" if s["interrupted"] else "")
    )
    if "seed" in s:
        table.add_row("seed", str(s["seed"]))
    for incident in s.get("incidents", []):
        table.add_row("incident", f"{incident['spec']}: {incident['start']} - {incident['end']}")
    if "truth" in s:
        e = s["expected"]
        table.add_row("truth", ", ".join(s["truth"]))
        table.add_row(
            "expected",
            f"clean {e['clean']:,} (unique {e['unique']:,}, duplicates {e['duplicates']:,}), "
            f"dead letter {e['dead_letter']:,}",
        )
    console.print(table)


def _with_noise_flags(func: Any) -> Any:
    """Replace `**noise_rates` in the signature by one typed option per noise kind."""
    if "__signature__" in vars(func):  # done before: a process may build several trees
        return func
    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
    for rate in NOISE_RATES:
        params.append(
            inspect.Parameter(
                f"{rate.name}_rate",
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(
                    None,
                    rate_flag(rate.name),
                    min=0.0,
                    max=1.0,
                    help=f"Share of events with {rate.help} (default {rate.default_rate:g}).",
                    rich_help_panel="Noise rates",
                ),
                annotation=float | None,
            )
        )
    func.__signature__ = sig.replace(parameters=params)
    return func


def register(app: typer.Typer) -> None:
    """Add `produce` to the root app."""
    app.command("produce")(_with_noise_flags(produce_cmd))
