"""One status document for a home: built here, or asked from the process that holds it.

DuckDB admits one writing process per file. While `shopstream up` or `gold` holds it, this
process cannot open it; that process serves a dashboard whose URL it records in
`endpoint_file`, and `collect_status` forwards to its `/api/status` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.status.document import build_status
from shopstream.status.sources import open_status_warehouse

if TYPE_CHECKING:
    from shopstream.config import Settings


def endpoint_file(settings: Settings) -> Path:
    """Where a running dashboard records its URL, so `shopstream status` can ask it."""
    return settings.state_dir / "dashboard.json"


def collect_status(settings: Settings) -> dict[str, Any]:
    """The status document: built here, or asked from the process that holds the warehouse."""
    from shopstream.errors import WarehouseLocked

    warehouse, error = open_status_warehouse(settings)
    if warehouse is None and settings.warehouse.kind == "duckdb":
        # DuckDB admits one writer: while `up`/`gold` holds the file, its dashboard answers.
        remote = _from_running_dashboard(settings)
        if remote is not None:
            return remote
    try:
        return build_status(settings, warehouse=warehouse, warehouse_error=error)
    except WarehouseLocked as err:  # the writer took the file between open and read
        return build_status(settings, warehouse=None, warehouse_error=str(err))
    finally:
        if warehouse is not None:
            warehouse.close()


def running_dashboard_url(settings: Settings) -> str | None:
    """URL of a dashboard serving this home right now (recorded by DashboardServer)."""
    import httpx
    import orjson

    try:
        url = str(orjson.loads(endpoint_file(settings).read_bytes())["url"])
        httpx.get(f"{url}/openapi.json", timeout=3).raise_for_status()
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        return None
    return url


def _from_running_dashboard(settings: Settings) -> dict[str, Any] | None:
    """The running dashboard's status document, marked with where it came from."""
    import httpx

    url = running_dashboard_url(settings)
    if url is None:
        return None
    try:
        document: dict[str, Any] = httpx.get(f"{url}/api/status", timeout=10).json()
    except (ValueError, httpx.HTTPError):
        return None
    return document | {"source": f"{url}/api/status"}
