"""One status document for a home: asked from the running pipeline, or built here.

`shopstream up` serves a dashboard whose URL it records in `dashboard_file`;
`collect_status` forwards to its `/api/status`, which knows the live queries and rates.
Without one, the document is built here: DuckDB admits one
writing process per file, so the file is read read-only, or through the pipeline's SQL
endpoint when it serves one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.status.document import build_status
from shopstream.status.sources import open_status_warehouse

if TYPE_CHECKING:
    from shopstream.config import Settings


def dashboard_file(settings: Settings) -> Path:
    """Where a running dashboard records its URL, so `shopstream status` can ask it."""
    return settings.files.dashboard


def collect_status(settings: Settings) -> dict[str, Any]:
    """The status document: asked from the running pipeline's dashboard, or built here.

    The process running the pipeline knows what no file says: its live queries (a query
    that died, when they started, so a start-up is not a stall) and rates. Its dashboard
    answers first; without one, the document is built from the home, the warehouse (the
    file read-only, or the pipeline's SQL endpoint) and Kafka.
    """
    from shopstream.errors import WarehouseLocked

    remote = _from_running_dashboard(settings)
    if remote is not None:
        return remote
    warehouse, error = open_status_warehouse(settings)
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
        url = str(orjson.loads(dashboard_file(settings).read_bytes())["url"])
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
