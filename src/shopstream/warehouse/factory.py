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
    and sessions never lock each other out. Read-only while a pipeline of this home writes
    the DuckDB file, it is read through that process's SQL endpoint.
    """
    warehouse = _open(settings, read_only, lock_timeout)
    warehouse.pause_in_commit = settings.faults.pause_in_commit
    return warehouse


def _open(settings: Settings, read_only: bool, lock_timeout: float | None) -> Warehouse:
    # Backends are imported on demand: the Snowflake connector costs a second at import.
    if settings.warehouse.kind == "snowflake":
        from shopstream.warehouse.snowflake import SnowflakeWarehouse

        return SnowflakeWarehouse(settings.warehouse.snowflake)
    from shopstream.warehouse.duckdb import DEFAULT_LOCK_TIMEOUT, DuckDBWarehouse

    if read_only:
        from shopstream.warehouse.pgwire import running_endpoint
        from shopstream.warehouse.pgwire.remote import EndpointWarehouse

        info = running_endpoint(settings)
        if info is not None:
            return EndpointWarehouse(settings, info)

    return DuckDBWarehouse(
        settings.duckdb_path,
        read_only=read_only,
        lock_timeout=DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout,
        row_group_size=settings.warehouse.duckdb_row_group_size,
    )
