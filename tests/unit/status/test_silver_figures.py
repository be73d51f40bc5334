"""Silver's figures in the status document: lag from what it wrote, its own counts, and
reconciliation that waits for records in flight instead of failing."""

from __future__ import annotations

from typing import Any

from test_document import kafka
from test_document import silver_done as silver_committed

from shopstream.config import Settings
from shopstream.spark.checkpoints import append_progress, checkpoint, progress_log
from shopstream.status import build_status
from shopstream.status.silver import silver_progress_counts
from shopstream.warehouse import Warehouse


def progress(batch: int, clean: int, dead: int, *, query: str = "q1") -> dict[str, Any]:
    """A Spark progress line as Silver logs it in micro-batch mode (observe() attached)."""
    return {
        "id": query,
        "batchId": batch,
        "numInputRows": clean + dead,
        "observedMetrics": {
            "silver": {
                "input": clean + dead,
                "clean": clean,
                "dead_letter": dead,
                "dead_letter_malformed_json": dead,
            }
        },
        "durationMs": {"triggerExecution": 100},
    }


def test_real_time_silver_lag_is_what_it_has_not_written_not_its_checkpoint(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    s = offline_settings
    # Real-time Mode committed its checkpoint at 18 raw records 20 s ago; since then the
    # producer wrote up to 9,000 and Silver wrote 8,990 records (8,700 clean + 290 dead
    # letters): 10 are not written yet, not 8,982.
    silver_committed(s, {"0": 10, "1": 8}, age=20.0)
    doc = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 5000, 1: 4000}, 8700, 290))
    lag = doc["lag"]["silver"]
    assert (lag["total"], lag["basis"], lag["checkpoint_total"]) == (10, "written", 8982)
    assert lag["written"] == 8990
    assert doc["stages"]["silver"]["lag"] == 10
    assert doc["stages"]["silver"]["processed"] == 18  # committed: a counter never falls
    # The per-partition rows stay the checkpoint's (a written record names no partition).
    assert doc["lag"]["silver"]["topics"][s.kafka.raw_topic]["0"]["committed"] == 10
    # Records in flight: pending, never "holds: no".
    rec = doc["reconciliation"]
    assert rec["silver"]["holds"] is None and rec["silver"]["state"] == "pending"
    assert rec["silver"]["pending"] == 10 + doc["lag"]["gold"]["total"] > 10
    assert rec["gold"]["holds"] is None and rec["gold"]["state"] == "pending"


def test_the_checkpoint_caps_the_written_lag(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    s = offline_settings
    # Silver committed everything; records missing from its outputs (a retention gap it
    # skipped) do not make it read behind.
    silver_committed(s, {"0": 10, "1": 10}, age=1.0)
    doc = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 10, 1: 10}, 14, 4))
    lag = doc["lag"]["silver"]
    assert (lag["total"], lag["basis"], lag["written"]) == (0, "checkpoint", 18)


def test_a_difference_with_nothing_in_flight_fails(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    s = offline_settings
    # 20 raw records, every stage caught up, yet the warehouse holds 14 + 4: two were lost.
    silver_committed(s, {"0": 10, "1": 10}, age=1.0)
    doc = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 10, 1: 10}, 14, 4))
    silver = doc["reconciliation"]["silver"]
    assert (silver["pending"], silver["holds"], silver["state"]) == (0, False, "fails")


def test_after_silver_alone_status_shows_silvers_own_counts_labelled(
    offline_settings: Settings,
) -> None:
    s = offline_settings
    log = progress_log(s, "silver")
    append_progress(log, progress(0, 10, 1))
    append_progress(log, progress(1, 4, 3))
    append_progress(log, progress(1, 4, 3))  # batch 1 re-ran after a crash: counted once
    silver_committed(s, {"0": 10, "1": 8}, age=1.0)
    doc = build_status(
        s, warehouse=None, warehouse_error="no warehouse file", kafka=kafka(s, {0: 10, 1: 8}, 14, 4)
    )
    assert doc["clean"] == 14 and doc["dead_letter"]["total"] == 4
    assert doc["dead_letter"]["by_reason"] == {"malformed_json": 4}
    assert doc["counts_source"] == doc["dead_letter"]["source"] == "silver progress"
    assert doc["silver_progress"]["batches"] == 2
    assert doc["silver_progress"]["source"] == "silver progress"
    silver = doc["reconciliation"]["silver"]
    assert (silver["holds"], silver["state"], silver["pending"]) == (True, "holds", 0)
    assert doc["reconciliation"]["gold"]["state"] == "unknown"  # no warehouse to count in


def test_the_warehouse_counts_when_it_can(offline_settings: Settings, filled_wh: Warehouse) -> None:
    s = offline_settings
    append_progress(progress_log(s, "silver"), progress(0, 99, 99))
    silver_committed(s, {"0": 10, "1": 8}, age=1.0)
    doc = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 10, 1: 8}, 14, 4))
    assert doc["clean"] == 14 and doc["counts_source"] == "warehouse"
    assert doc["silver_progress"] is None


def test_real_time_progress_has_no_split_so_the_counts_stay_unknown(
    offline_settings: Settings,
) -> None:
    s = offline_settings
    append_progress(progress_log(s, "silver"), progress(0, 10, 1))
    append_progress(progress_log(s, "silver"), {"id": "q1", "batchId": 1, "numInputRows": 7})
    doc = build_status(s, warehouse=None, kafka=kafka(s, {0: 10, 1: 8}, 14, 4))
    assert doc["clean"] is None and doc["dead_letter"]["total"] is None
    assert doc["counts_source"] is None
    assert doc["silver_progress"]["input"] == 18 and doc["silver_progress"]["clean"] is None


def test_progress_counts_read_only_new_lines_and_wait_for_a_torn_one(
    offline_settings: Settings,
) -> None:
    log = progress_log(offline_settings, "silver")
    append_progress(log, progress(0, 5, 0))
    first = silver_progress_counts(log)
    assert first is not None and first.clean == 5
    with open(log, "ab") as f:
        f.write(b'{"id": "q1", "batchId": 1, "numInp')  # a line being written
    again = silver_progress_counts(log)
    assert again is not None and again.batches == 1
    with open(log, "ab") as f:
        f.write(b'utRows": 0}\n')
    append_progress(log, progress(2, 2, 1))
    later = silver_progress_counts(log)
    assert later is not None
    assert (later.batches, later.clean, later.dead_letter) == (3, 7, 1)


def test_the_terminal_table_says_pending_not_no(
    offline_settings: Settings, filled_wh: Warehouse, capsys: Any
) -> None:
    from shopstream.cli.dashboard import print_status

    s = offline_settings
    silver_committed(s, {"0": 10, "1": 8}, age=20.0)
    print_status(
        build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 5000, 1: 4000}, 8700, 290))
    )
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if " = " in line]
    assert len(rows) == 2 and all("pending" in row.split("│")[-2] for row in rows), rows
    assert "silver: 10 records not written yet" in out


def test_silvers_rate_follows_what_it_wrote_between_commits(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    from shopstream.status import RateTracker

    s = offline_settings
    silver_committed(s, {"0": 10, "1": 8}, age=1.0)
    tracker = RateTracker(window=60)
    build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 500, 1: 500}, 900, 90), tracker=tracker)
    doc = build_status(
        s, warehouse=filled_wh, kafka=kafka(s, {0: 1000, 1: 1000}, 1800, 190), tracker=tracker
    )
    # No commit in between, yet 1,000 more records written: the rate is not zero.
    assert doc["stages"]["silver"]["processed"] == 18
    assert doc["stages"]["silver"]["input_rate"] > 0


def test_only_the_current_checkpoints_batches_count(offline_settings: Settings) -> None:
    s = offline_settings
    log = progress_log(s, "silver")
    append_progress(log, progress(0, 14, 4, query="old"))  # before the checkpoint was reset
    append_progress(log, progress(0, 14, 4, query="new"))  # the same records, read again
    silver_committed(s, {"0": 10, "1": 8}, age=1.0)
    (checkpoint(s, "silver") / "metadata").write_text('{"id":"new"}')
    doc = build_status(s, warehouse=None, kafka=kafka(s, {0: 10, 1: 8}, 28, 8))
    assert (doc["clean"], doc["dead_letter"]["total"]) == (14, 4)
    assert doc["reconciliation"]["silver"]["state"] == "holds"
