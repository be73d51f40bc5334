"""`shopstream bench ...`: benchmarks writing JSON + PNG under bench/results/.

Each benchmark is one command on `bench_app`; add yours next to `producer` (the heavy
work lives in `shopstream.bench.<name>`, imported inside the command).
"""

from __future__ import annotations

from pathlib import Path

import typer

from shopstream.cli.common import HomeOption, console, print_json, settings_from

bench_app = typer.Typer(help="Benchmarks: results as JSON + PNG under bench/results/.")

RESULTS_DIR = Path("bench/results")
ResultsOption = typer.Option(RESULTS_DIR, "--out", help="Directory for the JSON and PNG.")


@bench_app.command("producer")
def producer(
    events: int = typer.Option(5_000_000, "--events", "-n", min=1, help="Events per run."),
    seed: int = typer.Option(1, "--seed", help="Generator seed."),
    kafka_perf: bool = typer.Option(
        True, "--kafka-perf/--no-kafka-perf", help="Also run Kafka's ProducerPerformance."
    ),
    out: Path = ResultsOption,
    as_json: bool = typer.Option(False, "--json", help="Print the results JSON."),
    home: Path = HomeOption,
) -> None:
    """Sustained produce throughput vs Kafka's ProducerPerformance (same broker, same run)."""
    from shopstream.bench.producer import BenchOptions, run

    settings = settings_from(home)
    with console.status(f"benchmarking the producer with {events:,} events..."):
        result = run(settings, BenchOptions(events=events, seed=seed, kafka_perf=kafka_perf), out)
    if as_json:
        print_json(result)
        return
    ours = result["ours"]
    console.print(
        f"ours: {ours['events_per_s']:,.0f} events/s ({ours['mb_per_s']} MB/s, "
        f"{ours['record_size_avg']} B/record), delivered {ours['delivered']:,}/{ours['sent']:,}"
    )
    for key, label in (
        ("kafka_producer_perf", "ProducerPerformance (record size)"),
        ("kafka_producer_perf_same_payload", "ProducerPerformance (our payload)"),
    ):
        if key in result:
            console.print(f"{label}: {result[key]['events_per_s']:,.0f} events/s")
    if "ratio_vs_kafka_perf" in result:
        console.print(
            f"ratio ours / ProducerPerformance: {result['ratio_vs_kafka_perf']:.2f} "
            f"(same payload: {result['ratio_vs_kafka_perf_same_payload']:.2f})"
        )
    verdict = "[green]meets" if result["meets_target"] else "[red]misses"
    console.print(f"{verdict}[/] the {result['target_events_per_s']:,} events/s target; "
                  f"results in {out}/producer.json and producer.png")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the `bench` group to the root app."""
    app.add_typer(bench_app, name="bench")
