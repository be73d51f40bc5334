"""Silver throughput as the cluster grows: a Spark standalone cluster (master + workers
started from the pyspark install, one core each) with 1 and 2 workers, on raw_events with 3
and 6 partitions, plus `local[2]` in the same run as the reference.

Each run preloads the same generated events into its own raw topic and times an
`--available-now` Silver over them, after an unmeasured warm-up on the same executors (the
first query on new executors pays for JIT compilation). Executor CPU time comes from
Spark's REST API, so the result also says what one busy core does, whatever else the host
was running. Every run must reconcile (`raw = clean + dead_letter`, equal to the truth).
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopstream.bench.common import (
    bench_broker,
    bench_meta,
    drop_bench,
    host_info,
    write_result,
)
from shopstream.config import Settings, load_settings
from shopstream.spark.standalone import START_TIMEOUT_S, standalone_cluster

LOCAL_REFERENCE = "local[2]"


@dataclass(frozen=True)
class ScaleBenchOptions:
    events: int = 1_000_000
    seed: int = 1
    workers: tuple[int, ...] = (1, 2)
    partitions: tuple[int, ...] = (3, 6)
    worker_memory: str = "1g"
    executor_memory: str = "768m"
    max_offsets_per_trigger: int = 250_000
    local_reference: bool = True


def _executor_cpu_seconds(spark: Any) -> float:
    """Executor CPU time of every completed stage of this application so far (REST API)."""
    sc = spark.sparkContext
    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages?status=complete"
    with urllib.request.urlopen(url, timeout=10) as r:
        stages = json.loads(r.read())
    return sum(s.get("executorCpuTime", 0) for s in stages) / 1e9


def _run_settings(
    base: Settings, bootstrap: str, tag: str, partitions: int, spark: dict[str, Any]
) -> Settings:
    return load_settings(
        home=base.files.bench(tag),
        kafka={
            "bootstrap_servers": bootstrap,
            "raw_topic": f"bench_raw_{tag}",
            "clean_topic": f"bench_clean_{tag}",
            "dead_letter_topic": f"bench_dlq_{tag}",
            "raw_partitions": partitions,
            "clean_partitions": partitions,
        },
        spark=spark,
    )


def _silver_once(spark: Any, s: Settings, events: int, seed: int) -> dict[str, Any]:
    """Preload `events` into s's raw topic, run Silver --available-now over them, time it."""
    from shopstream.bench.gold import preload
    from shopstream.kafka.offsets import message_count
    from shopstream.kafka.topics import ensure_topics
    from shopstream.silver.job import start_silver
    from shopstream.silver.metrics import batch_counters
    from shopstream.spark.checkpoints import progress_log, read_progress

    ensure_topics(s)
    _, truth = preload(s, events, seed)
    cpu0, load0 = _executor_cpu_seconds(spark), os.getloadavg()[0]
    t0 = time.perf_counter()
    start_silver(spark, s, available_now=True).awaitTermination()
    seconds = time.perf_counter() - t0
    time.sleep(1.0)  # the REST API's stage list trails the query's end by a moment
    cpu = _executor_cpu_seconds(spark) - cpu0
    clean = message_count(s, s.kafka.clean_topic)
    dead = message_count(s, s.kafka.dead_letter_topic)
    raw = message_count(s, s.kafka.raw_topic)
    batches = [batch_counters(p) for p in read_progress(progress_log(s, "silver"))]
    return {
        "partitions": s.kafka.raw_partitions,
        "events": raw,
        "seconds": round(seconds, 2),
        "events_per_s": round(raw / seconds, 1),
        "best_batch_events_per_s": round(max((b.processing_rate for b in batches), default=0), 1),
        "batches": sum(1 for b in batches if b.input),
        "executor_cpu_s": round(cpu, 2),
        "events_per_executor_cpu_s": round(raw / cpu, 1) if cpu else None,
        "load_average_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "reconciles": raw == clean + dead == events
        and clean == truth["clean"]
        and dead == truth["dead_letter"]["total"],
    }


def _series(
    settings: Settings, bootstrap: str, options: ScaleBenchOptions, label: str, spark_conf: dict
) -> list[dict[str, Any]]:
    """One Spark application: a warm-up, then one measured run per partition count."""
    from shopstream.spark.session import executor_count, spark_session

    runs: list[dict[str, Any]] = []
    made: list[Settings] = []
    tag = uuid.uuid4().hex[:6]
    try:
        warm = _run_settings(settings, bootstrap, f"{tag}w", options.partitions[0], spark_conf)
        made.append(warm)
        spark = spark_session(warm, f"shopstream-bench-scale-{label}")
        want = spark_conf.get("cores_max") or 0
        deadline = time.monotonic() + START_TIMEOUT_S
        while executor_count(spark) < want and time.monotonic() < deadline:
            time.sleep(0.5)
        try:
            _silver_once(spark, warm, max(options.events // 5, 10_000), options.seed + 1)
            for partitions in options.partitions:
                name = f"{tag}p{partitions}"
                s = _run_settings(settings, bootstrap, name, partitions, spark_conf)
                made.append(s)
                runs.append(
                    {"config": label, "executors": executor_count(spark)}
                    | _silver_once(spark, s, options.events, options.seed)
                )
        finally:
            spark.stop()
    finally:
        for s in made:
            drop_bench(s)
    return runs


def run(settings: Settings, options: ScaleBenchOptions, out_dir: Path) -> dict[str, Any]:
    """Every configuration in turn; write scale.json + scale.png."""
    result: dict[str, Any] = {
        "benchmark": "scale",
        "events": options.events,
        "max_offsets_per_trigger": options.max_offsets_per_trigger,
        "worker_cores": 1,
        "worker_memory": options.worker_memory,
        "host": host_info(),
        "runs": [],
    }
    common = {"max_offsets_per_trigger": options.max_offsets_per_trigger}
    from shopstream.bench.producer import producer_performance

    load_before = os.getloadavg()[0]
    with bench_broker(settings) as bootstrap:
        perf = producer_performance(settings, bootstrap)
        for workers in options.workers:
            work = settings.files.bench(f"standalone-{uuid.uuid4().hex[:6]}")
            with standalone_cluster(workers, options.worker_memory, work) as cluster:
                conf = common | {
                    "master": cluster.url,
                    "driver_host": "127.0.0.1",
                    "executor_cores": 1,
                    "executor_memory": options.executor_memory,
                    "cores_max": workers,
                }
                label = f"{workers} worker{'s' if workers > 1 else ''} x 1 core"
                result["runs"] += _series(settings, bootstrap, options, label, conf)
        if options.local_reference:
            conf = common | {"master": LOCAL_REFERENCE}
            result["runs"] += _series(settings, bootstrap, options, LOCAL_REFERENCE, conf)
    result["reconciles"] = all(r["reconciles"] for r in result["runs"])
    result["load_average_end"] = os.getloadavg()
    meta = bench_meta(load_avg_1m=load_before, producer_performance_records_per_s=perf)
    write_result("scale", result, out_dir, plot, meta)
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    """Grouped bars: events/s per configuration and partition count; CPU cost beside."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    configs = list(dict.fromkeys(r["config"] for r in runs))
    parts = sorted({r["partitions"] for r in runs})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    width = 0.8 / len(parts)
    for i, p in enumerate(parts):
        xs = [c + (i - (len(parts) - 1) / 2) * width for c in range(len(configs))]
        vals = [
            next((r["events_per_s"] for r in runs if r["config"] == c and r["partitions"] == p), 0)
            for c in configs
        ]
        bars = left.bar(xs, vals, width, label=f"{p} raw partitions")
        left.bar_label(bars, labels=[f"{v / 1000:,.0f}k" for v in vals], fontsize=8)
        cpu = [
            next(
                (
                    r["events_per_executor_cpu_s"] or 0
                    for r in runs
                    if r["config"] == c and r["partitions"] == p
                ),
                0,
            )
            for c in configs
        ]
        bars = right.bar(xs, cpu, width, label=f"{p} raw partitions")
        right.bar_label(bars, labels=[f"{v / 1000:,.0f}k" for v in cpu], fontsize=8)
    for ax, title in (
        (left, "Silver --available-now, events / s (wall clock)"),
        (right, "events per executor CPU-second"),
    ):
        ax.set_xticks(range(len(configs)), configs)
        ax.set_title(title, fontsize=10)
        # Headroom: the legend sits above the bars, not on them.
        ax.set_ylim(0, max(ax.get_ylim()[1], 1) * 1.25)
        ax.legend(loc="upper left", fontsize=8)
    load = result["host"]["load_average"][0]
    fig.suptitle(
        f"shopstream bench scale: {result['events']:,} events per run "
        f"({result['host']['cpus']} CPUs, load {load:.1f} at start)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
