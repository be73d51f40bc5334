"""Warehouse outages: transient failures are retried with capped backoff until the commit
lands exactly once; the outage is visible while it lasts; terminal errors are not retried.

Snowflake failures are injected at the connection: the real connector's exception types,
raised by the session's cursors for a number of statements, through the real commit path
on fakesnow. DuckDB's outage is a real second process holding the file.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from flaky_snowflake import FlakyConnection, network_down
from snowflake.connector import errors as sf_errors
from wh_data import events_table, make_event

from shopstream.config import Settings, load_settings
from shopstream.status.document import build_status
from shopstream.warehouse import BatchMeta, BatchResult, Warehouse, open_warehouse
from shopstream.warehouse.exceptions import CommitFailed, WarehouseSchemaError
from shopstream.warehouse.outage import (
    Backoff,
    OutageLog,
    RetryAbandoned,
    read_outage,
    retry_transient,
)
from shopstream.warehouse.writer import writing

# Tiny waits: the test checks their sequence, never how long anything took.
FAST = Backoff(initial=0.001, cap=0.004)


def _sales(n: int) -> list[dict[str, Any]]:
    return [make_event(f"s{i}", "PURCHASE", "c1", amount="12.34") for i in range(n)]


def test_snowflake_outage_is_retried_with_capped_backoff_and_commits_once(
    fake_snow_wh: Warehouse, snowflake_settings: Settings
) -> None:
    failures = 5
    flaky = FlakyConnection(fake_snow_wh._conn, failures, network_down())  # type: ignore[attr-defined]
    fake_snow_wh._conn = flaky  # type: ignore[attr-defined]
    log = OutageLog.for_settings(snowflake_settings)
    waits: list[float] = []
    seen: list[str] = []

    def on_retry(err: BaseException, delay: float) -> None:
        waits.append(delay)
        doc = build_status(snowflake_settings, warehouse=None, warehouse_error="down")
        seen.append(doc["problems"][0])

    result: BatchResult = retry_transient(
        lambda: fake_snow_wh.commit_batch(events_table(_sales(4)), None, BatchMeta("gold", "q", 0)),
        backoff=FAST,
        stop=threading.Event(),
        log=log,
        on_retry=on_retry,
    )

    assert waits == [0.001, 0.002, 0.004, 0.004, 0.004]
    assert all(p.startswith("warehouse unavailable since ") for p in seen)
    assert "Failed to connect" in seen[0]
    assert not log.path.exists() and read_outage(snowflake_settings) is None
    assert (result.new_events, result.replay) == (4, False)
    (row,) = fake_snow_wh.query("SELECT purchase_count, total_revenue FROM customer_daily_metrics")
    assert row == {"purchase_count": 4, "total_revenue": Decimal("49.36")}
    assert fake_snow_wh.query("SELECT COUNT(*) AS n FROM pipeline_batches") == [{"n": 1}]


def test_a_stop_during_an_outage_abandons_the_batch_uncommitted(
    fake_snow_wh: Warehouse, snowflake_settings: Settings
) -> None:
    fake_snow_wh._conn = FlakyConnection(fake_snow_wh._conn, 10**6, network_down())  # type: ignore[attr-defined]
    stop = threading.Event()

    with pytest.raises(RetryAbandoned, match="unavailable since"):
        retry_transient(
            lambda: fake_snow_wh.commit_batch(
                events_table(_sales(1)), None, BatchMeta("g", "q", 0)
            ),
            backoff=FAST,
            stop=stop,
            log=OutageLog.for_settings(snowflake_settings),
            on_retry=lambda _err, _delay: stop.set(),
        )


def test_terminal_errors_are_not_retried(
    fake_snow_wh: Warehouse, snowflake_settings: Settings
) -> None:
    denied = sf_errors.ProgrammingError(
        msg="SQL access control error: Insufficient privileges to operate on table", errno=3001
    )
    flaky = FlakyConnection(fake_snow_wh._conn, 1, denied)  # type: ignore[attr-defined]
    fake_snow_wh._conn = flaky  # type: ignore[attr-defined]
    retries: list[float] = []

    with pytest.raises(CommitFailed, match="setup-sql") as caught:
        retry_transient(
            lambda: fake_snow_wh.commit_batch(
                events_table(_sales(1)), None, BatchMeta("g", "q", 0)
            ),
            backoff=FAST,
            stop=threading.Event(),
            log=OutageLog.for_settings(snowflake_settings),
            on_retry=lambda _err, delay: retries.append(delay),
        )

    assert retries == [] and "\n" not in str(caught.value)


def test_a_foreign_table_stops_init_with_the_fix(any_wh: Warehouse) -> None:
    any_wh.query("DROP VIEW IF EXISTS kpis")
    any_wh.query("DROP VIEW IF EXISTS dead_letter_counts")
    any_wh.query("DROP TABLE dead_letter_events")
    any_wh.query("CREATE TABLE dead_letter_events (id INTEGER, note VARCHAR)")

    with pytest.raises(WarehouseSchemaError, match="warehouse init") as caught:
        any_wh.init()

    assert "dead_letter_events" in str(caught.value) and "\n" not in str(caught.value)


HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


def test_duckdb_file_held_by_another_process_is_waited_out(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, warehouse={"retry_initial_seconds": 0.05})
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.duckdb_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    outages: list[dict[str, Any] | None] = []
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"

        def release(_err: BaseException, _delay: float) -> None:
            outages.append(read_outage(settings))
            if holder.poll() is None and holder.stdin is not None:
                holder.stdin.close()  # the holder exits, and with it the lock
                holder.wait(30)

        with writing(settings, command="gold", stop=threading.Event(), on_retry=release) as wh:
            wh.commit_batch(events_table(_sales(2)), None, BatchMeta("gold", "q", 0))
            assert read_outage(settings) is None
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()

    assert outages and outages[0] is not None
    assert "another process is writing it" in outages[0]["last_error"]
    with open_warehouse(settings, read_only=True) as wh:
        assert wh.query("SELECT SUM(purchase_count) AS n FROM customer_daily_metrics")[0]["n"] == 2
    assert not (tmp_path / "warehouse-outage.json").exists()
    assert orjson.loads(orjson.dumps(outages[0]))["attempts"] >= 1
