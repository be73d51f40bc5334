"""One statement through this home's running SQL endpoint: psycopg and nothing heavier.

`shopstream sql` against a running pipeline takes this path (`reader.query_rows`): no
DuckDB, pyarrow or sqlglot to import, which were most of its 1.3-1.8 s on this 2-core
machine (python -X importtime; docs/benchmarks.md, "CLI"). `EndpointWarehouse`
(`remote`) reads through the same `connect` and gets values and errors the same way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.string import TextLoader

from shopstream.errors import ShopstreamError
from shopstream.sqlendpoint.locator import EndpointInfo, endpoint_password
from shopstream.sqlendpoint.types import NUMERIC
from shopstream.warehouse.exceptions import QueryError, WarehouseConnectionError, WarehouseError

if TYPE_CHECKING:
    from shopstream.config import Settings


def query_rows(
    settings: Settings, info: EndpointInfo, sql: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names (lower case) and rows of `sql`, as `Warehouse.query_rows` returns them."""
    try:
        with connect(settings, info) as conn, conn.cursor() as cur:
            cur.execute(sql)
            while cur.nextset():  # like DuckDB, several statements give the last's result
                pass
            if cur.description is None:
                return [], []
            names = [column.name.lower() for column in cur.description]
            return names, duckdb_values(cur.description, cur.fetchall())
    except psycopg.Error as err:
        raise translate(err, info, "running the query") from None


def translate(err: Exception, info: EndpointInfo, action: str) -> ShopstreamError:
    """A psycopg error as the warehouse error a user reads (one line, what to do)."""
    if isinstance(err, ShopstreamError):
        return err
    if isinstance(err, psycopg.OperationalError):
        return WarehouseConnectionError(
            f"lost the SQL endpoint {info.url} while {action}: "
            f"{_message(err)}. Is the pipeline (process {info.pid}) still running?"
        )
    if isinstance(err, psycopg.Error):
        return QueryError(f"query refused by the SQL endpoint {info.url}: {_message(err)}")
    return WarehouseError(f"{action} through {info.url} failed: {err}")


def connect(settings: Settings, info: EndpointInfo) -> psycopg.Connection[Any]:
    """A session on a running endpoint (autocommit: every statement its own snapshot)."""
    try:
        conn = psycopg.connect(
            host=info.host,
            port=info.port,
            user=info.user,
            password=endpoint_password(settings) or "",
            dbname=info.database,
            sslmode="require" if info.tls else "disable",
            connect_timeout=10,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        )
    except psycopg.OperationalError as err:
        raise WarehouseConnectionError(
            f"the SQL endpoint {info.url} (process {info.pid}) refused the connection: "
            f"{_message(err)}. If its password changed, set SHOPSTREAM_SQL__PASSWORD; or stop "
            "that process to read the file directly."
        ) from None
    # DuckDB hands JSON back as text.
    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, TextLoader)
    return conn


def duckdb_values(columns: Any, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows as DuckDB returns them: numeric without a modifier (HUGEINT, e.g. a sum of
    BIGINT) is an int there."""
    integral = [c.type_code == NUMERIC and c.precision is None for c in columns or ()]
    if not any(integral):
        return rows
    return [
        tuple(
            int(v) if flag and isinstance(v, Decimal) else v
            for v, flag in zip(r, integral, strict=True)
        )
        for r in rows
    ]


def _message(err: psycopg.Error) -> str:
    diag = getattr(err, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return primary or (str(err).strip().splitlines() or [type(err).__name__])[-1]
