"""DuckDB specifics: one writing process that also serves reads, read-only openers, locks."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from gen_events import clean_events
from wh_data import events_table, make_event

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.config import load_settings
from shopstream.errors import Transient
from shopstream.warehouse import BatchMeta, Warehouse, open_warehouse
from shopstream.warehouse.duckdb import ROW_GROUP_SIZE, DuckDBWarehouse, EngineLimits, wal_path
from shopstream.warehouse.exceptions import (
    WarehouseError,
    WarehouseLocked,
    WarehouseNotInitialized,
)

HOLD_LOCK = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
conn.close()
"""


def test_default_file_lives_under_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    with open_warehouse(settings) as wh:
        wh.init()
        assert isinstance(wh, DuckDBWarehouse)
        assert wh.path == (tmp_path / "warehouse.duckdb").resolve()
    assert wh.path.exists()


def test_reads_from_other_threads_while_committing(duck_wh: Warehouse) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                (row,) = duck_wh.query("SELECT events FROM kpis")
                assert row["events"] % 10 == 0  # never a half-committed batch of 10
        except BaseException as err:  # collected and re-raised in the main thread
            errors.append(err)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for b in range(15):
            rows = [make_event(f"b{b}-{i}", customer_id=f"c{i}") for i in range(10)]
            duck_wh.commit_batch(events_table(rows), None, BatchMeta("gold", "q", b))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert duck_wh.table_counts()["silver_events"] == 150


def test_read_only_open_of_a_locked_file_is_a_clear_transient_error(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    DuckDBWarehouse(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseLocked) as info:
            DuckDBWarehouse(path, read_only=True, lock_timeout=0.3)
        assert isinstance(info.value, Transient)
        assert "another process is writing it" in str(info.value)
        assert str(path) in str(info.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    # Once the writer is gone, read-only opening works.
    with DuckDBWarehouse(path, read_only=True) as ro:
        assert ro.query("SELECT 1 AS one") == [{"one": 1}]


def test_read_only_sees_committed_data_and_refuses_writes(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    with open_warehouse(settings) as wh:
        wh.init()
        wh.commit_batch(events_table([make_event("x")]), None, BatchMeta("gold", "q", 0))
    with open_warehouse(settings, read_only=True) as ro:
        assert ro.table_counts()["silver_events"] == 1
        with pytest.raises(Exception, match="read-only"):
            ro.init()


def test_missing_file_or_tables_say_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(WarehouseNotInitialized, match="warehouse init"):
        DuckDBWarehouse(tmp_path / "absent.duckdb", read_only=True)
    with (
        DuckDBWarehouse(tmp_path / "empty.duckdb") as wh,
        pytest.raises(WarehouseNotInitialized, match="warehouse init"),
    ):
        wh.query("SELECT * FROM kpis")


def test_writer_keeps_row_groups_small_at_every_open(tmp_path: Path) -> None:
    """Checkpoints rewrite at most ROW_GROUP_SIZE rows, also after the file is reopened."""
    path = tmp_path / "warehouse.duckdb"
    for opening in range(2):
        with DuckDBWarehouse(path) as wh:
            wh.init()
            rows = [make_event(f"o{opening}-{i}", customer_id=f"c{i % 7}") for i in range(20_000)]
            wh.commit_batch(events_table(rows), None, BatchMeta("gold", "q", opening))
            cur = wh.cursor()
            cur.execute("CHECKPOINT")
            ((groups, largest, catalog),) = cur.execute(
                "SELECT count(*), max(count), any_value(current_database()) FROM (SELECT"
                " row_group_id, max(count) AS count FROM pragma_storage_info('silver_events')"
                " GROUP BY ALL)"
            ).fetchall()
            assert catalog == "warehouse"  # the name a plain connect gives: SQL stays the same
            ((spill,),) = cur.execute("SELECT current_setting('temp_directory')").fetchall()
            assert spill == f"{path}.tmp"  # beside the file, not in the working directory
            assert largest <= ROW_GROUP_SIZE
            assert groups >= (opening + 1) * 20_000 // ROW_GROUP_SIZE
    with DuckDBWarehouse(path, read_only=True) as ro:
        assert ro.table_counts()["silver_events"] == 40_000


def test_row_group_size_comes_from_settings(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, warehouse={"duckdb_row_group_size": 4096})
    with open_warehouse(settings) as wh:
        wh.init()
        rows = [make_event(f"r{i}", customer_id="c") for i in range(10_000)]
        wh.commit_batch(events_table(rows), None, BatchMeta("gold", "q", 0))
        cur = wh.cursor()  # type: ignore[attr-defined]
        cur.execute("CHECKPOINT")
        ((largest,),) = cur.execute(
            "SELECT max(count) FROM pragma_storage_info('silver_events')"
        ).fetchall()
        assert largest <= 4096


def test_stage_tables_hold_only_the_current_batch(tmp_path: Path) -> None:
    """A DELETE would leave every earlier batch's rows in the temp stage's storage, and each
    commit's scans of the stage would grow with the number of commits before it."""

    def stored_rows(wh: DuckDBWarehouse) -> int:
        with wh._writer() as cur:
            ((n,),) = cur.execute(
                "SELECT SUM(count) FROM pragma_storage_info('stage_events') WHERE column_id = 0"
            ).fetchall()
        return int(n)

    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        wh.init()
        sizes = []
        for batch in range(6):
            rows = [make_event(f"b{batch}-{i}", customer_id=f"c{i % 7}") for i in range(500)]
            wh.commit_batch(events_table(rows), None, BatchMeta("gold", "q", batch))
            sizes.append(stored_rows(wh))
        assert sizes == [sizes[0]] * 6 and sizes[0] > 0
        assert wh.table_counts()["silver_events"] == 3000


def _wal_bytes(wh: DuckDBWarehouse) -> int:
    wal = wal_path(wh.path)
    return wal.stat().st_size if wal.exists() else 0


def _revisit(batch: int) -> pa.Table:
    """A batch touching the same 3,000 customers (and their sessions) as every other batch."""
    rows = [make_event(f"b{batch}-{i}", customer_id=f"c{i}") for i in range(3000)]
    return events_table(rows)


def test_writer_checkpoints_by_the_wal_it_wrote_not_at_every_commit(tmp_path: Path) -> None:
    """DuckDB's own trigger adds an estimate of the committing transaction to the WAL size;
    with it (16MB) the third 9,000-event commit below checkpointed at 5.2 MB of WAL, and
    after a 1M-event history every commit did. The writer checkpoints by the WAL file's
    real size instead."""
    gen = EventGenerator(GeneratorConfig(seed=3), total_events=100_000)
    sizes = [20_000] * 3 + [9_000] * 4
    batches = [clean_events(gen, gen.next_batch(n, 0), sum(sizes[:i])) for i, n in enumerate(sizes)]
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        wh.init()
        for batch_id, table in enumerate(batches[:3]):
            wh.commit_batch(table, None, BatchMeta("gold", "q", batch_id))
        with wh._writer() as cur:
            cur.execute("CHECKPOINT")
        wal = []
        for batch_id, table in enumerate(batches[3:], start=3):
            wh.commit_batch(table, None, BatchMeta("gold", "q", batch_id))
            wal.append(_wal_bytes(wh))
        # Each commit adds to the WAL; none checkpoints below the limit.
        assert 0 < wal[0] < wal[1] < wal[2] < wal[3] < wh.limits.checkpoint_wal_bytes, wal
        assert wh.table_counts()["silver_events"] == sum(t.num_rows for t in batches)
    # ...and one that brings it to the limit checkpoints. A client's snapshot older than a
    # commit blocks checkpoints (DuckDB refuses them then); the commits go on, and the
    # first one after the client is done checkpoints.
    limits = EngineLimits(checkpoint_wal_bytes=1)
    with DuckDBWarehouse(tmp_path / "w2.duckdb", limits=limits) as wh:
        wh.init()
        wh.commit_batch(_revisit(0), None, BatchMeta("gold", "q", 0))
        assert _wal_bytes(wh) == 0
        reader = wh.cursor()
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM silver_events").fetchall()
        for batch in (1, 2):
            wh.commit_batch(_revisit(batch), None, BatchMeta("gold", "q", batch))
        assert _wal_bytes(wh) > 0
        reader.execute("COMMIT")
        wh.commit_batch(_revisit(3), None, BatchMeta("gold", "q", 3))
        assert _wal_bytes(wh) == 0
        assert wh.table_counts()["silver_events"] == 12000


@pytest.mark.parametrize("threads", [1, 3])
def test_duckdb_threads_come_from_settings_and_stay_locked(tmp_path: Path, threads: int) -> None:
    settings = load_settings(home=tmp_path, warehouse={"duckdb_threads": threads})
    with open_warehouse(settings) as wh:
        cur = wh.cursor()  # type: ignore[attr-defined]
        assert cur.execute("SELECT current_setting('threads')").fetchone() == (threads,)
        with pytest.raises(duckdb.Error, match="locked"):
            cur.execute("SET threads = 8")
        wh.init()
    # A read-only opener (the standalone dashboard) keeps DuckDB's own thread per core.
    with open_warehouse(settings, read_only=True) as reader:
        cur = reader.cursor()  # type: ignore[attr-defined]
        ((n,),) = cur.execute("SELECT current_setting('threads')").fetchall()
        assert n == duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]


def test_second_writer_in_one_process_is_told_to_reuse_the_first(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        wh.init()
        with pytest.raises(WarehouseError, match="reuse that Warehouse object"):
            DuckDBWarehouse(tmp_path / "w.duckdb")
