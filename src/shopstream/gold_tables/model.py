"""What a Gold table is: a key, measures, and how each is computed from a batch's new events.

A `GoldTable` is declared once (tables.py); the warehouse schema, the commit's upserts in
both dialects (render.py), the generator's ground truth (truth.py), `bench gold`'s history
and the docs are all derived from it. Each measure says three things:

- `sql`: an aggregate over the batch's new rows of `stage_events` (DuckDB dialect;
  `$total_type` is the contract's money type, cast inside SUM so every sum is exact);
- `merge`: how a stored value and a batch's value combine. sum, min and max are
  associative and commutative, so batches may arrive in any order, late events included,
  and the result equals one aggregate over all events: exact by design, as long as each
  event reaches the merge once (dedup hands the commit only new events). `latest` (the
  batch's non-null value over the stored one) depends on commit order: it is meant for an
  attribute constant per key (a product's category, a session's customer and device);
- `truth`: the same per-event value from the generator's arrays (numpy), merged with the
  same operation, so the ground truth follows the declaration.

Examples:
    >>> m = count_of("PURCHASE", "purchase_count")
    >>> m.sql
    "SUM(CASE WHEN event_type = 'PURCHASE' THEN 1 ELSE 0 END)"
    >>> m.merge
    'sum'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shopstream.contract import EVENT_TYPES

# The generator's per-event arrays a truth function reads (all aligned, unique valid events):
# event_type (index into EVENT_TYPES), ts_ms, customer, product (-1 none), session (0 none),
# device (-1 none), quantity, revenue_cents (reporting currency, 0 unless a purchase).
Rows = Mapping[str, np.ndarray]
TruthFn = Callable[[Rows], np.ndarray]

# How a stored value and a batch's value combine (see the module docstring).
Merge = Literal["sum", "min", "max", "latest"]
# How the truth writes a value: integer, money (cents -> "12.34"), timestamp (ms -> ISO),
# boolean, or text (an index the truth names, e.g. a category).
Kind = Literal["int", "money", "timestamp", "bool", "text"]
# How the truth names a key's integer (customer index -> "CUST_...", day -> "YYYY-MM-DD", ...).
KeyKind = Literal["customer", "date", "hour", "minute", "product", "session", "category"]

TOTAL_TYPE = "$total_type"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Key:
    """One key column: its SQL type and expression over stage_events, and its truth value."""

    name: str
    sql_type: str
    sql: str
    kind: KeyKind
    truth: TruthFn | None  # None: the table has no generator truth


@dataclass(frozen=True)
class Measure:
    """One aggregated column (see the module docstring)."""

    name: str
    sql_type: str
    sql: str
    merge: Merge
    kind: Kind
    truth: TruthFn | None
    nullable: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Derived:
    """A column computed from the row's merged measures (re-evaluated at every upsert).

    `sql` names measures as `{name}`; the renderer fills each with the merged value (an
    UPDATE's right-hand sides all see the old row, so `{x}` becomes `t.x + s.x` there).
    """

    name: str
    sql_type: str
    sql: str
    truth: Callable[[Mapping[str, np.ndarray]], np.ndarray]
    kind: Kind = "bool"
    doc: str = ""


@dataclass(frozen=True)
class RollupColumn:
    """A rollup's key (an expression over one row of its table, never NULL) or summed value."""

    name: str
    sql_type: str
    sql: str
    doc: str = ""


@dataclass(frozen=True)
class Rollup:
    """A small summary of a Gold table: its rows grouped by `keys`, each `sums` added up.

    What readers scan instead of the table (sessions by hour and device, not every
    session), so a dashboard panel costs the rollup's size, not the history's. The commit
    keeps it exact before upserting the table: every row the batch touches adds its new
    contribution and takes back its stored one, so a row whose group changes (a late event
    moving a session's first hour) moves between groups. `rows` names the sum counting the
    table's rows (`1` per row); a group it brings to 0 is deleted, as a GROUP BY would have
    no such group. No truth of its own: tests prove it equals the GROUP BY over its table.
    """

    name: str
    doc: str
    keys: tuple[RollupColumn, ...]
    sums: tuple[RollupColumn, ...]
    rows: str

    @property
    def columns(self) -> tuple[str, ...]:
        """Every stored column but updated_at, in table order."""
        return (*(k.name for k in self.keys), *(m.name for m in self.sums))


@dataclass(frozen=True)
class GoldTable:
    """A Gold aggregate table, upserted from each batch's new events in the commit."""

    name: str
    doc: str
    keys: tuple[Key, ...]
    measures: tuple[Measure, ...]
    derived: tuple[Derived, ...] = ()
    # Only new events matching this (SQL over stage_events, and its truth mask) have a row.
    where: str | None = None
    where_truth: TruthFn | None = None
    # Summaries of this table kept in the same commit (upserted before it, see Rollup).
    rollups: tuple[Rollup, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        """Every stored column but updated_at, in table order."""
        return (
            *(k.name for k in self.keys),
            *(m.name for m in self.measures),
            *(d.name for d in self.derived),
        )

    def with_measures(self, *extra: Measure, name: str | None = None) -> GoldTable:
        """This table with more measures (a test declares a modified table this way)."""
        return GoldTable(
            name or self.name,
            self.doc,
            self.keys,
            (*self.measures, *extra),
            self.derived,
            self.where,
            self.where_truth,
            self.rollups,
        )


# ---- measure helpers: the vocabulary tables.py is written in ------------------------------


def _type_code(event_type: str) -> int:
    return EVENT_TYPES.index(event_type)


def count_of(event_type: str, name: str) -> Measure:
    """Events of one type."""
    code = _type_code(event_type)
    return Measure(
        name,
        "BIGINT",
        f"SUM(CASE WHEN event_type = '{event_type}' THEN 1 ELSE 0 END)",
        "sum",
        "int",
        lambda r: (r["event_type"] == code).astype(np.int64),
        doc=f"{event_type} events",
    )


def events(name: str = "events") -> Measure:
    """Every event."""
    return Measure(
        name,
        "BIGINT",
        "COUNT(*)",
        "sum",
        "int",
        lambda r: np.ones(len(r["event_type"]), dtype=np.int64),
        doc="events of any type",
    )


def units_sold(name: str = "units_sold") -> Measure:
    """Units bought (quantity of purchases)."""
    code = _type_code("PURCHASE")
    return Measure(
        name,
        "BIGINT",
        "SUM(CASE WHEN event_type = 'PURCHASE' THEN quantity ELSE 0 END)",
        "sum",
        "int",
        lambda r: np.where(r["event_type"] == code, r["quantity"], 0).astype(np.int64),
        doc="units bought",
    )


def revenue(name: str = "total_revenue") -> Measure:
    """Purchases' reporting amount; cast to the exact total type inside SUM."""
    code = _type_code("PURCHASE")
    return Measure(
        name,
        TOTAL_TYPE,
        "SUM(CAST(CASE WHEN event_type = 'PURCHASE' THEN COALESCE(reporting_amount, 0) ELSE 0 "
        f"END AS {TOTAL_TYPE}))",
        "sum",
        "money",
        lambda r: np.where(r["event_type"] == code, r["revenue_cents"], 0).astype(np.int64),
        doc="purchases' reporting amount",
    )


def first_time(name: str) -> Measure:
    """Earliest event time."""
    return Measure(
        name,
        "TIMESTAMP",
        "MIN(event_timestamp)",
        "min",
        "timestamp",
        lambda r: r["ts_ms"],
        doc="earliest event time",
    )


def last_time(name: str) -> Measure:
    """Latest event time."""
    return Measure(
        name,
        "TIMESTAMP",
        "MAX(event_timestamp)",
        "max",
        "timestamp",
        lambda r: r["ts_ms"],
        doc="latest event time",
    )


def row_count(name: str) -> RollupColumn:
    """A rollup's count of its table's rows."""
    return RollupColumn(name, "BIGINT", "1", "rows of the table")


def rows_where(name: str, condition: str, doc: str) -> RollupColumn:
    """A rollup's count of its table's rows meeting `condition` (SQL over a row)."""
    return RollupColumn(name, "BIGINT", f"CASE WHEN {condition} THEN 1 ELSE 0 END", doc)


def latest_text(column: str, doc: str = "") -> Measure:
    """A text attribute of the key: the batch's MAX, kept over the stored one when not null.

    No truth function: the truth names it from its own model (e.g. a product's category).
    """
    return Measure(
        column, "VARCHAR", f"MAX({column})", "latest", "text", None, nullable=True, doc=doc
    )
