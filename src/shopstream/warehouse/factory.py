"""The one place that turns settings into a warehouse: a DuckDB file or Snowflake.

Examples:
    >>> from shopstream.config import load_settings
    >>> with open_warehouse(load_settings(home=tmp), read_only=False) as wh:  # doctest: +SKIP
    ...     wh.init()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopstream.config import Settings
    from shopstream.warehouse.base import Warehouse


def open_warehouse(
    settings: Settings, read_only: bool = False, *, lock_timeout: float | None = None
) -> Warehouse:
    """Open the warehouse `settings.warehouse.kind` names (DuckDB file or Snowflake).

    `read_only` and `lock_timeout` (seconds to wait while another process holds the file)
    matter for DuckDB only: on Snowflake the role's grants decide what a session may do,
    and sessions never lock each other out. This opens the file itself, always: a reader
    that should go through a running pipeline's SQL endpoint instead asks for that at its
    call site (`shopstream.sqlendpoint.open_reader`).
    """
    warehouse = _open(settings, read_only, lock_timeout)
    warehouse.pause_in_commit = settings.faults.pause_in_commit
    return warehouse


def _open(settings: Settings, read_only: bool, lock_timeout: float | None) -> Warehouse:
    # Backends are imported on demand: the Snowflake connector costs a second at import.
    if settings.warehouse.kind == "snowflake":
        from shopstream.warehouse.snowflake import SnowflakeWarehouse

        return SnowflakeWarehouse(settings.warehouse.snowflake)
    from shopstream.warehouse.duckdb import DEFAULT_LOCK_TIMEOUT, DuckDBWarehouse, EngineLimits

    return DuckDBWarehouse(
        settings.duckdb_path,
        read_only=read_only,
        lock_timeout=DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout,
        row_group_size=settings.warehouse.duckdb_row_group_size,
        limits=EngineLimits(
            settings.warehouse.duckdb_memory_limit,
            settings.warehouse.duckdb_max_temp_size,
            # The writer's instance only: a read-only opener (the standalone dashboard, the
            # CLI) runs no commits, so its scans keep DuckDB's default of a thread per core.
            threads=None if read_only else settings.warehouse.duckdb_threads,
        ),
    )
