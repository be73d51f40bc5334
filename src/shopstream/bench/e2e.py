"""End-to-end latency: production of an event -> its visibility in the warehouse.

The generator produces at a steady rate into a real broker while Silver and Gold stream in
one Spark application, as under `shopstream up`. An event's latency is the time its Gold
commit returned (its rows became visible) minus its Kafka timestamp (set by the producer
when it was produced), for every valid event produced in the measured window after a
warm-up. Peak RSS covers the whole stack: this process, Spark's JVM and the broker.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shopstream.bench.common import bench_run, host_info, write_result
from shopstream.config import Settings

TARGET_P50_S = 0.5
TARGET_P99_S = 1.5
TARGET_RSS_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class E2EOptions:
    rate: float = 10_000
    duration_s: float = 120
    warmup_s: float = 30
    seed: int = 1
    real_time: bool | None = None  # None: the mode `shopstream up` picks on this machine
    trigger_seconds: float | None = None  # None: the configured default, as under `up`
    keep: bool = False


def latency_stats(latencies: np.ndarray) -> dict[str, float]:
    """p50/p95/p99/max/mean in seconds (pure)."""
    if latencies.size == 0:
        return {"count": 0}
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return {
        "count": int(latencies.size),
        "p50_s": round(float(p50), 3),
        "p95_s": round(float(p95), 3),
        "p99_s": round(float(p99), 3),
        "max_s": round(float(latencies.max()), 3),
        "mean_s": round(float(latencies.mean()), 3),
    }


def event_latencies(
    batch_ids: np.ndarray, produced_ms: np.ndarray, committed_at: dict[int, float]
) -> np.ndarray:
    """Per-event latency (s): its batch's commit time minus its production time (pure)."""
    commit = np.array([committed_at.get(int(b), np.nan) for b in batch_ids], dtype=float)
    lat = commit - produced_ms / 1000.0
    return lat[~np.isnan(lat)]


def _wait_caught_up(settings: Settings, streams: Any, timeout: float = 120.0) -> bool:
    """After the generator stopped: wait until Gold has committed everything Silver wrote."""
    from shopstream.kafka.offsets import end_offsets

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        silver = streams.queries["silver"].lastProgress or {}
        raw_end = end_offsets(settings, settings.kafka.raw_topic)
        clean_end = end_offsets(settings, settings.kafka.clean_topic)
        done_raw = _source_end(silver, settings.kafka.raw_topic)
        done_clean = _source_end(
            streams.queries["gold"].lastProgress or {}, settings.kafka.clean_topic
        )
        if done_raw == raw_end and done_clean == clean_end:
            return True
        time.sleep(0.5)
    return False


def _source_end(progress: dict[str, Any], topic: str) -> dict[int, int]:
    for src in progress.get("sources", []):
        end = src.get("endOffset")
        if isinstance(end, str):
            import json

            end = json.loads(end)
        if isinstance(end, dict) and topic in end:
            return {int(p): int(o) for p, o in end[topic].items()}
    return {}


def run(
    settings: Settings, options: E2EOptions, out_dir: Path, name: str = "e2e"
) -> dict[str, Any]:
    """Run the steady-load latency measurement; write `<name>.json` + `<name>.png`."""
    from shopstream.kafka.cluster import LocalCluster
    from shopstream.procinfo import PeakRss
    from shopstream.runtime.stages import start_streams
    from shopstream.runtime.up import LiveGenerator
    from shopstream.spark.session import spark_session
    from shopstream.spark.slots import silver_mode
    from shopstream.warehouse import open_warehouse

    mode = silver_mode(settings, options.real_time)
    trigger = (
        mode.settings.spark.trigger_seconds
        if options.trigger_seconds is None
        else options.trigger_seconds
    )
    result: dict[str, Any] = {
        "benchmark": "e2e",
        "mode": "real-time" if mode.real_time else "micro-batch",
        "mode_chosen_by": "default" if options.real_time is None else "flag",
        "notice": mode.notice,
        "rate": options.rate,
        "duration_s": options.duration_s,
        "warmup_s": options.warmup_s,
        "spark_master": mode.settings.spark.master,
        "trigger_seconds": trigger,
        "host": host_info(),
    }
    with bench_run(
        settings,
        keep=options.keep,
        master=mode.settings.spark.master,
        trigger_seconds=trigger,
    ) as s:
        broker_pids = [b.pid for b in (LocalCluster(settings).running() or _no_cluster()).brokers]
        with open_warehouse(s) as wh, PeakRss([os.getpid(), *broker_pids]) as rss:
            wh.init()
            spark = spark_session(s, "shopstream-bench-e2e")
            streams = start_streams(spark, s, wh, real_time=mode.real_time)
            gen = LiveGenerator(s, options.rate, options.seed).start()
            time.sleep(options.warmup_s)
            window_start = time.time()
            time.sleep(options.duration_s)
            window_end = time.time()
            gen.stop()
            result["caught_up"] = _wait_caught_up(s, streams)
            result["produced"] = gen.sent
            result["generator_error"] = gen.error
            table = wh.query_arrow(
                "SELECT batch_id, epoch_ms(produced_at) AS produced_ms FROM silver_events "
                "WHERE produced_at >= to_timestamp(?)::TIMESTAMP "
                "AND produced_at < to_timestamp(?)::TIMESTAMP",
                [window_start, window_end],
            )
            committed = dict(streams.gold.committed_at)
            streams.stop()
            spark.stop()
        lat = event_latencies(
            table["batch_id"].to_numpy(), table["produced_ms"].to_numpy(), committed
        )
        produced_ms = table["produced_ms"].to_numpy()
        result |= {
            "latency": latency_stats(lat),
            "events_in_window": int(table.num_rows),
            "achieved_rate": round(table.num_rows / options.duration_s, 1),
            "peak_rss_bytes": rss.peak,
            "peak_rss_gib": round(rss.peak / 1024**3, 2),
            "series": _series(produced_ms, lat, window_start),
            "targets": {
                "p50_s": TARGET_P50_S,
                "p99_s": TARGET_P99_S,
                "rss_bytes": TARGET_RSS_BYTES,
            },
        }
        stats = result["latency"]
        result["meets_target"] = bool(
            stats.get("count")
            and stats["p50_s"] <= TARGET_P50_S
            and stats["p99_s"] <= TARGET_P99_S
            and rss.peak <= TARGET_RSS_BYTES
        )
    write_result(name, result, out_dir, plot)
    return result


def _no_cluster() -> Any:
    from shopstream.kafka.state import ClusterState

    return ClusterState("", [])


def _series(produced_ms: np.ndarray, lat: np.ndarray, t0: float) -> list[list[float]]:
    """Per-second [t, p50, p99] over the window, for the plot."""
    if lat.size == 0 or produced_ms.size != lat.size:
        return []
    sec = np.floor(produced_ms / 1000.0 - t0).astype(int)
    out = []
    for s in np.unique(sec):
        v = lat[sec == s]
        out.append(
            [int(s), round(float(np.percentile(v, 50)), 3), round(float(np.percentile(v, 99)), 3)]
        )
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    """Latency over time (p50/p99 per second) and the percentile summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
    series = result.get("series") or []
    if series:
        t, p50, p99 = zip(*series, strict=True)
        a1.plot(t, p50, label="p50")
        a1.plot(t, p99, label="p99")
    a1.axhline(TARGET_P50_S, color="#4c78a8", ls="--", lw=0.8, label="p50 target")
    a1.axhline(TARGET_P99_S, color="#f58518", ls="--", lw=0.8, label="p99 target")
    a1.set_xlabel("seconds into the measured window")
    a1.set_ylabel("produce -> visible in warehouse (s)")
    a1.set_title(f"{result['mode']}, {result['rate']:,.0f} events/s")
    a1.legend()
    stats = result.get("latency", {})
    names = ["p50", "p95", "p99"]
    vals = [stats.get(f"{n}_s", 0) for n in names]
    a2.bar(names, vals, color=["#4c78a8", "#72b7b2", "#f58518"])
    for i, v in enumerate(vals):
        a2.text(i, v, f"{v:.2f}s", ha="center", va="bottom")
    a2.set_title(f"peak RSS {result.get('peak_rss_gib', 0)} GiB")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
