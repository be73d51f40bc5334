"""Which statements the read-only endpoint runs, answers itself, or refuses (pure rules).

An allow-list: a statement runs on DuckDB only if its first keyword is a read (SELECT,
WITH, FROM, VALUES, SHOW, DESCRIBE, EXPLAIN, SUMMARIZE, PIVOT) and sqlglot's tree of it
holds no file or URL read, no query-in-a-string, no SELECT INTO. Session statements that
clients send on connect (SET datestyle, BEGIN, DISCARD ALL...) are answered without
touching DuckDB. Everything else is refused with SQLSTATE 25006 (read-only) or 42501.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

Kind = Literal[
    "read", "empty", "set", "show", "begin", "commit", "rollback", "savepoint", "rollback_to",
    "noop", "refused",
]  # fmt: skip

READ_ONLY = "25006"  # read_only_sql_transaction
PRIVILEGE = "42501"  # insufficient_privilege
SYNTAX = "42601"  # syntax_error


@dataclass(frozen=True)
class Statement:
    """One classified statement; `tag` is the CommandComplete tag for answered ones."""

    kind: Kind
    sql: str
    tag: str = ""
    name: str = ""
    value: str = ""
    code: str = ""
    reason: str = ""


_READ_WORDS = {"SELECT", "WITH", "FROM", "VALUES", "TABLE", "SHOW", "DESCRIBE", "DESC",
               "EXPLAIN", "SUMMARIZE", "PIVOT", "UNPIVOT", "("}  # fmt: skip
# Settings a client may set: they change how it talks, not what DuckDB does.
CLIENT_SETTINGS = {
    "application_name", "datestyle", "extra_float_digits", "client_encoding", "intervalstyle",
    "timezone", "search_path", "statement_timeout", "client_min_messages", "bytea_output",
    "standard_conforming_strings", "lc_messages", "lc_monetary", "lc_numeric", "lc_time",
    "idle_in_transaction_session_timeout", "lock_timeout", "default_transaction_read_only",
    "transaction_isolation", "default_transaction_isolation", "jit", "geqo", "names",
    "session characteristics", "transaction", "role", "session authorization",
    "max_parallel_workers_per_gather", "work_mem", "time zone", "xmloption", "row_security",
}  # fmt: skip
# Table and scalar functions that reach files, URLs, the environment or run SQL text.
_EXTERNAL = re.compile(
    r"^(read_\w+|\w+_scan|glob|query|query_table|getenv|sniff_csv|parquet_\w+|iceberg_\w+|"
    r"delta_\w+|ducklake_\w+|\w+_attach|\w+_query|which_secret|duckdb_secrets|"
    r"load_aws_credentials|json_execute_serialized_sql|sql_auto_complete|\w+_extension\w*)$",
    re.IGNORECASE,
)
_DENIED_WORDS = {
    "INSERT": "INSERT", "UPDATE": "UPDATE", "DELETE": "DELETE", "MERGE": "MERGE",
    "UPSERT": "UPSERT", "TRUNCATE": "TRUNCATE", "CREATE": "DDL (CREATE)", "DROP": "DDL (DROP)",
    "ALTER": "DDL (ALTER)", "COMMENT": "COMMENT", "ATTACH": "ATTACH", "DETACH": "DETACH",
    "COPY": "COPY", "INSTALL": "INSTALL", "LOAD": "LOAD", "FORCE": "INSTALL", "PRAGMA": "PRAGMA",
    "CALL": "CALL", "EXPORT": "EXPORT", "IMPORT": "IMPORT", "CHECKPOINT": "CHECKPOINT",
    "FORCE CHECKPOINT": "CHECKPOINT", "VACUUM": "VACUUM", "ANALYZE": "ANALYZE", "USE": "USE",
    "GRANT": "GRANT", "REVOKE": "REVOKE", "PREPARE": "PREPARE", "EXECUTE": "EXECUTE",
    "UPDATE_EXTENSIONS": "UPDATE EXTENSIONS",
}  # fmt: skip
_ALLOWED_ROOTS = (
    exp.Select, exp.SetOperation, exp.Values, exp.Describe, exp.Show, exp.Summarize,
    exp.Pivot, exp.Subquery, exp.Table,
)  # fmt: skip
_WRITES = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Copy,
    exp.Command, exp.TruncateTable, exp.Set, exp.Pragma, exp.Use, exp.Install, exp.Attach,
    exp.Detach,
)  # fmt: skip
HINT = "The SQL endpoint is read-only: SELECT, WITH, SHOW, DESCRIBE and EXPLAIN only."


def split(sql: str) -> list[str]:
    """Split a query string into statements at top-level semicolons (comments kept)."""
    try:
        tokens = sqlglot.tokenize(sql, read="duckdb")
    except TokenError:
        return [sql] if sql.strip() else []
    parts, start = [], 0
    for tok in tokens:
        if tok.token_type == TokenType.SEMICOLON:
            parts.append(sql[start : tok.start])
            start = tok.end + 1
    parts.append(sql[start:])
    return [p for p in parts if _strip_comments(p).strip()]


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL)


def _refuse(sql: str, what: str, code: str = READ_ONLY) -> Statement:
    if code == READ_ONLY:
        reason = f"{what} is not allowed: the shopstream SQL endpoint is read-only."
    else:
        reason = f"{what} is not allowed on the shopstream SQL endpoint."
    return Statement("refused", sql, code=code, reason=reason)


def classify(sql: str) -> Statement:
    """Decide what to do with one statement (see the module docstring)."""
    text = _strip_comments(sql).strip()
    if not text:
        return Statement("empty", sql)
    words = re.findall(r"[A-Za-z_]+|\(", text)
    first = words[0].upper() if words else text[:1]
    second = words[1].upper() if len(words) > 1 else ""
    if first in ("BEGIN", "START"):
        return Statement("begin", sql, tag="BEGIN")
    if first in ("COMMIT", "END"):
        return Statement("commit", sql, tag="COMMIT")
    if first in ("ROLLBACK", "ABORT") and second == "TO":
        return Statement("rollback_to", sql, tag="ROLLBACK")
    if first in ("SAVEPOINT", "RELEASE"):
        # Nothing to undo in a read-only transaction: savepoints are bookkeeping only.
        return Statement("savepoint", sql, tag=first)
    if first in ("ROLLBACK", "ABORT"):
        return Statement("rollback", sql, tag="ROLLBACK")
    if first in ("SET", "RESET"):
        return _classify_set(sql, text, first)
    if first == "DISCARD" or (first == "DEALLOCATE"):
        return Statement("noop", sql, tag=f"{first}{' ALL' if second == 'ALL' else ''}")
    if first == "SHOW":
        return _classify_show(sql, text)
    if first == "EXPLAIN":
        inner = re.sub(r"^\s*EXPLAIN(\s+ANALY[SZ]E)?", "", text, flags=re.IGNORECASE)
        checked = classify(inner)
        return checked if checked.kind == "refused" else Statement("read", sql)
    if first in _DENIED_WORDS:
        return _refuse(sql, _DENIED_WORDS[first])
    if first not in _READ_WORDS:
        return _refuse(sql, f"{first} statement")
    return _check_tree(sql, text)


def _classify_set(sql: str, text: str, verb: str) -> Statement:
    m = re.match(
        r"^(?:SET|RESET)\s+(?:(?:SESSION|LOCAL)\s+(?!CHARACTERISTICS|AUTHORIZATION))?"
        r"(session characteristics|session authorization|time zone|transaction|[\w.]+)"
        r"(?:\s*(?:=|\bTO\b)\s*|\s+)?(.*)$",
        text,
        flags=re.IGNORECASE | re.DOTALL,
    )
    name = m[1].lower() if m else ""
    if name == "all" and verb == "RESET":
        return Statement("set", sql, tag="RESET", name="all")
    if name not in CLIENT_SETTINGS:
        return _refuse(sql, f"{verb} {name or text}", PRIVILEGE)
    value = (m[2] if m else "").strip().strip("'\"") if verb == "SET" else ""
    return Statement("set", sql, tag=verb, name=name, value=value)


def _classify_show(sql: str, text: str) -> Statement:
    """`SHOW <parameter>`: answered from the session if PostgreSQL's, else DuckDB's SHOW."""
    name = " ".join(re.sub(r"^SHOW\s+", "", text, flags=re.IGNORECASE).split()).lower()
    if re.fullmatch(r'[\w." ]+', name) is None:
        return _refuse(sql, f"SHOW {name}", PRIVILEGE)
    return Statement("show", sql, tag="SHOW", name=name)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    return node.sql_name()


def _check_tree(sql: str, text: str) -> Statement:
    tree = None
    for dialect in ("duckdb", "postgres"):
        try:
            tree = sqlglot.parse_one(text, read=dialect)
            break
        except (ParseError, TokenError):
            continue
    if tree is None:
        return Statement(
            "refused",
            sql,
            code=SYNTAX,
            reason="the SQL endpoint could not parse this statement, so it cannot check it "
            "is read-only; simplify it (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN).",
        )
    if not isinstance(tree, _ALLOWED_ROOTS):
        return _refuse(sql, f"{type(tree).__name__.upper()} statement")
    for node in tree.walk():
        if isinstance(node, _WRITES):
            return _refuse(sql, f"{type(node).__name__.upper()} inside a query")
        if isinstance(node, exp.Into):
            return _refuse(sql, "SELECT INTO")
        if isinstance(node, exp.Func) and _EXTERNAL.match(_function_name(node)):
            return _refuse(sql, f"reading files, URLs or SQL text ({_function_name(node)})",
                           PRIVILEGE)  # fmt: skip
        if isinstance(node, exp.Table) and _looks_like_a_path(node):
            return _refuse(sql, f"reading the file {node.name!r}", PRIVILEGE)
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Literal):
            return _refuse(sql, f"reading the file {node.this.this!r}", PRIVILEGE)
    return Statement("read", sql)


def _looks_like_a_path(table: exp.Table) -> bool:
    """DuckDB reads `FROM 'x.csv'` / `FROM "s3://b/k"` as a file (a replacement scan)."""
    ident = table.this
    if not isinstance(ident, exp.Identifier):
        return False
    return bool(re.search(r"[./\\:*?]", str(ident.this)))
