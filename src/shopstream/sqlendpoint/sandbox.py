"""The second check: DuckDB's own parser must see one read, over allowed table functions only.

The guard reads sqlglot's tokens; this reads the parse tree DuckDB itself builds of the
exact text it will run (`json_serialize_sql`, which serializes SELECT statements only), so
nothing can look like one thing to the check and another to the engine. A statement runs
only if DuckDB parses it as exactly one SELECT (or an EXPLAIN of one) whose table
references are tables, views, subqueries, joins, VALUES, DESCRIBE/SHOW/SUMMARIZE and the
table functions in `ALLOWED_TABLE_FUNCTIONS`: an allow-list, so a table function added by a
later DuckDB is refused until it is judged. Scalar functions are not listed: none reaches a
file or a setting once the writer's instance is locked (`warehouse.duckdb.lock_down`), which
is the sandbox; this check is the second line, and the one that names what was refused.

Measured on DuckDB 2.0.1: serializing a 1 MB `IN (...)` list took 1.9 s and its 22 MB of
JSON 1.6 s to load; a tree nested deeper than DuckDB's `max_expression_depth` (1,000) is a
parser error, answered as SQLSTATE 54001.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb

from shopstream.sqlendpoint import guard
from shopstream.sqlendpoint.errors import PgError

TOO_COMPLEX = "54001"  # statement_too_complex
# Table functions that compute rows or describe the catalog; none reads a file, a URL, the
# environment or a setting's value, runs SQL text or changes state.
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "json_each", "json_tree", "repeat",
    "duckdb_tables", "duckdb_views", "duckdb_columns", "duckdb_schemas", "duckdb_types",
    "duckdb_constraints", "duckdb_indexes", "duckdb_functions", "duckdb_keywords",
    "duckdb_dependencies", "duckdb_sequences", "pragma_table_info", "pragma_show",
})  # fmt: skip
# DuckDB's table reference kinds a read may use (anything else is refused, e.g. a kind a
# later DuckDB adds).
_TABLE_REFS = {"BASE_TABLE", "TABLE_FUNCTION", "SUBQUERY", "JOIN", "EMPTY", "EXPRESSION_LIST",
               "SHOW_REF", "PIVOT"}  # fmt: skip
_READ_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_PATH_CHARACTERS = set("/\\:*?")


def check_read(cur: duckdb.DuckDBPyConnection, sql: str, explained: str | None = None) -> None:
    """Raise PgError unless DuckDB reads `sql` as one allowed read (see the module docstring).

    `explained` is the statement an EXPLAIN wraps (the guard found it), checked as a SELECT.
    """
    try:
        statements = cur.extract_statements(sql)
    except duckdb.ParserException as err:
        raise _parser_error(str(err)) from None
    if len(statements) != 1 or statements[0].type not in _READ_TYPES:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise PgError(
            guard.READ_ONLY,
            f"DuckDB reads this as {kinds}: only one read statement is allowed here.",
            hint=guard.HINT,
        )
    if statements[0].type == duckdb.StatementType.EXPLAIN:
        if explained is None:
            raise PgError(guard.READ_ONLY, "EXPLAIN of this statement is not allowed.")
        sql = explained
    check_tree(_tree(cur, sql))


def _tree(cur: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    (text,) = cur.execute("SELECT json_serialize_sql(?)", [sql]).fetchone() or ("{}",)
    try:
        tree = json.loads(text)
    except RecursionError:
        raise too_complex() from None
    if tree.get("error"):
        message = str(tree.get("error_message", "DuckDB could not serialize the statement"))
        if tree.get("error_type") == "parser":
            raise _parser_error(message)
        raise PgError(
            guard.READ_ONLY,
            f"DuckDB does not read this as one SELECT ({message}).",
            hint=guard.HINT,
        )
    if len(tree.get("statements", [])) != 1:
        raise PgError(guard.READ_ONLY, "only one read statement is allowed here.")
    return tree


def check_tree(tree: dict[str, Any]) -> None:
    """Every table reference of a serialized SELECT is allowed, or PgError naming the first."""
    for ref in _table_refs(tree):
        kind = ref.get("type")
        if kind not in _TABLE_REFS:
            raise PgError(guard.PRIVILEGE, f"a {kind} table reference is not allowed here.")
        if kind == "TABLE_FUNCTION":
            name = str((ref.get("function") or {}).get("function_name", "")).lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise PgError(
                    guard.PRIVILEGE,
                    f"the table function {name}() is not allowed on the shopstream SQL "
                    "endpoint: it can read files, URLs, settings or SQL text, or change state.",
                    hint=guard.HINT,
                )
        if kind == "BASE_TABLE" and _PATH_CHARACTERS & set(str(ref.get("table_name", ""))):
            # DuckDB would read `FROM '/x.csv'` as a file (refused by the engine anyway):
            # say so plainly instead of "table does not exist".
            raise PgError(
                guard.PRIVILEGE,
                f"reading the file {ref.get('table_name')!r} is not allowed on the shopstream "
                "SQL endpoint.",
                hint=guard.HINT,
            )


def _table_refs(tree: Any) -> Iterator[dict[str, Any]]:
    """The table references anywhere in a serialized statement (iteratively: trees are deep).

    DuckDB serializes a table reference as an object with a `sample` key and no `class`
    (expressions have a `class`, query nodes `modifiers`).
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "sample" in node and "type" in node and not {"class", "modifiers"} & node.keys():
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _parser_error(message: str) -> PgError:
    if "expression depth" in message.lower():
        return too_complex()
    first = message.strip().splitlines()[0] if message.strip() else "syntax error"
    return PgError(guard.SYNTAX, first)


def too_complex() -> PgError:
    return PgError(
        TOO_COMPLEX,
        "statement too complex: it is nested deeper than the SQL endpoint parses "
        "(DuckDB's limit is 1,000 levels).",
    )
