"""SQL written once (DuckDB dialect, files in `sql/`) and rendered per warehouse by sqlglot.

Templates use `$name` placeholders for what derives from `contract.py` (column lists, the
customer tiers), so the warehouse follows the contract without a second copy of it.

Examples:
    >>> stmts = schema_statements("snowflake")
    >>> any("CREATE TABLE IF NOT EXISTS silver_events" in s for s in stmts)
    True
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template
from typing import Literal

import sqlglot

from shopstream.contract import (
    CLEAN_FIELDS,
    DEAD_LETTER_FIELDS,
    TIER_MIN_REVENUE,
    TOTAL_PRECISION,
    TOTAL_SQL_TYPE,
    Field,
    field_names,
)
from shopstream.gold_tables.model import GoldTable
from shopstream.gold_tables.render import (
    backfill_statement,
    commit_blocks,
    create_rollup,
    create_table,
    rollup_backfill,
)
from shopstream.gold_tables.tables import GOLD_TABLE_NAMES, GOLD_TABLES

Dialect = Literal["duckdb", "snowflake"]

Tables = tuple[GoldTable, ...]

TABLES = (
    "silver_events",
    "clean_sources",
    *GOLD_TABLE_NAMES,
    "dead_letter_events",
    "dead_letter_reasons",
    "dead_letter_samples",
    "dead_letter_minutes",
    "alerts",
    "pipeline_batches",
)
VIEWS = (
    "event_funnel",
    "daily_customer_revenue",
    "hourly_trends",
    "real_time_customer_metrics",
    "top_customers",
    "kpis",
    "revenue_by_category",
    "dead_letter_counts",
    "pipeline_counts",
    "session_funnel",
    "product_performance",
    "top_products",
)

# Columns renamed since a schema was released: (table, old name, new name), applied in order
# by `Warehouse.init` wherever the old column still exists, so any older warehouse reaches
# the current schema with its rows. Append; never edit a released entry.
COLUMN_RENAMES: tuple[tuple[str, str, str], ...] = (
    # product_daily_metrics now uses the other gold tables' counter names.
    ("product_daily_metrics", "views", "page_views"),
    ("product_daily_metrics", "carts", "add_to_cart_count"),
    ("product_daily_metrics", "purchases", "purchase_count"),
    ("product_daily_metrics", "revenue", "total_revenue"),
)
# Columns added since a schema was released: (table, column, DuckDB type), added by
# `Warehouse.init` wherever missing. Append; never edit a released entry.
COLUMN_ADDITIONS: tuple[tuple[str, str, str], ...] = (
    # Accepted retention gaps (--accept-data-loss), see sql/schema.sql.
    ("pipeline_batches", "lost_records", "BIGINT"),
    ("pipeline_batches", "data_loss", "VARCHAR"),
    # The business alerts' traffic count (gold_tables.tables.ON_TIME_EVENTS).
    ("minute_metrics", "on_time_events", "BIGINT"),
)
# Money totals widened since a schema was released: (table, column), each brought to
# contract.TOTAL_SQL_TYPE by `Warehouse.init` wherever its precision is lower (rows kept).
WIDENED_TOTALS: tuple[tuple[str, str], ...] = (
    ("customer_daily_metrics", "total_revenue"),
    ("hourly_metrics", "total_revenue"),
    ("product_daily_metrics", "total_revenue"),
)
# Lower-case column names of one table (the parameter) in the session's database.schema,
# with their numeric precision (NULL for non-numeric columns).
_TABLE_COLUMNS = (
    "SELECT LOWER(column_name), numeric_precision FROM information_schema.columns "
    "WHERE LOWER(table_name) = ? AND table_catalog = CURRENT_DATABASE() "
    "AND table_schema = CURRENT_SCHEMA()"
)

# Dead letters kept per reason in dead_letter_samples: the most /api/dead-letters shows.
DEAD_LETTER_SAMPLES = 50
# The commit's statements after insert_dead_letters (sql/commit.sql), each with whether it
# takes `now`: the per-reason counts, the per-minute counts (alerts) and the samples.
DEAD_LETTER_SUMMARY_STEPS: tuple[tuple[str, bool], ...] = (
    ("update_dead_letter_reasons", True),
    ("insert_dead_letter_reasons", True),
    ("update_dead_letter_minutes", False),
    ("insert_dead_letter_minutes", False),
    ("insert_dead_letter_samples", False),
    ("trim_dead_letter_samples", False),
)

_BLOCK = re.compile(r"^-- (name|fragment): (\w+)\s*$", re.MULTILINE)


def _column_defs(fields: tuple[Field, ...], *, constraints: bool) -> str:
    """`name TYPE [NOT NULL], ...` for a contract field table."""
    return ",\n    ".join(
        f"{f.name} {f.sql_type}" + (" NOT NULL" if constraints and f.required else "")
        for f in fields
    )


def tier_case(revenue: str) -> str:
    """SQL CASE naming the customer tier (contract.TIER_MIN_REVENUE) of a revenue column.

    Examples:
        >>> print(tier_case("r"))  # doctest: +NORMALIZE_WHITESPACE
        CASE WHEN r >= 1000 THEN 'VIP' WHEN r >= 500 THEN 'Premium'
             WHEN r >= 100 THEN 'Regular' ELSE 'New' END
    """
    *ranked, (lowest, _) = TIER_MIN_REVENUE.items()
    whens = " ".join(f"WHEN {revenue} >= {low} THEN '{tier}'" for tier, low in ranked)
    return f"CASE {whens} ELSE '{lowest}' END"


def _gold_schema(table: GoldTable) -> str:
    """A Gold table's and its rollups' CREATE and backfill statements (rollups after it)."""
    rollups = "".join(create_rollup(r) + rollup_backfill(table, r) for r in table.rollups)
    return create_table(table) + backfill_statement(table) + rollups


def _placeholders(tables: Tables) -> dict[str, str]:
    """Column lists and rules derived from the contract and the Gold declarations."""
    return {
        "gold_tables": "\n".join(_gold_schema(t) for t in tables),
        "gold_commit": "\n".join(commit_blocks(t) for t in tables),
        "silver_events_columns": _column_defs(CLEAN_FIELDS, constraints=True),
        "dead_letter_columns": ", ".join(field_names(DEAD_LETTER_FIELDS)),
        "event_columns": ", ".join(field_names(CLEAN_FIELDS)),
        # Stage tables have no NOT NULL: bad rows must fail at the target, inside the
        # transaction, so a failure always rolls back as one unit.
        "stage_event_columns": _column_defs(CLEAN_FIELDS, constraints=False),
        "stage_dead_letter_columns": _column_defs(DEAD_LETTER_FIELDS, constraints=False),
        "dead_letter_names": ", ".join(field_names(DEAD_LETTER_FIELDS)),
        "dead_letter_samples": str(DEAD_LETTER_SAMPLES),
        "customer_tier": tier_case("total_revenue"),
        "total_type": TOTAL_SQL_TYPE,
    }


def _source(name: str, tables: Tables = GOLD_TABLES) -> str:
    """A SQL file of the package with the contract column lists and Gold tables filled in."""
    text = resources.files("shopstream.warehouse.sql").joinpath(name).read_text("utf-8")
    # schema.sql uses $dead_letter_columns as a DDL list, commit.sql as a name list.
    subs = _placeholders(tables)
    if name == "schema.sql":
        subs["dead_letter_columns"] = _column_defs(DEAD_LETTER_FIELDS, constraints=True)
    # safe_: commit.sql's `$fragment` references are filled later by commit_statements,
    # which substitutes strictly, as does schema_statements via _strict.
    return Template(text).safe_substitute(subs)


def _strict(sql: str) -> str:
    """`sql` unchanged, or an error if a placeholder was left unfilled."""
    if "$" in sql:
        raise ValueError(f"unfilled placeholder in warehouse SQL: {sql[sql.index('$') :][:40]}")
    return sql


def render(sql: str, dialect: Dialect) -> list[str]:
    """Split DuckDB-dialect SQL into statements written in `dialect`."""
    return [
        s for s in sqlglot.transpile(sql, read="duckdb", write=dialect, comments=False) if s.strip()
    ]


@cache
def schema_statements(dialect: Dialect, tables: Tables = GOLD_TABLES) -> tuple[str, ...]:
    """CREATE TABLE IF NOT EXISTS + CREATE OR REPLACE VIEW statements, in order."""
    text = _strict(_source("schema.sql", tables)) + "\n" + _strict(_source("views.sql", tables))
    return tuple(render(text, dialect))


@cache
def expected_columns(tables: Tables = GOLD_TABLES) -> dict[str, frozenset[str]]:
    """Each table's columns as schema.sql creates them (lower case), for the schema check."""
    out = {}
    for stmt in sqlglot.parse(_strict(_source("schema.sql", tables)), read="duckdb"):
        if isinstance(stmt, sqlglot.exp.Create) and isinstance(stmt.this, sqlglot.exp.Schema):
            table = stmt.this.this.name.lower()
            out[table] = frozenset(
                c.name.lower()
                for c in stmt.this.expressions
                if isinstance(c, sqlglot.exp.ColumnDef)
            )
    return out


@cache
def table_columns_query(dialect: Dialect) -> str:
    """SQL listing one table's column names (lower case); the table name is the parameter."""
    (stmt,) = render(_TABLE_COLUMNS, dialect)
    return stmt


def rename_column_statement(dialect: Dialect, table: str, old: str, new: str) -> str:
    """ALTER TABLE ... RENAME COLUMN in `dialect` (both warehouses support it).

    Examples:
        >>> rename_column_statement("snowflake", "t", "views", "page_views")
        'ALTER TABLE t RENAME COLUMN views TO page_views'
    """
    (stmt,) = render(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}", dialect)
    return stmt


def add_column_statement(dialect: Dialect, table: str, column: str, sql_type: str) -> str:
    """ALTER TABLE ... ADD COLUMN in `dialect`.

    Examples:
        >>> add_column_statement("snowflake", "t", "lost_records", "BIGINT")
        'ALTER TABLE t ADD lost_records BIGINT'
    """
    (stmt,) = render(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}", dialect)
    return stmt


def widen_total_statement(dialect: Dialect, table: str, column: str) -> str:
    """ALTER TABLE ... to the money-total type (a wider DECIMAL keeps every value exactly).

    Examples:
        >>> widen_total_statement("snowflake", "t", "total_revenue")
        'ALTER TABLE t ALTER COLUMN total_revenue SET DATA TYPE DECIMAL(38, 2)'
    """
    (stmt,) = render(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {TOTAL_SQL_TYPE}", dialect)
    return stmt


def needs_widening(precision: object) -> bool:
    """Is a stored total's numeric precision below the contract's (pure)?"""
    return precision is not None and int(str(precision)) < TOTAL_PRECISION


@cache
def commit_statements(dialect: Dialect, tables: Tables = GOLD_TABLES) -> dict[str, str]:
    """The named statements of the batch commit (see sql/commit.sql), rendered.

    `-- fragment: x` blocks are SQL snippets spliced into later statements as `$x`, so the
    per-batch aggregates are written once for both halves of an upsert. `tables` are the
    Gold tables upserted (a test may declare others).
    """
    return named_statements("commit.sql", dialect, tables)


@cache
def lease_statements(dialect: Dialect) -> dict[str, str]:
    """The named statements of the writer lease (see sql/lease.sql), rendered."""
    return named_statements("lease.sql", dialect)


def named_statements(name: str, dialect: Dialect, tables: Tables = GOLD_TABLES) -> dict[str, str]:
    """`-- name:` blocks of one SQL file (with `-- fragment:` splicing), rendered."""
    parts = _BLOCK.split(_source(name, tables))
    fragments: dict[str, str] = {}
    out: dict[str, str] = {}
    for kind, block, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        body = _strip_comments(body)
        if kind == "fragment":
            fragments[block] = body.strip().rstrip(";")
        else:
            (stmt,) = render(Template(body).substitute(fragments), dialect)
            out[block] = stmt
    return out


def _strip_comments(sql: str) -> str:
    """Drop `--` comment lines (they may mention placeholders)."""
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
