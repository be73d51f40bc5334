"""The warehouse layer: exactly-once batch commits and reporting views, DuckDB or Snowflake.

Public API: `open_warehouse(settings, read_only=False, lock_timeout=None) -> Warehouse`,
`Warehouse.init()`, `Warehouse.commit_batch(events, dead_letters, BatchMeta(...)) -> BatchResult`,
`Warehouse.query(sql) -> list[dict]`, `Warehouse.health() -> dict`, `Warehouse.close()`.

The names load on first use, so a module that needs only `warehouse.exceptions` (the SQL
endpoint's client) does not import pyarrow through `base` and `batch`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shopstream.lazy import lazy_names

if TYPE_CHECKING:
    from shopstream.warehouse.base import Warehouse
    from shopstream.warehouse.batch import (
        DEAD_LETTERS_SCHEMA,
        EVENTS_SCHEMA,
        BatchMeta,
        BatchResult,
    )
    from shopstream.warehouse.dialect import TABLES, VIEWS
    from shopstream.warehouse.factory import open_warehouse

_HOME = {
    "Warehouse": "base",
    "DEAD_LETTERS_SCHEMA": "batch",
    "EVENTS_SCHEMA": "batch",
    "BatchMeta": "batch",
    "BatchResult": "batch",
    "TABLES": "dialect",
    "VIEWS": "dialect",
    "open_warehouse": "factory",
}


__getattr__ = lazy_names(__name__, _HOME)


__all__ = [
    "DEAD_LETTERS_SCHEMA",
    "EVENTS_SCHEMA",
    "TABLES",
    "VIEWS",
    "BatchMeta",
    "BatchResult",
    "Warehouse",
    "open_warehouse",
]
