"""Gold's commit cost against a long history: the same real batches on 0, 10M, 30M stored events.

The batches are Gold's own: read from Kafka and parsed by `gold_source` + `split_batch`,
saved as Parquet, then committed with `Warehouse.commit_batch`, exactly as the Gold query
does, into a fresh DuckDB file per history size. The history is built inside DuckDB (far
cheaper than through Kafka) with the commit's own SQL: events spread over the
HISTORY_DAYS before the lateness horizon of the first batch, appended in time order as
Gold would have appended them, with their aggregates and ~3% dead letters. Everything
within the horizon comes from the real batches and is the same for every size, so any
difference between sizes is the cost of history the commit should no longer read.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopstream.gold_tables.render import upsert_steps
from shopstream.gold_tables.tables import GOLD_TABLES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from shopstream.config import Settings
    from shopstream.warehouse.base import Warehouse

HISTORY_DAYS = 60
DEAD_LETTER_SHARE = 0.03
# History is inserted in chunks: the stage is a temp table, held in memory.
CHUNK_EVENTS = 5_000_000
# Commit time may differ by at most this much between history sizes.
MAX_SPREAD = 0.15
# Runs of each size's commit sequence (interleaved); each batch keeps its fastest.
REPEATS = 3


@dataclass(frozen=True)
class SavedBatch:
    """One Gold micro-batch on disk, with how long Gold took to read and parse it."""

    batch_id: int
    events: Path
    dead_letters: Path
    meta: dict[str, Any]


def capture_batches(spark: SparkSession, settings: Settings, out: Path) -> list[SavedBatch]:
    """Run Gold's source and parser over the topics (no commit); save each batch as Parquet."""
    from shopstream.gold.job import gold_source, split_batch

    out.mkdir(parents=True, exist_ok=True)
    saved: list[SavedBatch] = []

    def write(df: Any, batch_id: int) -> None:
        t0 = time.perf_counter()
        raw = df.toArrow()
        t1 = time.perf_counter()
        batch = split_batch(raw, settings.kafka.clean_topic)
        t2 = time.perf_counter()
        ev, dl = out / f"{batch_id:05d}-events.parquet", out / f"{batch_id:05d}-dead.parquet"
        pq.write_table(batch.events, ev)
        pq.write_table(batch.dead_letters, dl)
        meta = {
            "start_offsets": batch.start_offsets,
            "end_offsets": batch.end_offsets,
            "input_rows": batch.input_rows,
            "records": raw.num_rows,
            "kafka_to_arrow_ms": round((t1 - t0) * 1000, 1),
            "parse_ms": round((t2 - t1) * 1000, 1),
        }
        saved.append(SavedBatch(batch_id, ev, dl, meta))

    query = (
        gold_source(spark, settings, streaming=False)
        .writeStream.queryName("gold_capture")
        .option("checkpointLocation", str(settings.files.checkpoint("gold-capture")))
        .foreachBatch(write)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    trigger = {p.batchId: p.durationMs.get("triggerExecution") for p in query.recentProgress}
    for b in saved:
        b.meta["trigger_ms"] = trigger.get(b.batch_id)
    return sorted(saved, key=lambda b: b.batch_id)


def build_history(path: Path, events: int, end: datetime) -> None:
    """A DuckDB warehouse at `path` holding `events` old events (ending at `end`), in time order."""
    from shopstream.warehouse.dialect import (
        DEAD_LETTER_SUMMARY_STEPS,
        commit_statements,
        schema_statements,
    )
    from shopstream.warehouse.duckdb import connect_file

    sql = commit_statements("duckdb")
    # Opened as Gold's writer opens it, so the history has the row groups Gold writes.
    conn = connect_file(path)
    try:
        for stmt in schema_statements("duckdb"):
            conn.execute(stmt)
        span_us = HISTORY_DAYS * 86_400 * 1_000_000
        start = end - timedelta(days=HISTORY_DAYS)
        dl_total = max(int(events * DEAD_LETTER_SHARE), 1)
        for chunk, first in enumerate(range(0, events, CHUNK_EVENTS)):
            last = min(first + CHUNK_EVENTS, events)
            conn.execute("BEGIN")
            for stage in ("events", "dead_letters"):  # as the commit does (recreates_stage)
                conn.execute(sql[f"drop_stage_{stage}"])
                conn.execute(sql[f"create_stage_{stage}"])
            # ORDER BY keeps the append in event-time order, as a live Gold's would be. Source
            # offsets run up to -1: a live topic's history lies before its new records, and
            # the commit's source checks are bounded by offset (clean_sources), so history
            # overlapping the batches' offsets (which start at 0 here) would be read by every
            # commit, as no real history is.
            conn.execute(
                f"""
                INSERT INTO stage_events
                SELECT uuid()::VARCHAR,
                    CASE WHEN i % 20 = 0 THEN 'PURCHASE' WHEN i % 20 < 4 THEN 'ADD_TO_CART'
                         ELSE 'PAGE_VIEW' END,
                    'CUST_' || lpad(CAST((i * 7919) % 10000 + 1 AS VARCHAR), 5, '0'),
                    ts, CAST(ts AS DATE),
                    CASE WHEN i % 20 = 0 THEN CAST(10 + i % 90 AS DECIMAL(18, 2)) END,
                    CASE WHEN i % 20 = 0 THEN 'USD' END,
                    CASE WHEN i % 20 = 0 THEN CAST(10 + i % 90 AS DECIMAL(18, 2)) END,
                    'S' || CAST(i // 12 AS VARCHAR),
                    'P' || lpad(CAST(i % 1000 AS VARCHAR), 4, '0'),
                    'category_' || CAST(i % 10 AS VARCHAR),
                    1, 'mobile', CAST(i % 3 AS INTEGER), i // 3 - {events // 3 + 1},
                    ts, ts + INTERVAL 1 SECOND, TRUE
                FROM (
                    SELECT i, ? + to_microseconds(CAST(i * ({span_us} / {events}) AS BIGINT)) AS ts
                    FROM range({first}, {last}) r(i)
                ) ORDER BY i
                """,
                [start],
            )
            # Dead letters of an earlier raw topic, in offset order (before the batches').
            conn.execute(
                f"""
                INSERT INTO stage_dead_letters
                SELECT 'invalid_amount', 'history', 'raw_events', CAST(j % 3 AS INTEGER),
                    j - {dl_total + 1},
                    'CUST_00001', ? + to_microseconds(CAST(j * ({span_us} / {dl_total}) AS BIGINT)),
                    'e30=', TRUE
                FROM range({int(first * DEAD_LETTER_SHARE)}, {int(last * DEAD_LETTER_SHARE)}) r(j)
                ORDER BY j
                """,
                [start],
            )
            # The commit's own statements: the history has the shape Gold gives it.
            now = end
            conn.execute(sql["insert_silver_events"], [now, -1 - chunk])
            for target in GOLD_TABLES:
                for step, takes_now in upsert_steps(target):
                    conn.execute(sql[step], [now] if takes_now else [])
            conn.execute(sql["insert_dead_letters"], [now, -1 - chunk])
            for step, takes_now in DEAD_LETTER_SUMMARY_STEPS:
                conn.execute(sql[step], [now] if takes_now else [])
            conn.execute("COMMIT")
        conn.execute("CHECKPOINT")
    finally:
        conn.close()


def commit_on_history(
    path: Path, batches: list[SavedBatch], horizon: timedelta
) -> list[dict[str, Any]]:
    """Commit the saved batches in order into the warehouse at `path`; per-batch timings."""
    from shopstream.warehouse.duckdb import DuckDBWarehouse

    with DuckDBWarehouse(path) as wh:
        wh.init()
        return commit_batches(wh, batches, horizon)


def commit_batches(
    wh: Warehouse, batches: list[SavedBatch], horizon: timedelta
) -> list[dict[str, Any]]:
    """Commit the saved batches in order, as Gold does; per-batch timings."""
    from shopstream.warehouse.batch import BatchMeta

    rows = []
    for b in batches:
        events, dead = pq.read_table(b.events), pq.read_table(b.dead_letters)
        meta = BatchMeta(
            query_name="gold",
            query_id="bench-history",
            batch_id=b.batch_id,
            start_offsets=b.meta["start_offsets"],
            end_offsets=b.meta["end_offsets"],
            input_rows=b.meta["input_rows"],
        )
        t0 = time.perf_counter()
        result = wh.commit_batch(events, dead, meta, horizon=horizon)
        wall = (time.perf_counter() - t0) * 1000
        rows.append(
            {
                "batch_id": b.batch_id,
                "input_rows": result.input_rows,
                "new_events": result.new_events,
                # commit_ms stops before COMMIT; wall includes it (and any checkpoint).
                "commit_ms": round(result.commit_ms, 1),
                "commit_wall_ms": round(wall, 1),
            }
        )
    return rows


def first_validated(batches: list[SavedBatch]) -> datetime:
    """The earliest Silver processing time in the batches (naive UTC)."""
    firsts = [pc.min(pq.read_table(b.events, columns=["validated_at"])[0]).as_py() for b in batches]
    first = min(f for f in firsts if f is not None)
    return first.replace(tzinfo=None) if first.tzinfo else first


def run_histories(
    settings: Settings,
    batches: list[SavedBatch],
    sizes: tuple[int, ...],
    check: Any,
) -> dict[str, Any]:
    """Commit `batches` on top of each history size; timings, spread, and exactness per size.

    Each size's sequence runs REPEATS times, sizes interleaved, each time on a fresh copy
    of the built history; a batch's time is its fastest run (the machine is shared, so
    the least-disturbed run is the best estimate of the cost). `check(path, history_end)`
    says whether the warehouse at `path` equals the truth for everything after history_end.
    """
    from shopstream.warehouse.duckdb import remove_database

    horizon = timedelta(days=settings.pipeline.lateness_horizon_days)
    end = first_validated(batches) - horizon - timedelta(days=1)
    built: dict[int, Path] = {}
    runs: dict[int, dict[str, Any]] = {}
    for size in sizes:
        path = settings.state_dir / f"history-{size}.duckdb"
        path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        build_history(path, size, end)
        built[size] = path
        runs[size] = {
            "history_events": size,
            "history_build_seconds": round(time.perf_counter() - t0, 1),
            "file_mib": round(path.stat().st_size / 2**20, 1),
            "repeats": [],
        }
    work = settings.state_dir / "history-work.duckdb"
    for rep in range(REPEATS):
        for size in sizes:
            shutil.copyfile(built[size], work)
            commits = commit_on_history(work, batches, horizon)
            runs[size]["repeats"].append([c["commit_wall_ms"] for c in commits])
            if rep == 0:
                runs[size]["commits"] = commits
                runs[size]["exact"] = bool(check(work, end))
            remove_database(work)
    for size, run in runs.items():
        best = [min(times) for times in zip(*run["repeats"], strict=True)]
        run["commit_wall_ms_best"] = best
        run["total_commit_ms"] = round(sum(best), 1)
        built[size].unlink(missing_ok=True)
    totals = [r["total_commit_ms"] for r in runs.values()]
    spread = max(totals) / min(totals) - 1 if totals and min(totals) > 0 else 0.0
    return {
        "history_days": HISTORY_DAYS,
        "history_end": end.isoformat(),
        "horizon_days": settings.pipeline.lateness_horizon_days,
        "repeats": REPEATS,
        "batches": [{"batch_id": b.batch_id, **b.meta} for b in batches],
        "runs": list(runs.values()),
        "spread": round(spread, 3),
        "max_spread": MAX_SPREAD,
        "flat": spread <= MAX_SPREAD,
        "exact": all(r["exact"] for r in runs.values()),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    """Commit time per batch for each history size, and where a Gold batch's time goes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for run in result["runs"]:
        a1.plot(
            [c["batch_id"] for c in run["commits"]],
            run["commit_wall_ms_best"],
            "o-",
            label=f"{run['history_events']:,} stored (total {run['total_commit_ms'] / 1000:.1f} s)",
        )
    a1.set_xlabel("micro-batch (same batches each time)")
    a1.set_ylabel(f"commit ms (best of {result['repeats']})")
    a1.set_ylim(bottom=0)
    a1.set_title(f"commit on history: spread {result['spread']:.0%}, exact={result['exact']}")
    a1.legend()
    batches = result["batches"]
    ids = [b["batch_id"] for b in batches]
    read = [b["kafka_to_arrow_ms"] for b in batches]
    parse = [b["parse_ms"] for b in batches]
    commit = result["runs"][0]["commit_wall_ms_best"] if result["runs"] else []
    a2.bar(ids, read, label="Kafka -> Arrow (Spark)", color="#4c78a8")
    a2.bar(ids, parse, bottom=read, label="JSON parse (Arrow)", color="#72b7b2")
    if commit:
        base = [r + p for r, p in zip(read, parse, strict=True)]
        a2.bar(ids, commit, bottom=base, label="commit (DuckDB)", color="#f58518")
    a2.set_xlabel("micro-batch")
    a2.set_ylabel("ms")
    a2.set_title("where a Gold batch's time goes")
    a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
