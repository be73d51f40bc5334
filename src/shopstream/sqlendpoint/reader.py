"""The one choice every reader of a DuckDB warehouse makes: the running pipeline, or the file.

DuckDB lets one process open a file while it writes: while `up`, `process` or `gold` holds
it, no other process can open it, even read-only, and reads go through that process's SQL
endpoint. `open_reader` makes that choice where a reader is opened, so a call site says
which one it gets: `open_warehouse(read_only=True)` is always the file,
`open_reader` the endpoint when one serves this home. `query_rows` makes the same choice
for one statement (`shopstream sql`) and, through an endpoint, imports psycopg only.

Examples:
    >>> with open_reader(settings) as wh:  # doctest: +SKIP
    ...     wh.query("SELECT count(*) AS n FROM silver_events")
    [{'n': 1234}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopstream.warehouse.factory import open_warehouse

if TYPE_CHECKING:
    from shopstream.config import Settings
    from shopstream.sqlendpoint.locator import EndpointInfo
    from shopstream.warehouse.base import Warehouse


def serving_endpoint(settings: Settings) -> EndpointInfo | None:
    """The SQL endpoint a pipeline serves for this home's DuckDB file, if one runs.

    Snowflake serves any number of clients itself: None, it is always opened directly.
    """
    if settings.warehouse.kind != "duckdb":
        return None
    from shopstream.sqlendpoint.locator import running_endpoint

    return running_endpoint(settings)


def open_reader(settings: Settings, *, lock_timeout: float | None = None) -> Warehouse:
    """This home's running SQL endpoint if a pipeline serves one, else the warehouse, read-only."""
    info = serving_endpoint(settings)
    if info is not None:
        from shopstream.sqlendpoint.remote import EndpointWarehouse

        return EndpointWarehouse(settings, info)
    return open_warehouse(settings, read_only=True, lock_timeout=lock_timeout)


def query_rows(settings: Settings, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """One read-only statement's column names and rows, from the endpoint or the file."""
    info = serving_endpoint(settings)
    if info is not None:
        from shopstream.sqlendpoint.client import query_rows as endpoint_rows

        return endpoint_rows(settings, info, sql)
    with open_warehouse(settings, read_only=True) as wh:
        return wh.query_rows(sql)
