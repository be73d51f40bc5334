"""Silver throughput: N generated events preloaded, then `--available-now` Silver, timed
side by side with a Spark pass-through query (Kafka -> Kafka, no parsing) in the same run.

The pass-through bounds what any Kafka -> Spark -> Kafka query can do on this host, so
the ratio says how much Silver's parsing and rules cost. The run also checks that Silver
reconciles (`raw = clean + dead_letter`), so a fast-but-lossy Silver cannot score.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopstream.bench.common import bench_run, host_info, write_result
from shopstream.bench.producer import calibrated_meta
from shopstream.config import Settings

TARGET_EVENTS_PER_S = 100_000


@dataclass(frozen=True)
class SilverBenchOptions:
    events: int = 5_000_000
    seed: int = 1
    master: str = "local[2]"
    max_offsets_per_trigger: int | None = 1_000_000
    keep: bool = False


def _pass_through(spark: Any, settings: Settings, topic: str, min_partitions: int) -> float:
    """Seconds for an available-now Kafka -> Kafka copy of raw_events (key, value only)."""
    from shopstream.silver.job import read_raw, sink_options
    from shopstream.spark.checkpoints import checkpoint

    # The same producer settings as Silver's sink, so the ratio measures only the transform.
    opts = sink_options(settings)
    t0 = time.perf_counter()
    query = (
        read_raw(spark, settings, min_partitions)
        .select("key", "value")
        .writeStream.format("kafka")
        .options(**opts)
        .option("topic", topic)
        .option("checkpointLocation", str(checkpoint(settings, "pass-through")))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return time.perf_counter() - t0


def run(settings: Settings, options: SilverBenchOptions, out_dir: Path) -> dict[str, Any]:
    """Preload, time the pass-through, time Silver; write silver.json + silver.png."""
    from shopstream.bench.gold import preload
    from shopstream.kafka.offsets import message_count
    from shopstream.kafka.topics import create_topics, delete_topics
    from shopstream.silver.job import query_totals, start_silver
    from shopstream.silver.metrics import batch_counters
    from shopstream.spark.checkpoints import progress_log, read_progress
    from shopstream.spark.session import spark_session
    from shopstream.spark.slots import task_slots

    tag = uuid.uuid4().hex[:8]
    result: dict[str, Any] = {
        "benchmark": "silver",
        "events": options.events,
        "master": options.master,
        "max_offsets_per_trigger": options.max_offsets_per_trigger,
        "host": host_info(),
    }
    with bench_run(
        settings,
        keep=options.keep,
        master=options.master,
        max_offsets_per_trigger=options.max_offsets_per_trigger,
    ) as s:
        meta = calibrated_meta(s, load_avg_1m=os.getloadavg()[0])
        pass_topic = f"bench_pass_{tag}"
        create_topics(s, {pass_topic: s.kafka.raw_partitions})
        try:
            t0 = time.perf_counter()
            result["produce"], truth = preload(s, options.events, options.seed)
            result["produce_seconds"] = round(time.perf_counter() - t0, 2)
            raw = message_count(s, s.kafka.raw_topic)
            spark = spark_session(s, "shopstream-bench-silver")
            result["load_before"] = os.getloadavg()

            # Equal-sized tasks, two per core: 3 Kafka partitions on 2 cores would idle one.
            splits = 2 * (task_slots(options.master) or spark.sparkContext.defaultParallelism)
            result["min_partitions"] = splits
            pass_s = _pass_through(spark, s, pass_topic, splits)
            copied = message_count(s, pass_topic)

            t0 = time.perf_counter()
            query = start_silver(spark, s, available_now=True, min_partitions=splits)
            query.awaitTermination()
            silver_s = time.perf_counter() - t0
            totals = query_totals(spark, query)
            result["load_after"] = os.getloadavg()
            clean = message_count(s, s.kafka.clean_topic)
            dead = message_count(s, s.kafka.dead_letter_topic)
            batches = [batch_counters(p) for p in read_progress(progress_log(s, "silver"))]
            result |= {
                "raw_events": raw,
                "pass_through": {
                    "seconds": round(pass_s, 2),
                    "events_per_s": round(raw / pass_s, 1),
                    "copied": copied,
                },
                "silver": {
                    "seconds": round(silver_s, 2),
                    "events_per_s": round(raw / silver_s, 1),
                    "clean": clean,
                    "dead_letter": dead,
                    "dead_letter_by_reason": totals.by_reason,
                    "batches": [
                        {
                            "batch_id": b.batch_id,
                            "input": b.input,
                            "duration_s": b.duration_seconds,
                            "events_per_s": round(b.processing_rate, 1),
                        }
                        for b in batches
                        if b.input
                    ],
                },
                "reconciles": raw == clean + dead == totals.input == options.events
                and copied == raw
                and clean == truth["clean"]
                and dead == truth["dead_letter"]["total"],
                "target_events_per_s": TARGET_EVENTS_PER_S,
            }
            result["silver_vs_pass_through"] = round(pass_s / silver_s, 3)
            result["meets_target"] = bool(
                result["reconciles"] and result["silver"]["events_per_s"] >= TARGET_EVENTS_PER_S
            )
            spark.stop()
        finally:
            if not options.keep:
                delete_topics(s, [pass_topic])
    write_result("silver", result, out_dir, plot, meta)
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    """Bars: Silver vs pass-through events/s with the target; line: Silver per batch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = ["pass-through\n(Kafka->Kafka)", "silver\n(parse + rules)"]
    vals = [result["pass_through"]["events_per_s"], result["silver"]["events_per_s"]]
    bars = left.bar(names, vals, color=["#9aa5b1", "#2f6fb0"])
    left.bar_label(bars, labels=[f"{v:,.0f}/s" for v in vals])
    left.axhline(result["target_events_per_s"], color="#c0392b", ls="--", label="target")
    left.set_ylabel("events / s")
    left.set_title(f"{result['events']:,} events, --available-now, {result['master']}")
    left.legend(loc="upper right")
    # A remainder batch of a few records says nothing about throughput.
    biggest = max((b["input"] for b in result["silver"]["batches"]), default=0)
    batches = [b for b in result["silver"]["batches"] if b["input"] >= biggest / 100]
    right.plot([b["batch_id"] for b in batches], [b["events_per_s"] for b in batches], "o-")
    right.set_xlabel("Silver micro-batch")
    right.set_ylabel("processed events / s")
    right.set_title("Silver per batch")
    right.set_ylim(bottom=0)
    load = result["host"]["load_average"][0]
    fig.suptitle(f"shopstream bench silver ({result['host']['cpus']} CPUs, load {load:.1f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
