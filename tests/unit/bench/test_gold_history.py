"""The history the Gold benchmark builds is a warehouse Gold could have written (real DuckDB)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from shopstream.bench.gold_history import (
    DEAD_LETTER_SHARE,
    HISTORY_DAYS,
    SavedBatch,
    build_history,
    commit_on_history,
)
from shopstream.warehouse import DEAD_LETTERS_SCHEMA, EVENTS_SCHEMA

END = datetime(2026, 11, 1)


def test_history_is_old_ordered_and_its_aggregates_add_up(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    build_history(path, 12_345, END)
    con = duckdb.connect(str(path), read_only=True)
    n, ids, first, last = con.execute(
        "SELECT COUNT(*), COUNT(DISTINCT event_id), MIN(event_timestamp), MAX(event_timestamp) "
        "FROM silver_events"
    ).fetchone()
    assert (n, ids) == (12_345, 12_345)
    assert END - timedelta(days=HISTORY_DAYS) <= first < last <= END
    # Appended in event-time order, as a live Gold appends: what lets a scan skip old data.
    (unordered,) = con.execute(
        "SELECT COUNT(*) FROM (SELECT event_timestamp < LAG(event_timestamp) OVER (ORDER BY "
        "rowid) AS back FROM silver_events) WHERE back"
    ).fetchone()
    assert unordered == 0
    recomputed = con.execute(
        "SELECT customer_id, event_date, "
        "SUM(CASE WHEN event_type = 'PAGE_VIEW' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN event_type = 'PURCHASE' THEN reporting_amount ELSE 0 END) "
        "FROM silver_events GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    stored = con.execute(
        "SELECT customer_id, event_date, page_views, total_revenue FROM customer_daily_metrics "
        "ORDER BY ALL"
    ).fetchall()
    assert stored == recomputed
    (hourly,) = con.execute("SELECT SUM(events) FROM hourly_metrics").fetchone()
    assert hourly == n
    (dead,) = con.execute("SELECT COUNT(*) FROM dead_letter_events").fetchone()
    assert dead == int(n * DEAD_LETTER_SHARE)
    con.close()


def test_saved_batches_commit_on_top_of_the_history(tmp_path: Path) -> None:
    path = tmp_path / "h.duckdb"
    build_history(path, 1_000, END)
    ts = END + timedelta(days=8)
    row = {f.name: None for f in EVENTS_SCHEMA} | {
        "event_type": "PAGE_VIEW", "customer_id": "CUST_00001", "event_timestamp": ts,
        "event_date": ts.date(), "quantity": 1, "source_partition": 0, "produced_at": ts,
        "validated_at": ts,
    }  # fmt: skip
    events = pa.Table.from_pylist(
        [row | {"event_id": f"e{i}", "source_offset": i} for i in range(10)], schema=EVENTS_SCHEMA
    )
    ev, dl = tmp_path / "e.parquet", tmp_path / "d.parquet"
    pq.write_table(events, ev)
    pq.write_table(DEAD_LETTERS_SCHEMA.empty_table(), dl)
    meta = {"start_offsets": None, "end_offsets": None, "input_rows": 10}
    batches = [SavedBatch(0, ev, dl, meta), SavedBatch(1, ev, dl, meta)]
    commits = commit_on_history(path, batches, timedelta(days=7))
    assert [c["new_events"] for c in commits] == [10, 0]
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT COUNT(*) FROM silver_events").fetchone() == (1_010,)
    con.close()
