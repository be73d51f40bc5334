"""The Gold tables' reference in docs/warehouse.md, rendered from their declarations."""

from __future__ import annotations

from shopstream.contract import TOTAL_SQL_TYPE
from shopstream.gold_tables.tables import GOLD_TABLES

_MERGES = {"sum": "summed", "min": "least", "max": "greatest", "latest": "latest non-null"}


def gold_tables() -> str:
    """One row per column of every Gold table: type, how batches merge, what it is."""
    rows = ["| table | column | type | across batches | what |", "|---|---|---|---|---|"]
    for table in GOLD_TABLES:
        cells = [
            *((k.name, k.sql_type, "key", "") for k in table.keys),
            *((m.name, m.sql_type, _MERGES[m.merge], m.doc) for m in table.measures),
            *((d.name, d.sql_type, "from the merged row", d.doc) for d in table.derived),
        ]
        for i, (name, sql_type, merge, doc) in enumerate(cells):
            label = f"`{table.name}` ({table.doc})" if i == 0 else ""
            kind = sql_type.replace("$total_type", TOTAL_SQL_TYPE)
            rows.append(f"| {label} | `{name}` | {kind} | {merge} | {doc} |")
    return "\n".join(rows) + "\n"
