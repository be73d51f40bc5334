"""The one choice every reader of a DuckDB warehouse makes: the running pipeline, or the file.

DuckDB lets one process open a file while it writes: while `up`, `process` or `gold` holds
it, no other process can open it, even read-only, and reads go through that process's SQL
endpoint. `open_reader` makes that choice where a reader is opened, so a call site says
which one it gets: `open_warehouse(read_only=True)` is always the file,
`open_reader` the endpoint when one serves this home.

Examples:
    >>> with open_reader(settings) as wh:  # doctest: +SKIP
    ...     wh.query("SELECT count(*) AS n FROM silver_events")
    [{'n': 1234}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopstream.warehouse.factory import open_warehouse

if TYPE_CHECKING:
    from shopstream.config import Settings
    from shopstream.warehouse.base import Warehouse


def open_reader(settings: Settings, *, lock_timeout: float | None = None) -> Warehouse:
    """This home's running SQL endpoint if a pipeline serves one, else the warehouse, read-only.

    Snowflake serves any number of clients itself: it is always opened directly.
    """
    if settings.warehouse.kind == "duckdb":
        from shopstream.sqlendpoint.endpoint import running_endpoint
        from shopstream.sqlendpoint.remote import EndpointWarehouse

        info = running_endpoint(settings)
        if info is not None:
            return EndpointWarehouse(settings, info)
    return open_warehouse(settings, read_only=True, lock_timeout=lock_timeout)
