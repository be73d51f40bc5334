"""The warehouse as a fault, with real processes: another program holds the DuckDB file while
`shopstream process` runs; a second writer starts; a foreign table sits in the warehouse.

- held file: the writer waits with backoff (a Ctrl-C meanwhile stops it quietly), Gold
  commits nothing (its checkpoint has no commit), `status --json` says "warehouse
  unavailable since ..."; once the file is released the run finishes and every figure
  equals the generator's truth;
- a second `process` while `gold` runs is refused, naming the running one's pid;
- a table of the wrong shape stops `gold` with one line naming the fix, exit 2;
- Snowflake (fakesnow) failing Gold's commits for a while: the batch is retried inside
  foreachBatch until it lands, and the totals are exact.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import orjson
from flaky_snowflake import FlakyConnection, network_down
from shopstream_env import cli_env
from test_pipeline_truth import (
    _produce_with_truth,
    _truth_figures,
    _warehouse_backend,
    _warehouse_figures,
)

from shopstream.config import Settings
from shopstream.runtime.stages import process_available_now
from shopstream.spark.checkpoints import checkpoint
from shopstream.warehouse import open_warehouse
from shopstream.warehouse.lease import sidecar_path
from shopstream.warehouse.outage import read_outage

HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""
DEADLINE_S = 240


def _env(settings: Settings) -> dict[str, str]:
    return cli_env(settings) | {
        "SHOPSTREAM_WAREHOUSE__RETRY_INITIAL_SECONDS": "0.2",
        "SHOPSTREAM_WAREHOUSE__RETRY_MAX_SECONDS": "1",
    }


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "shopstream", *args]
    return subprocess.run(
        cmd, env=_env(settings), capture_output=True, text=True, timeout=180, check=False
    )


def _start(settings: Settings, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "shopstream", *args],
            env=_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the Spark JVM goes with it on cleanup
        )


def _status(settings: Settings) -> dict[str, Any]:
    result = _cli(settings, "status", "--json")
    doc: dict[str, Any] = orjson.loads(result.stdout)
    return doc


def _wait_for(predicate: Any, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        assert proc is None or proc.poll() is None, f"process exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_warehouse_outage_then_exact_one_writer_and_foreign_tables(
    settings: Settings, tmp_path: Path
) -> None:
    truth = _produce_with_truth(settings, seed=23)
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.duckdb_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    process = None
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        # Ctrl-C while waiting for the warehouse: a quiet stop, exit 0, nothing committed.
        waiting = _start(settings, tmp_path / "waiting.log", "gold")
        _wait_for(lambda: read_outage(settings) is not None, "gold to wait", waiting)
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(60) == 0
        assert "nothing was committed" in (tmp_path / "waiting.log").read_text()

        process = _start(settings, tmp_path / "process.log", "process", "--available-now")

        # Wait for at least two failed attempts: the writer keeps retrying, not giving up.
        seen: dict[str, Any] = {}

        def unavailable() -> bool:
            seen.update(_status(settings))
            outage = seen.get("warehouse_outage") or {}
            return int(outage.get("attempts") or 0) >= 2

        _wait_for(unavailable, "status to report the outage", process)
        assert seen["problems"][0].startswith("warehouse unavailable since ")
        assert "another process is writing it" in seen["problems"][0]
        commits = checkpoint(settings, "gold") / "commits"
        assert not commits.exists() or not any(commits.iterdir())  # no offsets advanced

        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
        assert process.wait(DEADLINE_S) == 0, (tmp_path / "process.log").read_text()[-3000:]
    finally:
        if holder.poll() is None:
            holder.kill()
        if process is not None:
            _stop(process)

    assert _warehouse_figures(settings) == _truth_figures(truth)
    after = _status(settings)
    assert after["warehouse_outage"] is None
    assert not any("unavailable" in p for p in after["problems"])

    # One writer per warehouse: a second one is refused, naming the running one.
    gold = _start(settings, tmp_path / "gold.log", "gold")
    try:
        _wait_for(sidecar_path(settings.duckdb_path).exists, "gold to hold the warehouse", gold)
        second = _cli(settings, "process", "--available-now")
        assert second.returncode == 2
        assert "another shopstream writer" in second.stderr
        assert f"`gold` on host {os.uname().nodename}, pid {gold.pid}, since" in second.stderr
    finally:
        _stop(gold)

    # A table someone else made under our name: one line naming the fix, exit 2.
    con = duckdb.connect(str(settings.duckdb_path))
    for view in ("kpis", "dead_letter_counts"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    con.execute("DROP TABLE dead_letter_events")
    con.execute("CREATE TABLE dead_letter_events (id INTEGER, note VARCHAR)")
    con.close()
    foreign = _cli(settings, "gold", "--available-now")
    assert foreign.returncode == 2
    assert len(foreign.stderr.strip().splitlines()) == 1
    assert "dead_letter_events" in foreign.stderr and "warehouse init" in foreign.stderr


def test_gold_retries_failing_snowflake_commits_until_they_land_exactly(
    spark: Any, settings_factory: Any, tmp_path: Path
) -> None:
    retry = {"retry_initial_seconds": 0.01, "retry_max_seconds": 0.05}
    with _warehouse_backend("snowflake", settings_factory, tmp_path) as plain:
        settings = plain.model_copy(update={"warehouse": plain.warehouse.model_copy(update=retry)})
        truth = _produce_with_truth(settings, seed=29)
        failures = 8
        with open_warehouse(settings) as wh:
            wh.init()
            # From here on the session fails its next statements: Gold's first commit.
            flaky = FlakyConnection(wh._conn, failures, network_down())  # type: ignore[attr-defined]
            wh._conn = flaky  # type: ignore[attr-defined]
            streams = process_available_now(spark, settings, wh, threading.Event())
            replays = wh.query("SELECT SUM(replays) AS n FROM pipeline_batches")[0]["n"]

        assert flaky.failures == [0]  # every injected failure was met, and retried
        assert streams.gold.fatal is None and streams.gold.batches >= 1
        assert int(replays) == 0  # the failed attempts left no batch behind to replay
        assert read_outage(settings) is None
        assert _warehouse_figures(settings) == _truth_figures(truth)
