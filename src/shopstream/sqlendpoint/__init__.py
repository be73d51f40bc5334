"""A read-only PostgreSQL-protocol (v3) endpoint over the writing process's DuckDB.

DuckDB allows one writing process per file; this lets psql, drivers and BI tools query the
warehouse while the pipeline fills it. Modules: `messages` (framing), `types` (OIDs and text
format), `scram` (SCRAM-SHA-256), `guard` (what may run), `compat` (PostgreSQL catalog
emulation), `server` (sessions), `endpoint` (`SqlEndpoint`), `locator` (the home's endpoint
file and password), `client` (one statement through a running endpoint, psycopg only),
`remote` (`EndpointWarehouse`: other processes read through a running endpoint).

The names below load on first use: `shopstream sql` through a running endpoint imports
`locator` and `client` only, not the server's sqlglot and DuckDB (about 0.3 s of a 2-core
machine's CLI start, measured with `python -X importtime`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopstream.lazy import lazy_names

if TYPE_CHECKING:
    from shopstream.sqlendpoint.endpoint import SqlEndpoint, serving
    from shopstream.sqlendpoint.locator import (
        EndpointInfo,
        endpoint_password,
        password_file,
        running_endpoint,
        sql_endpoint_file,
    )

_HOME = {
    "SqlEndpoint": "endpoint",
    "serving": "endpoint",
    "EndpointInfo": "locator",
    "endpoint_password": "locator",
    "password_file": "locator",
    "running_endpoint": "locator",
    "sql_endpoint_file": "locator",
}


__getattr__ = lazy_names(__name__, _HOME)


__all__ = [
    "EndpointInfo",
    "SqlEndpoint",
    "endpoint_password",
    "password_file",
    "running_endpoint",
    "serving",
    "sql_endpoint_file",
]
