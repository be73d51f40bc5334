"""Run a read query where it can run: through this home's SQL endpoint, or on the file.

DuckDB lets no other process open the file while the pipeline writes it, so `shopstream sql`
forwards to the endpoint that process serves (found through the home) and converts values
back to what DuckDB would have returned, so both paths print the same thing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shopstream.warehouse.exceptions import QueryError, WarehouseConnectionError
from shopstream.warehouse.pgwire.endpoint import EndpointInfo, endpoint_password, running_endpoint
from shopstream.warehouse.pgwire.types import NUMERIC

if TYPE_CHECKING:
    from shopstream.config import Settings


def query_rows(settings: Settings, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of `sql`: via a running endpoint if any, else opening the file."""
    info = running_endpoint(settings) if settings.warehouse.kind == "duckdb" else None
    if info is not None:
        return query_endpoint(settings, info, sql)
    from shopstream.warehouse import open_warehouse

    with open_warehouse(settings, read_only=True) as wh:
        return wh.query_rows(sql)


def query_endpoint(
    settings: Settings, info: EndpointInfo, sql: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` on a running endpoint (simple protocol: several statements allowed)."""
    import psycopg

    password = endpoint_password(settings)
    try:
        conn = psycopg.connect(
            host=info.host,
            port=info.port,
            user=info.user,
            password=password or "",
            dbname=info.database,
            sslmode="require" if info.tls else "disable",
            connect_timeout=10,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        )
    except psycopg.OperationalError as err:
        raise WarehouseConnectionError(
            f"the SQL endpoint {info.url} (process {info.pid}) refused the connection: "
            f"{str(err).strip().splitlines()[-1]}. If its password changed, set "
            "SHOPSTREAM_SQL__PASSWORD; or stop that process to read the file directly."
        ) from None
    with conn:
        cur = conn.cursor()
        try:
            cur.execute(sql)
        except psycopg.Error as err:
            message = err.diag.message_primary or str(err).strip()
            raise QueryError(f"query refused by the SQL endpoint {info.url}: {message}") from None
        while cur.nextset():  # like DuckDB, the last statement's result
            pass
        if cur.description is None:
            return [], []
        columns = list(cur.description)
        rows = cur.fetchall()
    # numeric without a modifier is what the endpoint sends for HUGEINT (e.g. sum of BIGINT),
    # which DuckDB returns as a Python int.
    integral = [c.type_code == NUMERIC and c.precision is None for c in columns]
    if any(integral):
        rows = [
            tuple(_integral(v, flag) for v, flag in zip(r, integral, strict=True)) for r in rows
        ]
    return [c.name for c in columns], rows


def _integral(value: Any, flag: bool) -> Any:
    return int(value) if flag and isinstance(value, Decimal) else value
