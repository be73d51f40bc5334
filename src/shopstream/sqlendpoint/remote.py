"""`EndpointWarehouse`: the read side of `Warehouse`, through the SQL endpoint of the writer.

While `up`, `process` or `gold` holds the DuckDB file, no other process can open it, even
read-only; `open_warehouse(settings, read_only=True)` then returns this, so `status`, a
second dashboard and `shopstream sql` read what that process has committed (each statement
its own snapshot: never half a batch). Values come back as DuckDB would return them.

Examples:
    >>> with open_warehouse(settings, read_only=True) as wh:  # doctest: +SKIP
    ...     wh.query("SELECT count(*) AS n FROM silver_events")
    [{'n': 1234}]
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg

from shopstream.errors import ShopstreamError
from shopstream.sqlendpoint.client import connect, duckdb_values, translate
from shopstream.sqlendpoint.locator import EndpointInfo, running_endpoint
from shopstream.warehouse.base import Cursor, Warehouse
from shopstream.warehouse.exceptions import QueryError, WarehouseError

if TYPE_CHECKING:
    import pyarrow as pa

    from shopstream.config import Settings
    from shopstream.warehouse.dialect import Dialect


class EndpointWarehouse(Warehouse):
    """A read-only warehouse read through this home's running SQL endpoint."""

    kind: ClassVar[Dialect] = "duckdb"
    read_only = True

    def __init__(self, settings: Settings, info: EndpointInfo) -> None:
        super().__init__()
        self.settings = settings
        self.info = info
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    def target(self) -> str:
        """The file, and the endpoint it is read through."""
        return f"{self.settings.duckdb_path} (via {self.info.url})"

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            # The writer may have restarted on another port: look it up again.
            self.info = running_endpoint(self.settings) or self.info
            self._conn = connect(self.settings, self.info)
        return self._conn

    @contextmanager
    def _reader(self) -> Iterator[_Cursor]:
        with self._lock:  # one connection, one statement at a time
            yield _Cursor(self._connection())

    @contextmanager
    def _writer(self) -> Iterator[Cursor]:
        raise WarehouseError(
            f"{self.target()} is read through the SQL endpoint of the process that writes it "
            "(Gold / `shopstream up`); only that process can change it."
        )
        yield  # pragma: no cover

    def _load_stage(self, cur: Cursor, table: str, data: pa.Table) -> None:
        raise WarehouseError("the SQL endpoint is read-only")

    def _translate(self, err: Exception, action: str) -> ShopstreamError:
        return translate(err, self.info, action)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _Cursor:
    """A psycopg cursor that returns what DuckDB's would, for `Warehouse._run`."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._cur = conn.cursor()

    @property
    def description(self) -> Any:
        return self._cur.description

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        if params:
            raise QueryError(
                "parameters are not sent through the SQL endpoint; put the values in the query."
            )
        self._cur.execute(sql)  # without parameters psycopg sends it as it is
        while self._cur.nextset():  # like DuckDB, several statements give the last's result
            pass
        return self

    def fetchall(self) -> list[tuple[Any, ...]]:
        return duckdb_values(self._cur.description, self._cur.fetchall())

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.fetchall()
        return rows[0] if rows else None
