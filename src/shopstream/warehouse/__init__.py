"""The warehouse layer: exactly-once batch commits and reporting views, DuckDB or Snowflake.

Public API: `open_warehouse(settings, read_only=False, lock_timeout=None) -> Warehouse`,
`Warehouse.init()`, `Warehouse.commit_batch(events, dead_letters, BatchMeta(...)) -> BatchResult`,
`Warehouse.query(sql) -> list[dict]`, `Warehouse.health() -> dict`, `Warehouse.close()`.
"""

from shopstream.warehouse.base import Warehouse
from shopstream.warehouse.batch import (
    DEAD_LETTERS_SCHEMA,
    EVENTS_SCHEMA,
    BatchMeta,
    BatchResult,
)
from shopstream.warehouse.dialect import TABLES, VIEWS
from shopstream.warehouse.factory import open_warehouse

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
