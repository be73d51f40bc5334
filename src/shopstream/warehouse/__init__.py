"""The warehouse layer: exactly-once batch commits and reporting views, DuckDB or Snowflake.

Public API: `open_warehouse(settings, read_only=False, lock_timeout=None) -> Warehouse`,
`Warehouse.init()`, `Warehouse.commit_batch(events, dead_letters, BatchMeta(...)) -> BatchResult`,
`Warehouse.query(sql) -> list[dict]`, `Warehouse.health() -> dict`, `Warehouse.close()`.

The names load on first use, so a module that needs only `warehouse.exceptions` (the SQL
endpoint's client) does not import pyarrow through `base` and `batch`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
