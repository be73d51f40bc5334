"""Defence in depth: the writer's DuckDB instance itself refuses files and settings.

Past both checks (guard and sandbox), whatever text reaches a cursor of the writer's locked
instance cannot read or write a file, or change a setting; while Gold's own work still
runs there: Arrow batches registered and committed, spilling, checkpoints, migrations.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from sql_served import fill

from shopstream.config import load_settings
from shopstream.warehouse import open_warehouse
from shopstream.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture
def writer(tmp_path: Path) -> DuckDBWarehouse:
    wh = open_warehouse(load_settings(home=tmp_path))
    assert isinstance(wh, DuckDBWarehouse)
    fill(wh)  # Gold's commits: Arrow tables through register(), in the locked instance
    return wh


def test_the_engine_refuses_files_and_settings_whatever_text_reaches_it(
    writer: DuckDBWarehouse, tmp_path: Path
) -> None:
    """Defence in depth: past both checks, on a cursor of the writer's own instance."""

    cur = writer.cursor()
    secret = tmp_path / "secret.txt"
    for sql in (
        f"SELECT content FROM read_text('{secret}')",
        f"SELECT * FROM glob('{tmp_path}/*')",
        f"COPY (SELECT 1) TO '{tmp_path}/leak.csv'",
        f"SELECT * FROM '{secret}'",
    ):
        with pytest.raises((duckdb.PermissionException, duckdb.CatalogException)):
            cur.execute(sql).fetchall()
    for sql in (
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET memory_limit",
        f"CALL enable_profiling(save_location='{tmp_path}/p.json')",
        f"CALL enable_logging(storage='file', storage_path='{tmp_path}/logs')",
    ):
        with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
            cur.execute(sql)
    assert not (tmp_path / "leak.csv").exists() and not (tmp_path / "logs").exists()


def test_gold_spills_checkpoints_and_migrates_in_the_locked_instance(tmp_path: Path) -> None:
    from shopstream.warehouse.duckdb import EngineLimits

    path = tmp_path / "w.duckdb"
    with DuckDBWarehouse(path, limits=EngineLimits(memory_limit="64MB")) as wh:
        fill(wh)
        wh.init()  # migrations and views again, in the locked instance
        cur = wh.cursor()
        cur.execute(
            "SELECT count(*) FROM (SELECT md5(range::VARCHAR) AS s FROM range(3000000) ORDER BY s)"
        )
        assert cur.fetchone() == (3_000_000,)  # sorted beyond 64 MB: spilled beside the file
        wh.execute("CHECKPOINT")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
