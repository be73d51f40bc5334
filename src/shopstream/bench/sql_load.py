"""Gold's commits while BI clients query the SQL endpoint, against the same commits without them.

Gold's own batches (read and parsed from Kafka as in `gold_history`, saved as Parquet) are
committed with `Warehouse.commit_batch` into a warehouse that already holds a history, by
the process that also serves the SQL endpoint, as `up` does; before each commit it waits
as long as Gold took to read and parse that batch. In every round the same
batches are committed twice on fresh copies of that warehouse: once with nobody connected,
once while four clients loop over the dashboard's queries and a fifth streams a whole
table (a notebook's `SELECT *`, cut at the statement timeout and started again). The
clients run in another process, as real ones would. Rounds repeat and a batch keeps its
fastest time per mode (the machine is shared: the least-disturbed run estimates the cost).
Automatic checkpoints are off during the timed commits (see `commit_round`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.bench import gold_history
from shopstream.bench.common import bench_run, host_info, write_result
from shopstream.bench.producer import calibrated_meta
from shopstream.config import Settings

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

# Gold's commit time with the clients may exceed the time without them by at most this.
MAX_SLOWDOWN = 0.20
DASHBOARD_CLIENTS = 4
# A notebook reading a whole table: the long scan.
LONG_SCAN = "SELECT * FROM silver_events"


@dataclass(frozen=True)
class SqlLoadOptions:
    events: int = 200_000
    history_events: int = 2_000_000
    seed: int = 1
    max_offsets_per_trigger: int = 25_000
    statement_timeout_seconds: float = 5.0
    rounds: int = 3
    master: str = "local[2]"
    keep: bool = False


def dashboard_queries() -> list[str]:
    """What the dashboard asks every few seconds, in DuckDB's dialect."""
    from shopstream.dashboard import queries as q

    return [
        q.KPIS,
        q.FUNNEL,
        q.HOURLY.format(limit=24),
        q.TOP_CUSTOMERS.format(limit=10),
        q.TIERS,
        q.CATEGORIES,
        q.DEAD_LETTER_COUNTS,
        q.DEAD_LETTER_SAMPLES.format(limit=3),
    ]


def run_clients(conninfo: dict[str, Any], stop: Event, ready: Event, out: Queue) -> None:
    """The client process: dashboard loops and one long scan in threads until `stop`."""
    import threading

    import psycopg

    stats: list[dict[str, Any]] = []
    connected: list[str] = []
    lock = threading.Lock()

    def loop(name: str, statements: list[str], stream: bool) -> None:
        done = rows = errors = 0
        codes: dict[str, int] = {}
        conn = psycopg.connect(**conninfo, autocommit=True)
        with lock:
            connected.append(name)
            if len(connected) == DASHBOARD_CLIENTS + 1:
                ready.set()
        try:
            while not stop.is_set():
                for sql in statements:
                    try:
                        with conn.cursor() as cur:
                            if stream:
                                for _ in cur.stream(sql):
                                    rows += 1
                                    if stop.is_set():
                                        break
                            else:
                                cur.execute(sql)
                                rows += len(cur.fetchall())
                        done += 1
                    except psycopg.Error as err:
                        errors += 1
                        code = err.sqlstate or type(err).__name__
                        codes[code] = codes.get(code, 0) + 1
                        if conn.closed or conn.broken:
                            conn = psycopg.connect(**conninfo, autocommit=True)
                    if stop.is_set():
                        break
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.close()
            with lock:
                stats.append(
                    {"client": name, "queries": done, "rows": rows, "errors": errors,
                     "error_codes": codes}
                )  # fmt: skip

    threads = [
        threading.Thread(target=loop, args=(f"dashboard-{i}", dashboard_queries(), False))
        for i in range(DASHBOARD_CLIENTS)
    ]
    threads.append(threading.Thread(target=loop, args=("long-scan", [LONG_SCAN], True)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(stats)


def commit_round(
    settings: Settings, path: Path, batches: list[gold_history.SavedBatch], clients: bool
) -> dict[str, Any]:
    """Commit the batches into `path`'s warehouse while it serves SQL, with clients or not."""
    from shopstream.sqlendpoint import SqlEndpoint, endpoint_password
    from shopstream.warehouse.duckdb import DuckDBWarehouse, EngineLimits

    horizon = timedelta(days=settings.pipeline.lateness_horizon_days)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
    load: list[dict[str, Any]] = []
    # A checkpoint (+100-200 ms, every few batches here) would fall in some timed commits
    # and not others: none in either round compares like with like.
    limits = EngineLimits(checkpoint_wal_bytes=100 << 30, auto_checkpoint="100GB")
    with (
        DuckDBWarehouse(path, limits=limits) as wh,
        SqlEndpoint(wh, settings, port=0) as endpoint,
    ):
        wh.init()
        proc = None
        if clients:
            info = endpoint.info
            conninfo = {
                "host": info.host,
                "port": info.port,
                "user": info.user,
                "dbname": info.database,
                "password": endpoint_password(settings),
            }
            stop, ready, out = ctx.Event(), ctx.Event(), ctx.Queue()
            proc = ctx.Process(target=run_clients, args=(conninfo, stop, ready, out))
            proc.start()
            if not ready.wait(60):
                raise RuntimeError("the SQL clients did not connect within 60 s")
            time.sleep(1.0)  # every loop past its first statement
        t0 = time.perf_counter()
        commits: list[dict[str, Any]] = []
        try:
            for batch in batches:
                # Gold reads and parses a batch before committing it: clients get that time.
                time.sleep((batch.meta["kafka_to_arrow_ms"] + batch.meta["parse_ms"]) / 1000)
                commits += gold_history.commit_batches(wh, [batch], horizon)
        finally:
            seconds = time.perf_counter() - t0
            if proc is not None:
                stop.set()
                load = out.get(timeout=120)
                proc.join(30)
    return {"clients": clients, "commits": commits, "seconds": seconds, "load": load}


def run(settings: Settings, options: SqlLoadOptions, out_dir: Path) -> dict[str, Any]:
    """Capture Gold's batches, then time their commits with and without SQL clients."""
    from shopstream.bench.gold import preload
    from shopstream.silver.job import start_silver
    from shopstream.spark.session import spark_session
    from shopstream.warehouse.duckdb import remove_database

    result: dict[str, Any] = {"benchmark": "sql-load", "host": host_info()}
    with bench_run(
        settings,
        keep=options.keep,
        master=options.master,
        max_offsets_per_trigger=options.max_offsets_per_trigger,
    ) as s:
        meta = calibrated_meta(s, load_avg_1m=os.getloadavg()[0])
        s = s.model_copy(
            update={
                "sql": s.sql.model_copy(
                    update={"statement_timeout_seconds": options.statement_timeout_seconds}
                )
            }
        )
        preload(s, options.events, options.seed)
        spark = spark_session(s, "shopstream-bench-sql-load")
        start_silver(spark, s, available_now=True).awaitTermination()
        batches = gold_history.capture_batches(spark, s, s.state_dir / "gold-batches")
        spark.stop()  # the JVM idles through the timings

        horizon = timedelta(days=s.pipeline.lateness_horizon_days)
        end = gold_history.first_validated(batches) - horizon - timedelta(days=1)
        built, work = s.state_dir / "history.duckdb", s.state_dir / "work.duckdb"
        gold_history.build_history(built, options.history_events, end)
        rounds: list[dict[str, Any]] = []
        for _ in range(options.rounds):
            for clients in (False, True):
                shutil.copyfile(built, work)
                rounds.append(commit_round(s, work, batches, clients))
                remove_database(work)
    result |= summarize(rounds, options)
    write_result("sql-load", result, out_dir, plot, meta)
    return result


def summarize(rounds: list[dict[str, Any]], options: SqlLoadOptions) -> dict[str, Any]:
    """Each batch's fastest commit per mode, the totals, their ratio and what the clients did."""

    def best(clients: bool) -> list[float]:
        runs = [
            [c["commit_wall_ms"] for c in r["commits"]] for r in rounds if r["clients"] == clients
        ]
        return [min(times) for times in zip(*runs, strict=True)]

    quiet, loaded = best(False), best(True)
    slowdown = sum(loaded) / sum(quiet) - 1
    same = len({tuple(c["new_events"] for c in r["commits"]) for r in rounds}) == 1
    clients = [r["load"] for r in rounds if r["clients"]]
    return {
        "events": options.events,
        "history_events": options.history_events,
        "statement_timeout_seconds": options.statement_timeout_seconds,
        "rounds": options.rounds,
        "batches": len(quiet),
        "input_rows": [c["input_rows"] for c in rounds[0]["commits"]],
        "commit_wall_ms_quiet": quiet,
        "commit_wall_ms_with_clients": loaded,
        "total_commit_ms_quiet": round(sum(quiet), 1),
        "total_commit_ms_with_clients": round(sum(loaded), 1),
        "round_seconds": [
            {"clients": r["clients"], "seconds": round(r["seconds"], 2)} for r in rounds
        ],
        "client_load": clients,
        "same_results": same,
        "slowdown": round(slowdown, 3),
        "max_slowdown": MAX_SLOWDOWN,
        "meets_target": bool(same and slowdown <= MAX_SLOWDOWN),
    }


def plot(result: dict[str, Any], path: Path) -> None:
    """Each batch's commit time without and with the SQL clients."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quiet, loaded = result["commit_wall_ms_quiet"], result["commit_wall_ms_with_clients"]
    ids = range(len(quiet))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.bar([i - 0.2 for i in ids], quiet, width=0.4, color="#4c78a8", label="no clients")
    ax.bar([i + 0.2 for i in ids], loaded, width=0.4, color="#e45756",
           label=f"{DASHBOARD_CLIENTS} dashboard clients + 1 long scan")  # fmt: skip
    ax.set_xlabel("Gold batch")
    ax.set_ylabel("commit ms (fastest of rounds)")
    ax.set_title(
        f"Gold commits while serving SQL: {result['slowdown']:+.1%} "
        f"(limit +{result['max_slowdown']:.0%}), {result['history_events']:,} stored events"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
