"""An accepted retention gap is one `pipeline_batches` row, on both warehouses, and a
warehouse created before those columns existed gains them on `init`, keeping its rows."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from wh_data import events_table

from shopstream.config import Settings, load_settings
from shopstream.runtime.retention import Gap, gaps_json
from shopstream.warehouse import BatchMeta, Warehouse, open_warehouse

GAPS = [Gap("raw", 0, 100, 600), Gap("raw", 2, 7, 9)]

# pipeline_batches as releases before the data-loss columns created it.
LEGACY_BATCHES_DDL = """
CREATE TABLE pipeline_batches (
    query_name VARCHAR NOT NULL, query_id VARCHAR NOT NULL, batch_id BIGINT NOT NULL,
    start_offsets VARCHAR, end_offsets VARCHAR, input_rows BIGINT NOT NULL,
    staged_rows BIGINT NOT NULL, new_events BIGINT NOT NULL, duplicates BIGINT NOT NULL,
    dead_letters BIGINT NOT NULL, new_dead_letters BIGINT NOT NULL, replays BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL, committed_at TIMESTAMP NOT NULL, duration_ms DOUBLE NOT NULL,
    commit_ms DOUBLE NOT NULL, last_replayed_at TIMESTAMP, PRIMARY KEY (query_id, batch_id)
)
"""
LEGACY_ROW = (
    "INSERT INTO pipeline_batches VALUES ('gold', 'q', 0, NULL, NULL, 3, 3, 3, 0, 0, 0, 0, "
    "TIMESTAMP '2026-11-20 10:00:00', TIMESTAMP '2026-11-20 10:00:01', 1.0, 1.0, NULL)"
)


def _losses(wh: Warehouse) -> list[dict[str, object]]:
    return wh.query(
        "SELECT query_name, query_id, batch_id, input_rows, lost_records, data_loss "
        "FROM pipeline_batches WHERE lost_records IS NOT NULL"
    )


def test_an_accepted_gap_is_recorded_once_and_keeps_the_batch_sums(any_wh: Warehouse) -> None:
    any_wh.commit_batch(events_table([]), None, BatchMeta("silver", "q-silver", 4))
    lost = sum(g.lost for g in GAPS)

    assert any_wh.record_data_loss("silver", "q-silver", 5, lost, gaps_json(GAPS)) is True
    assert any_wh.record_data_loss("silver", "q-silver", 5, lost, gaps_json(GAPS)) is False

    (row,) = _losses(any_wh)
    assert (row["query_name"], row["query_id"], row["batch_id"]) == (
        "silver",
        "data-loss:q-silver",
        5,
    )
    assert (row["input_rows"], row["lost_records"]) == (0, 502)
    assert [g["lost"] for g in json.loads(str(row["data_loss"]))] == [500, 2]
    # Input still reconciles over the whole log: the loss row adds no input.
    (sums,) = any_wh.query(
        "SELECT SUM(input_rows) AS i, SUM(new_events + duplicates) AS n FROM pipeline_batches"
    )
    assert sums["i"] == sums["n"]


def test_init_adds_the_data_loss_columns_to_an_old_duckdb_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute(LEGACY_BATCHES_DDL)
    con.execute(LEGACY_ROW)
    con.close()
    with open_warehouse(load_settings(home=home)) as wh:
        assert wh.init() == ["pipeline_batches + lost_records", "pipeline_batches + data_loss"]
        assert wh.init() == []
        _assert_usable(wh)


def test_init_adds_the_data_loss_columns_on_snowflake(
    fakesnow_patch: None, snowflake_settings: Settings
) -> None:
    with open_warehouse(snowflake_settings) as wh:
        wh.query(LEGACY_BATCHES_DDL)
        wh.query(LEGACY_ROW)
        assert wh.init() == ["pipeline_batches + lost_records", "pipeline_batches + data_loss"]
        assert wh.init() == []
        _assert_usable(wh)


def _assert_usable(wh: Warehouse) -> None:
    (old,) = wh.query("SELECT input_rows, lost_records FROM pipeline_batches")
    assert (old["input_rows"], old["lost_records"]) == (3, None)
    wh.record_data_loss("gold", "q", 1, 2, gaps_json(GAPS[1:]))
    assert [row["lost_records"] for row in _losses(wh)] == [2]
