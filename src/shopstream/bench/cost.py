"""Cost per event: the CPU and memory of `shopstream up` at 0, 1,000 and 10,000 events/s.

Each rate runs `up` as a user runs it (its own processes, one local broker, flat traffic:
`--day-length off`; `--no-generator` at 0) and, after a warm-up, reads every process's
CPU time from /proc at the start and the end of a window: cores = CPU-seconds / second,
per role (Spark's JVM, Python — `up` itself and its generator —, the broker).

The anchor, in the same run and at the same rates: a Spark Kafka -> Kafka pass-through
query (`bench.pass_through`, Gold's trigger, nothing in between) fed by `shopstream
produce --rate R` on a topic of its own (so `up`'s next run finds no backlog). What the
pass-through costs is what any Spark query reading and writing Kafka costs here; what `up`
costs above it is ours. The machine's ProducerPerformance figure is in `meta`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shopstream.bench.cli_home import CliHome, stop_gracefully
from shopstream.bench.common import bench_meta, write_result
from shopstream.config import Settings

# Targets of issue 21 (cores = CPU-seconds per second): idle, Spark + Python; loaded, all.
TARGETS: dict[int, tuple[tuple[str, ...], float]] = {
    0: (("spark", "python"), 0.10),
    1_000: (("spark", "python", "broker", "generator"), 0.25),
    10_000: (("spark", "python", "broker", "generator"), 1.0),
}
ROLES = ("spark", "python", "generator", "broker")


@dataclass(frozen=True)
class CostOptions:
    rates: tuple[int, ...] = (0, 1_000, 10_000)
    warmup_s: float = 90.0  # from start: Spark's start-up (~25 s) and the first backlog
    measure_s: float = 60.0
    anchor: bool = True
    seed: int = 1
    keep: bool = False


Roles = dict[str, set[int]]


def _pids(home: CliHome) -> list[int]:
    from shopstream.config import load_settings
    from shopstream.kafka.cluster import LocalCluster

    state = LocalCluster(load_settings(home=home.home)).state()
    return [b.pid for b in state.brokers] if state else []


def _split(root: int, brokers: list[int], generator: int | None = None) -> Roles:
    """The processes of `root`'s tree by role: Java ones are Spark's, the rest Python."""
    from shopstream.procinfo import command_line, tree

    procs = tree([root])
    spark = {p for p in procs if "java" in command_line(p).split(" ", 1)[0]}
    roles = {"spark": spark, "python": procs - spark, "broker": set(brokers)}
    roles["generator"] = tree([generator]) if generator else set()
    return roles


def cores(before: dict[int, float], after: dict[int, float], seconds: float) -> float:
    """CPU-seconds per second of the processes seen at the end (new ones: all their time).

    >>> cores({1: 10.0, 2: 5.0}, {1: 13.0, 3: 1.5}, 3.0)
    1.5
    """
    return sum(t - before.get(p, 0.0) for p, t in after.items()) / seconds


def thread_group(name: str) -> str:
    """A JVM thread's name without its numbers: one group per pool (pure).

    >>> thread_group("Executor task l"), thread_group("C2 CompilerThre")
    ('Executor task l', 'CN CompilerThre')
    """
    return re.sub(r"\d+", "N", name)


def jvm_threads(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    process_cores: float,
    seconds: float,
) -> dict[str, float]:
    """Cores per thread group of one JVM over a window, the largest first (pure).

    Threads that ended inside the window are gone from `after`; what the process used
    beyond its surviving threads is theirs ("ended in the window": mostly task threads).

    >>> jvm_threads({1: ("a", 1.0)}, {1: ("a", 2.0), 2: ("b1", 0.5)}, 2.0, 1.0)
    {'a': 1.0, 'bN': 0.5, 'ended in the window': 0.5}
    """
    groups: dict[str, float] = {}
    for tid, (name, t) in after.items():
        key = thread_group(name)
        groups[key] = groups.get(key, 0.0) + (t - before.get(tid, (name, 0.0))[1]) / seconds
    groups["ended in the window"] = max(process_cores - sum(groups.values()), 0.0)
    ranked = sorted(groups.items(), key=lambda kv: -kv[1])
    return {k: round(v, 3) for k, v in ranked if v >= 0.001}


def measure_window(roles_now: Any, seconds: float, stop: threading.Event) -> dict[str, Any]:
    """CPU cores and RSS per role over `seconds`, roles re-read at the end (new workers);
    Spark's JVM also per thread group (`spark_threads`)."""
    from shopstream.procinfo import cpu_seconds, rss_bytes, thread_cpu_seconds

    def times(roles: Roles) -> dict[str, dict[int, float]]:
        return {r: {p: cpu_seconds(p) for p in pids} for r, pids in roles.items()}

    first = roles_now()
    jvms = sorted(first.get("spark", set()))
    threads_before = {p: thread_cpu_seconds(p) for p in jvms}
    before, t0 = times(first), time.monotonic()
    stop.wait(seconds)
    last = roles_now()
    after, t1 = times({r: last[r] | first[r] for r in last}), time.monotonic()
    threads_after = {p: thread_cpu_seconds(p) for p in jvms}
    per_role = {r: round(cores(before[r], after[r], t1 - t0), 3) for r in after}
    return {
        "seconds": round(t1 - t0, 1),
        "cores": per_role,
        "total_cores": round(sum(per_role.values()), 3),
        "rss_bytes": {r: sum(rss_bytes(p) for p in last[r]) for r in last},
        "spark_threads": {
            str(p): jvm_threads(
                threads_before[p],
                threads_after[p],
                (after["spark"].get(p, 0.0) - before["spark"].get(p, 0.0)) / (t1 - t0),
                t1 - t0,
            )
            for p in jvms
        },
    }


def _raw_end(home: CliHome, topic: str | None = None) -> int:
    from shopstream.config import load_settings
    from shopstream.kafka.offsets import end_offsets

    settings = load_settings(home=home.home)
    return sum(end_offsets(settings, topic or settings.kafka.raw_topic).values())


def _measured(
    home: CliHome, roles: Any, options: CostOptions, stop: threading.Event, topic: str | None
) -> dict[str, Any]:
    """Warm up, then one window; the events/s that arrived on `topic` during it."""
    stop.wait(options.warmup_s)
    start = _raw_end(home, topic)
    row = measure_window(roles, options.measure_s, stop)
    row["events_per_s"] = round((_raw_end(home, topic) - start) / row["seconds"], 1)
    return row


def _run_up(home: CliHome, rate: int, options: CostOptions, stop: threading.Event) -> Any:
    args = ["up", "--port", "0"]
    args += ["--no-generator"] if rate == 0 else ["--rate", str(rate), "--seed", str(options.seed)]
    up = home.start(f"up-{rate}", *args, "--day-length", "off")
    try:
        row = _measured(home, lambda: _split(up.pid, _pids(home)), options, stop, None)
    finally:
        row_exit = stop_gracefully(up)
    return row | {"rate": rate, "config": "up", "exit": row_exit}


def _run_anchor(home: CliHome, rate: int, options: CostOptions, stop: threading.Event) -> Any:
    from shopstream.config import load_settings
    from shopstream.kafka.topics import create_topics

    settings = load_settings(home=home.home)
    source, target = f"cost_anchor_raw_{rate}", f"cost_anchor_out_{rate}"
    create_topics(settings, {source: settings.kafka.raw_partitions, target: 3})
    query = [sys.executable, "-m", "shopstream.bench.pass_through", str(home.home), source, target]
    passing = home.start(f"pass-through-{rate}", argv=query)
    producer = None
    if rate:
        run_for = str(options.warmup_s + options.measure_s + 60)
        producer = home.start(
            f"produce-{rate}", "produce", "--rate", str(rate), "--duration", run_for,
            "--topic", source, "--day-length", "off", "--seed", str(options.seed),
        )  # fmt: skip
    try:
        roles = lambda: _split(passing.pid, _pids(home), producer.pid if producer else None)  # noqa: E731
        row = _measured(home, roles, options, stop, source)
    finally:
        for proc in (producer, passing):
            if proc is not None:
                stop_gracefully(proc)
    return row | {"rate": rate, "config": "pass-through"}


def producer_performance(home: CliHome, records: int = 1_000_000) -> float:
    """Kafka's ProducerPerformance on this machine's broker now: the figure runs compare by."""
    from shopstream.bench.producer import producer_performance as calibrate
    from shopstream.config import load_settings
    from shopstream.kafka.connection import bootstrap_servers

    settings = load_settings(home=home.home)
    return calibrate(settings, bootstrap_servers(settings), records)


def verdicts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per rate, `up`'s cores against its target and against the pass-through (pure)."""
    out: dict[str, Any] = {}
    for row in (r for r in rows if r["config"] == "up"):
        roles, limit = TARGETS.get(row["rate"], (ROLES, float("nan")))
        used = round(sum(row["cores"].get(r, 0.0) for r in roles), 3)
        anchor = next((a for a in rows if a["config"] != "up" and a["rate"] == row["rate"]), None)
        out[str(row["rate"])] = {
            "counted": list(roles),
            "cores": used,
            "target_cores": limit,
            "met": used <= limit,
            "pass_through_cores": anchor["total_cores"] if anchor else None,
        }
    return out


def run(
    settings: Settings, options: CostOptions, out_dir: Path, stop: threading.Event, say: Any
) -> dict[str, Any]:
    """Every rate, `up` then its anchor; cost.json + cost.png under `out_dir`."""
    home = CliHome(settings.files.bench(f"cost-{uuid.uuid4().hex[:8]}"), brokers=1, logs="logs")
    rows: list[dict[str, Any]] = []
    result: dict[str, Any] = {"options": asdict(options), "rows": rows}
    load_before, perf = os.getloadavg()[0], None
    try:
        started = home.run("kafka", "start", timeout=180)
        if started.returncode != 0:
            raise RuntimeError(f"kafka start failed: {started.stderr.strip()[-300:]}")
        say("ProducerPerformance, 1M records of 260 bytes")
        perf = producer_performance(home)
        say(f"  {perf:,.0f} records/s")
        for rate in options.rates:
            for config, runner in (("up", _run_up), ("pass-through", _run_anchor)):
                if stop.is_set() or (config != "up" and not options.anchor):
                    continue
                say(f"{config} at {rate:,} events/s")
                rows.append(runner(home, rate, options, stop))
                say(f"  {rows[-1]['total_cores']:.2f} cores, {rows[-1]['events_per_s']:,.0f}/s")
    finally:
        home.run("kafka", "stop", timeout=120)
        if not options.keep:
            shutil.rmtree(home.home, ignore_errors=True)
    result["verdicts"] = verdicts(rows)
    result["meets_target"] = bool(rows) and all(v["met"] for v in result["verdicts"].values())
    meta = bench_meta(load_avg_1m=load_before, producer_performance_records_per_s=perf)
    write_result("cost", result, out_dir, plot, meta)
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    """Stacked cores per role, `up` beside its pass-through anchor at each rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    labels = [f"{r['config']}\n{r['rate']:,}/s" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4))
    bottom = [0.0] * len(rows)
    for role in ROLES:
        values = [r["cores"].get(role, 0.0) for r in rows]
        ax.bar(labels, values, bottom=bottom, label=role)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for rate, (_, limit) in TARGETS.items():
        xs = [i for i, r in enumerate(rows) if r["rate"] == rate and r["config"] == "up"]
        for x in xs:
            ax.hlines(limit, x - 0.4, x + 0.4, colors="red", linestyles="dashed")
    ax.set_ylabel("cores (CPU-seconds per second)")
    ax.set_title("shopstream up vs a Spark pass-through, by rate (red: target)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
