"""The Gold tables' reference in docs/warehouse.md, rendered from their declarations."""

from __future__ import annotations

from shopstream.contract import TOTAL_SQL_TYPE
from shopstream.gold_tables.tables import GOLD_TABLES

_MERGES = {"sum": "summed", "min": "least", "max": "greatest", "latest": "latest non-null"}
Cell = tuple[str, str, str, str]  # column, SQL type, how batches merge, what it is


def _rows(label: str, cells: list[Cell]) -> list[str]:
    out = []
    for i, (name, sql_type, merge, doc) in enumerate(cells):
        kind = sql_type.replace("$total_type", TOTAL_SQL_TYPE)
        out.append(f"| {label if i == 0 else ''} | `{name}` | {kind} | {merge} | {doc} |")
    return out


def gold_tables() -> str:
    """One row per column of every Gold table and rollup: type, how batches merge, what."""
    rows = ["| table | column | type | across batches | what |", "|---|---|---|---|---|"]
    for table in GOLD_TABLES:
        rows += _rows(
            f"`{table.name}` ({table.doc})",
            [
                *((k.name, k.sql_type, "key", "") for k in table.keys),
                *((m.name, m.sql_type, _MERGES[m.merge], m.doc) for m in table.measures),
                *((d.name, d.sql_type, "from the merged row", d.doc) for d in table.derived),
            ],
        )
        for rollup in table.rollups:
            rows += _rows(
                f"`{rollup.name}` (rollup of `{table.name}`: {rollup.doc})",
                [
                    *((k.name, k.sql_type, "key", f"`{k.sql}`") for k in rollup.keys),
                    *((m.name, m.sql_type, "summed over rows", m.doc) for m in rollup.sums),
                ],
            )
    return "\n".join(rows) + "\n"
