"""`shopstream bench ...`: benchmarks writing JSON + PNG under bench/results/.

Each benchmark is one command on `bench_app`; add yours next to `producer` (the heavy
work lives in `shopstream.bench.<name>`, imported inside the command).
"""

from __future__ import annotations

from pathlib import Path

import typer

from shopstream.cli.common import HomeOption, console, print_json, settings_from
from shopstream.errors import ConfigError

bench_app = typer.Typer(help="Benchmarks: results as JSON + PNG under bench/results/.")


@bench_app.callback()
def _stop_cleanly_on_sigterm() -> None:
    """A SIGTERM stops a benchmark as Ctrl-C does: its `finally` blocks stop the broker it
    started and drop its topics (the default SIGTERM action left both behind)."""
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)


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


@bench_app.command("produce-cli")
def produce_cli(
    events: int = typer.Option(3_000_000, "--events", "-n", min=1, help="Events per run."),
    seed: int = typer.Option(1, "--seed", help="Generator seed."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Runs of each, alternating."),
    kafka_perf: bool = typer.Option(
        True, "--kafka-perf/--no-kafka-perf", help="Also run Kafka's ProducerPerformance."
    ),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """The whole `shopstream produce --truth` command, exec to exit, vs ProducerPerformance."""
    from shopstream.bench.producer import CommandOptions, run_command

    options = CommandOptions(events=events, seed=seed, rounds=rounds, kafka_perf=kafka_perf)
    with console.status(f"running `shopstream produce -n {events:,} --truth` {rounds}x..."):
        result = run_command(settings_from(home), options, out)
    perf_runs = result["runs"]["kafka_perf"]
    for index, ours in enumerate(result["runs"]["ours"]):
        line = f"ours: {ours['events_per_s']:,.0f} events/s ({ours['wall_s']} s exec to exit)"
        if index < len(perf_runs):
            rate = perf_runs[index]["wall_events_per_s"]
            line += f"; ProducerPerformance: {rate:,.0f}/s exec to exit"
            line += f"; ratio {result['ratio_per_round'][index]:.2f}"
        console.print(line)
    target = f"{result['target_ratio_vs_kafka_perf_wall']}x ProducerPerformance in every round"
    _verdict(result, target, out / "produce-cli.json")


@bench_app.command("silver")
def silver(
    events: int = typer.Option(5_000_000, "--events", "-n", min=1, help="Events to preload."),
    seed: int = typer.Option(1, "--seed", help="Generator seed."),
    master: str = typer.Option("local[2]", "--master", help="Spark master for both queries."),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's topics and home."),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """Silver --available-now throughput vs a Kafka->Kafka pass-through query, same run."""
    from shopstream.bench.silver import SilverBenchOptions, run

    opts = SilverBenchOptions(events=events, seed=seed, master=master, keep=keep)
    with console.status(f"benchmarking Silver with {events:,} events..."):
        r = run(settings_from(home), opts, out)
    console.print(
        f"silver {r['silver']['events_per_s']:,.0f} events/s vs pass-through "
        f"{r['pass_through']['events_per_s']:,.0f} events/s "
        f"(ratio {r['silver_vs_pass_through']}); reconciles={r['reconciles']}"
    )
    _verdict(r, f"{r['target_events_per_s']:,} events/s", out / "silver.json")


@bench_app.command("gold")
def gold(
    events: int = typer.Option(5_000_000, "--events", "-n", min=1, help="Events to generate."),
    seed: int = typer.Option(1, "--seed", help="Generator seed."),
    max_offsets: int = typer.Option(
        500_000, "--max-offsets-per-trigger", min=1, help="Records per Gold micro-batch."
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's topics and home."),
    history: list[int] = typer.Option(
        [0, 10_000_000, 30_000_000],
        "--history",
        min=0,
        help="Stored events under which the same batches' commits are timed again "
        "(repeat the flag; --history 0 alone times only an empty warehouse).",
    ),
    no_history: bool = typer.Option(False, "--no-history", help="Skip the history timings."),
    runs: int = typer.Option(
        3, "--runs", min=1, help="Gold runs on the same Silver output; the slowest is reported."
    ),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """Gold into DuckDB: N events through Silver, then Gold timed (each run from an empty
    warehouse) and checked against truth.

    Then the same batches are committed again on top of 0, 10M and 30M stored events
    (gold-history.json): the commit time must not depend on the history.
    """
    from shopstream.bench.gold import GoldBenchOptions, run

    opts = GoldBenchOptions(
        events=events, seed=seed, max_offsets_per_trigger=max_offsets, keep=keep,
        histories=() if no_history else tuple(history), runs=runs,
    )  # fmt: skip
    with console.status(f"benchmarking Gold with {events:,} events, {runs} runs..."):
        r = run(settings_from(home), opts, out)
    each = ", ".join(f"{x['gold_clean_events_per_s']:,.0f}" for x in r["runs"])
    console.print(
        f"silver {r['silver_events_per_s']:,.0f} events/s; "
        f"gold {r['gold_clean_events_per_s']:,.0f} clean events/s in the slowest run "
        f"({r['clean_events']:,} in {r['gold_seconds']} s; runs {each}); exact={r['exact']}"
    )
    _verdict(r, f"{r['target_events_per_s']:,} events/s", out / "gold.json")
    if "history" in r:
        h = r["history"]
        totals = ", ".join(
            f"{run['history_events']:,}: {run['total_commit_ms'] / 1000:.2f} s" for run in h["runs"]
        )
        console.print(
            f"commits of the same {len(h['batches'])} batches on stored events {totals}; "
            f"spread {h['spread']:.1%}, exact={h['exact']}"
        )
        _verdict(
            h | {"meets_target": h["flat"] and h["exact"]},
            f"spread <= {h['max_spread']:.0%}",
            out / "gold-history.json",
        )


@bench_app.command("sql-load")
def sql_load(
    events: int = typer.Option(200_000, "--events", "-n", min=1, help="Events Gold commits."),
    history_events: int = typer.Option(
        2_000_000, "--history", min=0, help="Events already stored (what the long scan reads)."
    ),
    max_offsets: int = typer.Option(
        25_000, "--max-offsets-per-trigger", min=1, help="Records per Gold micro-batch."
    ),
    timeout: float = typer.Option(
        5.0, "--statement-timeout", min=0, help="The endpoint's statement timeout, seconds."
    ),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Rounds of both modes, alternating."),
    seed: int = typer.Option(1, "--seed", help="Generator seed."),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's topics and home."),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """Gold's commit time while 4 dashboard clients and 1 long scan query the SQL endpoint.

    The same batches are committed with and without the clients in the same run; the
    commits may take at most 20% longer with them (sql-load.json, sql-load.png).
    """
    from shopstream.bench.sql_load import SqlLoadOptions, run

    opts = SqlLoadOptions(
        events=events, history_events=history_events, max_offsets_per_trigger=max_offsets,
        statement_timeout_seconds=timeout, rounds=rounds, seed=seed, keep=keep,
    )  # fmt: skip
    with console.status(f"benchmarking Gold's commits under SQL load ({events:,} events)..."):
        r = run(settings_from(home), opts, out)
    queries = sum(c["queries"] for load in r["client_load"] for c in load)
    console.print(
        f"{r['batches']} batches: {r['total_commit_ms_quiet'] / 1000:.2f} s without clients, "
        f"{r['total_commit_ms_with_clients'] / 1000:.2f} s with them ({r['slowdown']:+.1%}); "
        f"{queries:,} client queries answered; same results={r['same_results']}"
    )
    _verdict(r, f"slowdown <= {r['max_slowdown']:.0%}", out / "sql-load.json")


@bench_app.command("e2e")
def e2e(
    rate: float = typer.Option(10_000, "--rate", min=1, help="Steady input, events/s."),
    duration: float = typer.Option(120, "--duration", min=1, help="Measured seconds."),
    warmup: float = typer.Option(
        0, "--warmup", min=0, help="Seconds of load before measuring; 0 = from the cold start."
    ),
    runs: int = typer.Option(3, "--runs", min=1, help="Cold starts; every one must meet it."),
    real_time: bool | None = typer.Option(
        None,
        "--real-time/--micro-batch",
        show_default=False,
        help="Silver's mode; default: the one `shopstream up` picks on this machine.",
    ),
    trigger_seconds: float | None = typer.Option(
        None,
        "--trigger-seconds",
        min=0,
        help="Micro-batch interval; default: spark.trigger_seconds, as under `up`.",
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's topics and home."),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """End-to-end latency (produce -> visible in the warehouse) from a cold start, time to
    steady state and peak RSS, at steady load; ProducerPerformance beside it."""
    from shopstream.bench.e2e import (
        TARGET_P50_S,
        TARGET_P99_S,
        TARGET_STEADY_S,
        E2EOptions,
        run,
    )

    opts = E2EOptions(
        rate=rate, duration_s=duration, warmup_s=warmup, runs=runs, real_time=real_time,
        trigger_seconds=trigger_seconds, keep=keep,
    )  # fmt: skip
    name = {None: "e2e", True: "e2e-realtime", False: "e2e-microbatch"}[real_time]
    with console.status(
        f"measuring latency: {runs} cold starts, {warmup + duration:.0f} s each at "
        f"{rate:,.0f} events/s..."
    ):
        r = run(settings_from(home), opts, out, name=name)
    perf = r["meta"]["producer_performance_records_per_s"]
    console.print(f"ProducerPerformance on this machine: {perf:,.0f} records/s")
    for i, one in enumerate(r["runs"], 1):
        lat = one["latency"]
        console.print(
            f"run {i}: steady after {one['time_to_steady_s']} s; then p50 {lat.get('p50_s')} s, "
            f"p99 {lat.get('p99_s')} s over {lat.get('count', 0):,} events; "
            f"peak RSS {one['peak_rss_gib']} GiB"
        )
    if r.get("notice"):
        console.print(r["notice"], highlight=False)
    target = (
        f"steady within {TARGET_STEADY_S:g} s, then p50 <= {TARGET_P50_S:g} s, "
        f"p99 <= {TARGET_P99_S:g} s, RSS <= 4 GiB, in every run"
    )
    _verdict(r, target, out / f"{name}.json")


@bench_app.command("scale")
def scale(
    events: int = typer.Option(1_000_000, "--events", "-n", min=1, help="Events per run."),
    seed: int = typer.Option(1, "--seed", help="Generator seed."),
    local_reference: bool = typer.Option(
        True, "--local/--no-local", help="Also run local[2] as the reference."
    ),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """Silver on a standalone cluster of 1 and 2 one-core workers, 3 and 6 raw partitions."""
    from shopstream.bench.scale import ScaleBenchOptions, run

    opts = ScaleBenchOptions(events=events, seed=seed, local_reference=local_reference)
    with console.status(f"benchmarking Silver on a standalone cluster, {events:,} events/run..."):
        r = run(settings_from(home), opts, out)
    for x in r["runs"]:
        console.print(
            f"{x['config']}, {x['partitions']} partitions: {x['events_per_s']:,.0f} events/s "
            f"({x['seconds']} s; {x['events_per_executor_cpu_s'] or 0:,.0f} events per "
            f"executor CPU-s); reconciles={x['reconciles']}"
        )
    console.print(f"results in {out}/scale.json and scale.png")


@bench_app.command("soak")
def soak(
    minutes: float = typer.Option(30.0, "--minutes", min=0.5, help="Length of the loaded run."),
    rate: float = typer.Option(5_000, "--rate", min=1, help="Generator events per second."),
    seed: int = typer.Option(1, "--seed", help="Generator seed."),
    poll: float = typer.Option(10.0, "--poll", min=1, help="Seconds between status samples."),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's home (brokers, warehouse)."),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """`up` on 3 brokers under load; kill -9 Spark at 1/3 and a broker at 2/3; vs the truth.

    Not part of CI: it runs for --minutes (default 30) plus start-up and catch-up.
    Ctrl-C stops it cleanly and still writes what was measured.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from shopstream.bench.soak import SoakOptions, run
    from shopstream.runtime.signals import stop_on_signals

    options = SoakOptions(minutes=minutes, rate=rate, seed=seed, poll_s=poll, keep=keep)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar, stop_on_signals() as stop:
        task = bar.add_task("soak", total=minutes * 60)

        def progress(what: str, seconds: float) -> None:
            bar.update(task, completed=min(seconds, minutes * 60), description=what)
            bar.console.print(f"[dim]{seconds:7.1f} s[/] {what}")

        result = run(settings_from(home), options, out, progress, stop)
    for name, entry in (result.get("vs_truth") or {}).items():
        if isinstance(entry, dict):
            mark = "[green]=" if entry["equal"] else "[red]!="
            console.print(f"{name}: status {entry['status']} {mark}[/] truth {entry['truth']}")
    if "error" in result:
        console.print(f"[red]soak failed:[/] {result['error']}")
    console.print(
        f"warehouse vs truth: {result.get('warehouse_vs_truth')}; peak RSS of up "
        f"{result['peak_rss_up_bytes'] / 1024**3:.2f} GiB; status failures "
        f"{result['status_failures']}; results in {out}/soak.json and soak.png"
    )
    if not result["exact"]:
        raise typer.Exit(1)


@bench_app.command("cost")
def cost(
    rates: str = typer.Option("0,1000,10000", "--rates", help="Events/s to run, comma-separated."),
    warmup: float = typer.Option(90.0, "--warmup", min=0, help="Seconds before each window."),
    measure: float = typer.Option(60.0, "--measure", min=5, help="Seconds each window lasts."),
    anchor: bool = typer.Option(
        True, "--anchor/--no-anchor", help="Also run the Spark pass-through at each rate."
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's home (broker, warehouse)."),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """CPU cores and RSS per process of `up` at each rate, beside a Spark pass-through.

    Not part of CI: about (warmup + measure + 30 s) x 2 per rate, ~12 minutes by default.
    """
    from shopstream.bench.cost import CostOptions, run
    from shopstream.runtime.signals import stop_on_signals

    try:
        parsed = tuple(int(r) for r in rates.split(","))
    except ValueError:
        raise ConfigError(f"--rates takes whole events/s, comma-separated; got {rates!r}") from None
    options = CostOptions(
        rates=parsed, warmup_s=warmup, measure_s=measure, anchor=anchor, keep=keep
    )
    with stop_on_signals() as stop:
        result = run(settings_from(home), options, out, stop, console.print)
    for rate, v in result["verdicts"].items():
        mark = "[green]met" if v["met"] else "[red]missed"
        console.print(
            f"{int(rate):>6,}/s: {v['cores']:.2f} cores ({'+'.join(v['counted'])}), target "
            f"{v['target_cores']} {mark}[/]; pass-through {v['pass_through_cores']} cores"
        )
    console.print(f"results in {out}/cost.json and cost.png")


@bench_app.command("incidents")
def incidents(
    rate: int = typer.Option(1_000, "--rate", min=1, help="Generator events/s (the day's mean)."),
    normal: float = typer.Option(
        35.0, "--normal", min=0, help="Minutes of normal traffic first (the false-alarm window)."
    ),
    length: float = typer.Option(2.0, "--length", min=0.5, help="Minutes each incident lasts."),
    gap: float = typer.Option(5.0, "--gap", min=1, help="Minutes after each incident."),
    kinds: str = typer.Option(
        "checkout_outage,payment_failures,bad_release,traffic_spike,traffic_drop",
        "--kinds",
        help="Incident kinds, in order, comma-separated.",
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's home (broker, warehouse)."),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """Business alerts end to end: time to detect each incident kind, false alerts in a normal
    stretch, at 1,000 events/s with the day/night curve (incidents.json, incidents.png).

    Not part of CI: normal + kinds x (length + gap) minutes, ~1 h 10 min by default.
    """
    from shopstream.bench.incidents import KIND_RULE, IncidentsOptions, run
    from shopstream.runtime.signals import stop_on_signals

    names = tuple(k.strip() for k in kinds.split(",") if k.strip())
    known = sorted(k.value for k in KIND_RULE)
    if not names or any(k not in known for k in names):
        raise ConfigError(f"--kinds takes incident kinds from {', '.join(known)}; got {kinds!r}")
    options = IncidentsOptions(rate, normal, length, gap, names, keep=keep)
    with stop_on_signals() as stop:
        result = run(settings_from(home), options, out, stop, console.print)
    for row in result.get("incidents", []):
        took = f"after {row['detect_s']:.0f} s" if row["detected"] else "[red]missed[/]"
        console.print(f"{row['kind']:>17}: {row['rule']} {took}")
    console.print(f"false alerts: {len(result.get('false_alerts', []))}")
    _verdict(result, "checkout outage ≤ 60 s, 0 false alerts", out / "incidents.json")


@bench_app.command("reads")
def reads(
    sizes: str = typer.Option(
        "0,10000000,100000000", "--sizes", help="History sizes in events, comma-separated."
    ),
    runs: int = typer.Option(7, "--runs", min=1, help="Timed runs of each read."),
    keep: bool = typer.Option(False, "--keep", help="Keep the built warehouses (state dir)."),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """Every dashboard panel and reporting view timed on histories of 0, 10M and 100M events;
    each should take at most 50 ms on the largest (reads.json, reads.png).

    Not part of CI: building the 100M history takes ~3 minutes and ~6 GiB of disk.
    """
    from shopstream.bench.reads import ReadsOptions, run
    from shopstream.runtime.signals import stop_on_signals

    try:
        parsed = tuple(int(n) for n in sizes.split(","))
    except ValueError:
        raise ConfigError(f"--sizes takes whole events, comma-separated; got {sizes!r}") from None
    if any(n < 0 for n in parsed):
        raise ConfigError(f"--sizes must be 0 or more events each; got {sizes!r}")
    settings = settings_from(home)
    with stop_on_signals() as stop:
        result = run(settings.state_dir / "bench-reads", ReadsOptions(parsed, runs, keep), out,
                     console.print, stop.is_set)  # fmt: skip
    for size in result["sizes"]:
        console.print(
            f"{size['history_events']:>11,} events: slowest read {size['slowest_read']} "
            f"{size['slowest_read_ms']:.1f} ms; scan of silver_events {size['anchor_ms']:.1f} ms"
        )
    _verdict(result, f"every read <= {result['target_ms']:g} ms", out / "reads.json")


@bench_app.command("cli")
def cli(
    runs: int = typer.Option(15, "--runs", min=1, help="Timed runs of each command."),
    out: Path = ResultsOption,
    home: Path = HomeOption,
) -> None:
    """Answer times of `--version`, `--help` and `sql` (the file, a running endpoint), exec
    to exit; `sql` through the endpoint should take at most 1 s (cli.json, cli.png)."""
    from shopstream.bench.cli import LABELS, CliBenchOptions, run

    with console.status(f"timing the CLI, {runs} runs of each command..."):
        r = run(settings_from(home), CliBenchOptions(runs=runs), out)
    for name, median in r["median_s"].items():
        console.print(
            f"{LABELS.get(name, name)}: median {median:.3f} s "
            f"({r['min_s'][name]:.3f}-{r['max_s'][name]:.3f} s)"
        )
    _verdict(r, f"sql via the endpoint <= {r['target_s']:g} s", out / "cli.json")


@bench_app.command("all")
def all_benchmarks(out: Path = ResultsOption, home: Path = HomeOption) -> None:
    """Every benchmark with its default size, one after the other."""
    from shopstream.cli import bench as this

    this.producer(5_000_000, 1, True, out, False, home)
    this.produce_cli(3_000_000, 1, 3, True, out, home)
    this.silver(5_000_000, 1, "local[2]", False, out, home)
    this.gold(5_000_000, 1, 500_000, False, [0, 10_000_000, 30_000_000], False, 3, out, home)
    this.sql_load(200_000, 2_000_000, 25_000, 5.0, 3, 1, False, out, home)
    this.e2e(10_000, 120, 0, 3, None, None, False, out, home)
    this.e2e(10_000, 120, 0, 1, False, None, False, out, home)
    this.scale(1_000_000, 1, True, out, home)
    this.cost("0,1000,10000", 90.0, 60.0, True, False, out, home)
    this.cli(15, out, home)
    this.reads("0,10000000,100000000", 7, False, out, home)
    this.incidents(
        1_000,
        35.0,
        2.0,
        5.0,
        "checkout_outage,payment_failures,bad_release,traffic_spike,traffic_drop",
        False,
        out,
        home,
    )


def _verdict(result: dict, target: str, path: Path) -> None:
    verdict = "[green]meets" if result.get("meets_target") else "[red]misses"
    console.print(f"{verdict}[/] the target ({target}); results in {path} and .png")


def register(app: typer.Typer) -> None:
    """Add the `bench` group to the root app."""
    app.add_typer(bench_app, name="bench")
