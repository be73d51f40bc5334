"""What goes into one warehouse commit (`BatchMeta`, arrow tables) and what comes out.

Timestamps: the warehouse stores naive UTC (`TIMESTAMP` / `TIMESTAMP_NTZ`). Batches may carry
`timestamp[*, tz=...]` (converted to UTC) or naive timestamps (taken as UTC already).

Examples:
    >>> meta = BatchMeta(query_name="gold", query_id="q-1", batch_id=7, input_rows=3)
    >>> meta.offsets_json(meta.end_offsets) is None
    True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from shopstream.contract import CLEAN_FIELDS, DEAD_LETTER_FIELDS, Field
from shopstream.warehouse.exceptions import BatchSchemaError

_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
}


def arrow_type(sql_type: str) -> pa.DataType:
    """Arrow type of a contract SQL type (DECIMAL(p,s) becomes decimal128(p, s))."""
    if sql_type.startswith("DECIMAL("):
        precision, scale = (int(x) for x in sql_type[8:-1].split(","))
        return pa.decimal128(precision, scale)
    return _ARROW_TYPES[sql_type]


def arrow_schema(fields: tuple[Field, ...]) -> pa.Schema:
    """The canonical arrow schema of a contract field table (naive-UTC timestamps)."""
    return pa.schema([pa.field(f.name, arrow_type(f.sql_type)) for f in fields])


EVENTS_SCHEMA = arrow_schema(CLEAN_FIELDS)
DEAD_LETTERS_SCHEMA = arrow_schema(DEAD_LETTER_FIELDS)
DEAD_LETTER_KEY = ("source_topic", "source_partition", "source_offset")
# A clean record's raw source (the raw topic is implied): its identity across re-sends.
SOURCE_KEY = ("source_partition", "source_offset")


def utcnow() -> datetime:
    """Now as naive UTC, the warehouse's timestamp convention."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class BatchMeta:
    """Identity and bookkeeping of one Gold micro-batch.

    `input_rows` is the number of clean records the micro-batch read (before Gold's
    in-batch dedup); it defaults to the number of rows handed to commit_batch. Offsets
    are a dict (stored as sorted JSON) or an already-serialized JSON string.
    """

    query_name: str
    query_id: str
    batch_id: int
    start_offsets: dict[str, Any] | str | None = None
    end_offsets: dict[str, Any] | str | None = None
    input_rows: int | None = None
    started_at: datetime = field(default_factory=utcnow)

    @staticmethod
    def offsets_json(offsets: dict[str, Any] | str | None) -> str | None:
        """Offsets as stored in pipeline_batches."""
        if offsets is None or isinstance(offsets, str):
            return offsets
        return json.dumps(offsets, sort_keys=True, separators=(",", ":"))

    @property
    def started_at_utc(self) -> datetime:
        """started_at as naive UTC."""
        ts = self.started_at
        return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


@dataclass(frozen=True)
class BatchResult:
    """What one commit_batch call did.

    `input_rows = new_events + duplicates + redelivered clean records`: `duplicates` are
    records of an event_id seen before, `redelivered` are copies of records already counted
    (clean and dead letters), which Silver re-sends after a crash.
    """

    query_id: str
    batch_id: int
    input_rows: int
    staged_rows: int
    new_events: int
    duplicates: int
    dead_letters: int
    new_dead_letters: int
    replay: bool
    commit_ms: float
    redelivered: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict, for logs and JSON output."""
        return dict(self.__dict__)


def conform(table: pa.Table | None, schema: pa.Schema, what: str) -> pa.Table:
    """Select and cast `table` to the canonical schema; raise BatchSchemaError when it can't."""
    if table is None:
        return schema.empty_table()
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise BatchSchemaError(
            f"{what} batch lacks contract column(s) {', '.join(missing)}; it must have the "
            f"columns of contract.{'CLEAN_FIELDS' if what == 'events' else 'DEAD_LETTER_FIELDS'}."
        )
    columns = []
    for f in schema:
        col = table.column(f.name)
        try:
            # tz-aware -> naive keeps the instant as UTC wall time (arrow stores UTC).
            columns.append(col if col.type == f.type else pc.cast(col, f.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise BatchSchemaError(
                f"{what} column {f.name} has type {col.type}, which cannot be cast safely to "
                f"{f.type}: {err}"
            ) from None
    return pa.Table.from_arrays(columns, schema=schema)


def first_per_key(table: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """Keep the first row of each key: a defensive in-batch dedup (Gold normally did it)."""
    n = table.num_rows
    if n == 0:
        return table
    indexed = table.select(list(keys)).append_column("__row", pa.array(range(n), pa.int64()))
    first = indexed.group_by(list(keys), use_threads=False).aggregate([("__row", "min")])
    if first.num_rows == n:
        return table
    rows = first["__row_min"].combine_chunks()
    return table.take(pc.take(rows, pc.array_sort_indices(rows)))
