"""A read-only PostgreSQL-protocol (v3) endpoint over the writing process's DuckDB.

DuckDB allows one writing process per file; this lets psql, drivers and BI tools query the
warehouse while the pipeline fills it. Modules: `messages` (framing), `types` (OIDs and text
format), `scram` (SCRAM-SHA-256), `guard` (what may run), `compat` (PostgreSQL catalog
emulation), `server` (sessions), `endpoint` (`SqlEndpoint`, the home's endpoint file),
`remote` (`EndpointWarehouse`: other processes read through a running endpoint).
"""

from shopstream.sqlendpoint.endpoint import (
    EndpointInfo,
    SqlEndpoint,
    endpoint_password,
    password_file,
    running_endpoint,
    serving,
    sql_endpoint_file,
)

__all__ = [
    "EndpointInfo",
    "SqlEndpoint",
    "endpoint_password",
    "password_file",
    "running_endpoint",
    "serving",
    "sql_endpoint_file",
]
