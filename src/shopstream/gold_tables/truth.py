"""Ground truth of a declared Gold table, from the generator's arrays (vectorized numpy).

Each measure's `truth` gives its per-event value; rows are grouped by the key and merged
with the measure's own `merge`, exactly as the commit merges batches, so the truth of a
table follows its declaration (bronze/truth.py builds its tables with this).

Examples:
    >>> import numpy as np
    >>> from shopstream.gold_tables.tables import CUSTOMER_DAILY
    >>> t = GoldTruth(CUSTOMER_DAILY)
    >>> t.add({"event_type": np.array([2, 0]), "ts_ms": np.array([0, 1]),
    ...        "customer": np.array([7, 7]), "revenue_cents": np.array([1234, 0]),
    ...        "quantity": np.array([1, 1])})
    >>> t.rows({"customer": lambda ids: [f"c{i}" for i in ids.tolist()]})[0]["total_revenue"]
    '12.34'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from shopstream.gold_tables.model import HOUR_MS, GoldTable, Kind, Rows

_EPOCH = date(1970, 1, 1)
_MERGE_EVERY = 64  # partial groups kept before merging (bounds memory on small batches)
_REDUCE = {"sum": np.add, "min": np.minimum, "max": np.maximum}

# Names a key's integers (customer index -> "CUST_...") for the key kinds the truth's
# caller knows (customer, product, session); dates and hours are named here.
Namer = Callable[[np.ndarray], list[Any]]


def format_money(cents: int) -> str:
    """Integer cents -> decimal string with two places ("-0.05", "12.30")."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def _iso_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class GoldTruth:
    """Per-key truth of one Gold table, accumulated batch by batch."""

    def __init__(self, table: GoldTable) -> None:
        if any(k.truth is None for k in table.keys):
            raise ValueError(f"gold table {table.name} declares no truth for its key")
        self.table = table
        self.measures = tuple(m for m in table.measures if m.truth is not None)
        self._parts: list[tuple[list[np.ndarray], dict[str, np.ndarray]]] = []

    def add(self, rows: Rows) -> None:
        """Account for a batch's unique valid events (`rows`: see model.Rows)."""
        if self.table.where_truth is not None:
            mask = self.table.where_truth(rows)
            rows = {name: values[mask] for name, values in rows.items()}
        if not len(rows["event_type"]):
            return
        keys = [np.asarray(k.truth(rows), dtype=np.int64) for k in self.table.keys]  # type: ignore[misc]
        values = {m.name: np.asarray(m.truth(rows), dtype=np.int64) for m in self.measures}  # type: ignore[misc]
        self._parts.append(self._group(keys, values))
        if len(self._parts) >= _MERGE_EVERY:
            self._parts = [self.merged()]

    def merged(self) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """(key columns, measure columns): one row per key, in key order."""
        if not self._parts:
            empty = np.zeros(0, dtype=np.int64)
            return [empty for _ in self.table.keys], {m.name: empty for m in self.measures}
        if len(self._parts) == 1:
            return self._parts[0]
        keys = [np.concatenate([p[0][i] for p in self._parts]) for i in range(len(self.table.keys))]
        values = {
            m.name: np.concatenate([p[1][m.name] for p in self._parts]) for m in self.measures
        }
        return self._group(keys, values)

    def _group(
        self, keys: list[np.ndarray], values: dict[str, np.ndarray]
    ) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Rows (or partial groups: every merge is associative) -> one row per key."""
        order = np.lexsort(keys[::-1])
        keys = [k[order] for k in keys]
        change = np.zeros(len(order), dtype=bool)
        change[:1] = True
        for k in keys:
            change[1:] |= k[1:] != k[:-1]
        starts = np.flatnonzero(change)
        out = {
            m.name: _REDUCE[m.merge].reduceat(values[m.name][order], starts) for m in self.measures
        }
        return [k[starts] for k in keys], out

    def rows(self, names: Mapping[str, Namer]) -> list[dict[str, Any]]:
        """The truth rows, sorted by their written keys; money and times as strings."""
        keys, values = self.merged()
        written = [
            _written_key(key.kind, column, names)
            for key, column in zip(self.table.keys, keys, strict=True)
        ]
        derived = {d.name: d.truth(values) for d in self.table.derived}
        columns = {
            **{k.name: w for k, w in zip(self.table.keys, written, strict=True)},
            **{m.name: _write(m.kind, values[m.name]) for m in self.measures},
            **{d.name: _write(d.kind, derived[d.name]) for d in self.table.derived},
        }
        fields, order = tuple(columns), _order(written)
        picked = [[col[j] for j in order] for col in columns.values()]
        return [dict(zip(fields, row, strict=True)) for row in zip(*picked, strict=True)]


def _order(written: list[list[Any]]) -> list[int]:
    """Row order by the written keys, as Python sorts the tuples of them.

    numpy sorts string columns in C; Python's sort on tuples was a quarter of the 2 s the
    daily table's truth took at 3M events. Keys that are not all strings sort in Python.
    """
    arrays = [np.array(w) for w in written]
    if not arrays or not len(arrays[0]):
        return []
    if any(a.dtype.kind not in "U" for a in arrays):
        n = len(written[0])
        return sorted(range(n), key=lambda j: tuple(w[j] for w in written))
    return np.lexsort(arrays[::-1]).tolist()


def _written_key(kind: str, column: np.ndarray, names: Mapping[str, Namer]) -> list[Any]:
    """A key column as the truth writes it; dates and hours through their few distinct values."""
    if kind not in ("date", "hour", "minute"):
        return list(names[kind](column))
    distinct, index = np.unique(column, return_inverse=True)
    if kind == "date":
        text = [(_EPOCH + timedelta(days=d)).isoformat() for d in distinct.tolist()]
    else:
        unit = HOUR_MS if kind == "hour" else 60_000
        text = [_iso_ms(v * unit)[:19] + "Z" for v in distinct.tolist()]
    return np.array(text, dtype=object)[index.ravel()].tolist()


def _write(kind: Kind, values: np.ndarray) -> list[Any]:
    """A measure column as the truth document writes it."""
    if kind == "money":
        return [format_money(c) for c in values.tolist()]
    if kind == "timestamp":
        return [_iso_ms(ms) for ms in values.tolist()]
    if kind == "bool":
        return [bool(v) for v in values.tolist()]
    return [int(v) for v in values.tolist()]


def comparable(table: GoldTable, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Truth rows or `render.truth_query` rows, money as Decimal and counts as int.

    Only the table's columns are kept, so the two sides compare exactly with `==`.
    """
    kinds: dict[str, Kind] = {m.name: m.kind for m in table.measures}
    kinds |= {d.name: d.kind for d in table.derived}
    keys = [k.name for k in table.keys]

    def value(name: str, v: Any) -> Any:
        kind = kinds.get(name)
        if v is None or kind is None:
            return v
        if kind == "money":
            return Decimal(str(v))
        return int(v) if kind == "int" else bool(v) if kind == "bool" else v

    return [{n: value(n, r[n]) for n in (*keys, *kinds)} for r in rows]
