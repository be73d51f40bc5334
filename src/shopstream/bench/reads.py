"""What reading costs as history grows: every dashboard panel and reporting view, timed on
warehouses of 0, 10M and 100M events.

Each history is built inside DuckDB with the commit's own SQL (`gold_history.build_history`:
events spread over 60 days, 10,000 customers, 1,000 products, a session per 12 events, 3%
dead letters), so every Gold table, rollup and summary has the shape Gold gives it. The
file is then opened read-only, as `shopstream dashboard` opens it, and each query runs
once untimed (the page cache) and `runs` times timed, queries interleaved, so a burst of
load on the shared machine falls on all alike; the median is kept.

The anchor, measured in the same run on the same file: the seed's `hourly_trends`, a scan
of silver_events (what every panel cost while panels read the events). Target: each panel
and view ≤ 50 ms on the largest history.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shopstream.bench.common import bench_meta, host_info, write_result

TARGET_MS = 50.0
# The seed's hourly_trends over silver_events: the same-run anchor.
EVENT_SCAN = (
    "SELECT DATE_TRUNC('hour', event_timestamp) AS event_hour, event_type, COUNT(*) AS events, "
    "COUNT(DISTINCT customer_id) AS unique_customers, SUM(CAST(CASE WHEN event_type = "
    "'PURCHASE' THEN COALESCE(reporting_amount, 0) ELSE 0 END AS DECIMAL(38, 2))) AS revenue "
    "FROM silver_events GROUP BY DATE_TRUNC('hour', event_timestamp), event_type"
)
# Tables whose row counts the result records (what each read's size follows).
SIZES_OF = (
    "silver_events",
    "dead_letter_events",
    "customer_daily_metrics",
    "hourly_metrics",
    "hourly_customers",
    "customer_hourly_metrics",
    "product_daily_metrics",
    "sessions",
    "session_hourly",
    "dead_letter_reasons",
    "dead_letter_samples",
)


@dataclass(frozen=True)
class ReadsOptions:
    sizes: tuple[int, ...] = (0, 10_000_000, 100_000_000)
    runs: int = 7
    keep: bool = False  # keep the built files (state dir) for another run


def queries() -> dict[str, str]:
    """Every reporting view (`SELECT *`) and every dashboard panel's query, by name."""
    from shopstream.dashboard import queries as panels
    from shopstream.warehouse.dialect import VIEWS

    out = {f"view {v}": f"SELECT * FROM {v}" for v in VIEWS}
    for name, sql in vars(panels).items():
        if name.isupper() and isinstance(sql, str) and sql.startswith("SELECT"):
            out[f"panel {name.lower()}"] = sql.format(limit=panels_limit(name))
    return out


def panels_limit(name: str) -> int:
    """The row limit the dashboard asks each panel for (hourly: a day; samples: 3)."""
    return {"HOURLY": 24, "DEAD_LETTER_SAMPLES": 3}.get(name, 10)


def time_queries(
    conn: Any, named: dict[str, str], runs: int, stop: Callable[[], bool]
) -> dict[str, list[float]]:
    """ms per run of each query; one untimed pass first, then `runs` interleaved rounds."""
    for sql in named.values():
        conn.execute(sql).fetchall()
    times: dict[str, list[float]] = {name: [] for name in named}
    for _ in range(runs):
        if stop():
            break
        for name, sql in named.items():
            t0 = time.perf_counter()
            conn.execute(sql).fetchall()
            times[name].append(round((time.perf_counter() - t0) * 1000, 2))
    return times


def measure_size(
    path: Path, events: int, end: datetime, runs: int, stop: Callable[[], bool]
) -> dict[str, Any]:
    """Build the history at `path`, then time every read (and the anchor) on it."""
    import duckdb

    from shopstream.bench.gold_history import build_history

    _remove(path)
    t0 = time.perf_counter()
    build_history(path, events, end)
    build_s = round(time.perf_counter() - t0, 1)
    conn = duckdb.connect(str(path), read_only=True)
    try:
        times = time_queries(conn, {**queries(), "anchor: scan of silver_events": EVENT_SCAN},
                             runs, stop)  # fmt: skip
        rows = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in SIZES_OF}
    finally:
        conn.close()
    median = {n: round(statistics.median(v), 2) for n, v in times.items() if v}
    reads = {n: m for n, m in median.items() if not n.startswith("anchor")}
    return {
        "history_events": events,
        "build_seconds": build_s,
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "rows": rows,
        "times_ms": times,
        "median_ms": median,
        "slowest_read": max(reads, key=reads.__getitem__) if reads else None,
        "slowest_read_ms": max(reads.values()) if reads else None,
        "anchor_ms": median.get("anchor: scan of silver_events"),
    }


def _remove(path: Path) -> None:
    """A DuckDB file and its write-ahead log, if there."""
    from shopstream.warehouse.duckdb import remove_database

    remove_database(path)


def run(
    state_dir: Path,
    options: ReadsOptions,
    out_dir: Path,
    progress: Callable[[str], None] = lambda _: None,
    stop: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Every size in turn; reads.json + reads.png under `out_dir`."""
    load_before = os.getloadavg()[0]
    end = datetime.now().replace(microsecond=0) - timedelta(days=1)
    state_dir.mkdir(parents=True, exist_ok=True)
    sizes = []
    for events in options.sizes:
        if stop():
            break
        progress(f"building a {events:,}-event history and timing its reads")
        path = state_dir / f"reads-{events}.duckdb"
        sizes.append(measure_size(path, events, end, options.runs, stop))
        if not options.keep:
            _remove(path)
    largest = max(sizes, key=lambda s: s["history_events"]) if sizes else None
    result = {
        "benchmark": "reads",
        "runs": options.runs,
        "sizes": sizes,
        "target_ms": TARGET_MS,
        "largest_history_events": largest["history_events"] if largest else None,
        "slowest_read_ms": largest["slowest_read_ms"] if largest else None,
        "meets_target": bool(largest and largest["slowest_read_ms"] <= TARGET_MS),
        "complete": len(sizes) == len(options.sizes),
        "host": host_info(),
    }
    write_result("reads", result, out_dir, plot, bench_meta(load_avg_1m=load_before))
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    """Median ms of each read per history size (log scale), the anchor beside, the target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = result["sizes"]
    names = list(sizes[0]["median_ms"]) if sizes else []
    fig, ax = plt.subplots(figsize=(11, 6))
    width = 0.8 / max(len(sizes), 1)
    for i, s in enumerate(sizes):
        values = [max(s["median_ms"].get(n, 0), 0.01) for n in names]
        xs = [j + i * width for j in range(len(names))]
        ax.bar(xs, values, width, label=f"{s['history_events'] / 1e6:g}M events")
    ax.axhline(result["target_ms"], color="#e45756", linestyle="--",
               label=f"target {result['target_ms']:g} ms")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))])
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("ms per read (median), log scale")
    ax.set_title("Dashboard panels and reporting views vs history size (DuckDB, read-only)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
