"""Enough of PostgreSQL's catalog for psql, drivers and BI tools to list and describe views.

DuckDB ships a `pg_catalog` schema (pg_class, pg_attribute, pg_type, pg_namespace, ...) and
most `pg_*` functions; what clients still need is created per serving cursor as TEMP macros
and views (`session_setup`), and the PostgreSQL-only syntax in their catalog queries
(`OPERATOR(pg_catalog.~)`, `COLLATE pg_catalog.default`, `::regclass`, `pg_catalog.version()`)
is rewritten by sqlglot (`rewrite`). Ordinary queries are not rewritten: they run verbatim.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

PG_VERSION = "16.0"
DATABASE = "shopstream"


def version_string(duckdb_version: str) -> str:
    """What `version()` says: PostgreSQL's shape (drivers parse it), DuckDB named inside."""
    return f"PostgreSQL {PG_VERSION} (shopstream, DuckDB {duckdb_version}) on x86_64, 64-bit"


# PostgreSQL parameters sent on connect and answered by SHOW / current_setting.
def parameters(user: str, application_name: str = "") -> dict[str, str]:
    return {
        "server_version": PG_VERSION,
        "server_version_num": "160000",
        "server_encoding": "UTF8",
        "client_encoding": "UTF8",
        "DateStyle": "ISO, MDY",
        "IntervalStyle": "postgres",
        "TimeZone": "UTC",
        "integer_datetimes": "on",
        "standard_conforming_strings": "on",
        "is_superuser": "off",
        "session_authorization": user,
        "application_name": application_name,
        "default_transaction_read_only": "on",
        "in_hot_standby": "off",
    }


# Answers to SHOW of PostgreSQL settings DuckDB does not know (lower-case names).
SHOW_EXTRA = {
    "transaction isolation level": "read committed",
    "transaction_isolation": "read committed",
    "default_transaction_isolation": "read committed",
    "transaction_read_only": "on",
    "search_path": '"$user", public',
    "max_identifier_length": "63",
    "lc_collate": "C.UTF-8",
    "lc_ctype": "C.UTF-8",
    "extra_float_digits": "3",
    "statement_timeout": "0",
    "max_connections": "100",
    "default_table_access_method": "heap",
}


def show_column(name: str) -> str:
    """The column name PostgreSQL gives a SHOW's answer."""
    return "transaction_isolation" if name == "transaction isolation level" else name


def _empty_view(name: str, columns: str) -> str:
    cols = ", ".join(f"NULL::{t} AS {c}" for c, t in (p.split() for p in columns.split(",")))
    return f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {cols} WHERE false"


# Catalog relations clients join that DuckDB lacks; all empty (no roles, inheritance, ...).
_EMPTY_VIEWS = {
    "pg_inherits": "inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN",
    "pg_policy": "oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR, "
    "polpermissive BOOLEAN, polroles BIGINT[], polqual VARCHAR, polwithcheck VARCHAR",
    "pg_statistic_ext": "oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT, "
    "stxkeys INTEGER[], stxkind VARCHAR[], stxstattarget INTEGER",
    "pg_publication": "oid BIGINT, pubname VARCHAR, puballtables BOOLEAN, pubinsert BOOLEAN",
    "pg_publication_rel": "oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, "
    "prattrs INTEGER[]",
    "pg_publication_namespace": "oid BIGINT, pnpubid BIGINT, pnnspid BIGINT",
    "pg_trigger": "oid BIGINT, tgrelid BIGINT, tgname VARCHAR, tgenabled VARCHAR, "
    "tgisinternal BOOLEAN, tgparentid BIGINT",
    "pg_rewrite": "oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR",
    "pg_foreign_table": "ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]",
    "pg_partitioned_table": "partrelid BIGINT, partstrat VARCHAR, partnatts INTEGER",
    "pg_matviews": "schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, "
    "definition VARCHAR",
    "pg_range": "rngtypid BIGINT, rngsubtype BIGINT, rngmultitypid BIGINT",
    "pg_extension": "oid BIGINT, extname VARCHAR, extowner BIGINT, extnamespace BIGINT, "
    "extversion VARCHAR",
    "pg_event_trigger": "oid BIGINT, evtname VARCHAR, evtevent VARCHAR",
    "pg_opclass": "oid BIGINT, opcname VARCHAR, opcdefault BOOLEAN, opcmethod BIGINT",
    "pg_auth_members": "roleid BIGINT, member BIGINT, grantor BIGINT, admin_option BOOLEAN",
    "pg_stat_activity": "datid BIGINT, datname VARCHAR, pid INTEGER, usename VARCHAR, "
    "application_name VARCHAR, state VARCHAR, query VARCHAR",
}


# DuckDB's catalog relations, with the columns it lacks and clients read (as constants).
_EXTENDED_VIEWS = {
    "pg_class": "false AS relforcerowsecurity",
    "pg_attribute": "NULL::VARCHAR AS attcompression_name",
    "pg_index": "false AS indnullsnotdistinct",
    "pg_collation": "0::BIGINT AS collnamespace, 'c' AS collprovider, true AS collisdeterministic",
}
# information_schema views that list objects, and their catalog column.
_INFORMATION_SCHEMA = {
    "tables": "table_catalog",
    "columns": "table_catalog",
    "views": "table_catalog",
    "schemata": "catalog_name",
    "table_constraints": "table_catalog",
    "key_column_usage": "table_catalog",
}

# Columns DuckDB has but as an untyped NULL, which array functions reject.
_REPLACE = {
    "pg_class": "REPLACE (NULL::VARCHAR[] AS reloptions)",
    # DuckDB writes numeric(p,s)'s modifier as p*1000+s; PostgreSQL as ((p<<16)|s)+4.
    "pg_attribute": "REPLACE (CASE WHEN atttypid = 1700 AND atttypmod > 0 THEN "
    "(((atttypmod // 1000) << 16) | (atttypmod % 1000)) + 4 ELSE atttypmod END AS atttypmod, "
    "'p' AS attstorage)",
}
_DATABASE_EXTRA = (
    "'UTF8' AS encoding_name, 6 AS encoding, 'C.UTF-8' AS datcollate, "
    "'C.UTF-8' AS datctype, 'c' AS datlocprovider, NULL AS daticulocale, NULL AS daticurules, "
    "NULL AS datacl, 10::BIGINT AS datdba, -1 AS datconnlimit, 0::BIGINT AS dattablespace"
)


# PostgreSQL's names for our column types (DuckDB's format_type says int8, varchar...).
_FORMAT_TYPE = (
    "WHEN t = 16 THEN 'boolean' WHEN t = 20 THEN 'bigint' WHEN t = 21 THEN 'smallint' "
    "WHEN t = 23 THEN 'integer' WHEN t = 25 THEN 'text' WHEN t = 700 THEN 'real' "
    "WHEN t = 701 THEN 'double precision' WHEN t = 1043 THEN 'character varying' "
    "WHEN t = 1082 THEN 'date' WHEN t = 1083 THEN 'time without time zone' "
    "WHEN t = 1114 THEN 'timestamp without time zone' "
    "WHEN t = 1184 THEN 'timestamp with time zone' WHEN t = 1186 THEN 'interval' "
    "WHEN t = 1700 AND m > 4 THEN "
    "'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')' "
    "WHEN t = 1700 THEN 'numeric' WHEN t = 2950 THEN 'uuid'"
)


def session_setup(user: str, duckdb_version: str, pid: int) -> list[str]:
    """TEMP macros and views for one serving cursor (temp objects are per cursor)."""
    quoted_user = user.replace("'", "''")
    settings = {**parameters(user), **SHOW_EXTRA}
    cases = " ".join(
        f"WHEN lower(name) = '{k.lower()}' THEN '{v.replace(chr(39), chr(39) * 2)}'"
        for k, v in settings.items()
    )
    stmts = [
        f"CREATE OR REPLACE TEMP MACRO version() AS '{version_string(duckdb_version)}'",
        f"CREATE OR REPLACE TEMP MACRO pg_get_userbyid(id) AS '{quoted_user}'",
        f"CREATE OR REPLACE TEMP MACRO current_user() AS '{quoted_user}'",
        f"CREATE OR REPLACE TEMP MACRO session_user() AS '{quoted_user}'",
        # One statement: a second CREATE OR REPLACE would drop the first overload.
        f"CREATE OR REPLACE TEMP MACRO current_setting(name) AS CASE {cases} ELSE NULL END, "
        f"(name, missing_ok) AS CASE {cases} ELSE NULL END",
        f"CREATE OR REPLACE TEMP MACRO pg_backend_pid() AS {pid}",
        "CREATE OR REPLACE TEMP MACRO pg_encoding_to_char(enc) AS 'UTF8'",
        "CREATE OR REPLACE TEMP MACRO pg_is_in_recovery() AS false",
        "CREATE OR REPLACE TEMP MACRO txid_current() AS 0",
        "CREATE OR REPLACE TEMP MACRO pg_relation_size(rel) AS 0",
        "CREATE OR REPLACE TEMP MACRO pg_total_relation_size(rel) AS 0",
        "CREATE OR REPLACE TEMP MACRO pg_table_size(rel) AS 0",
        "CREATE OR REPLACE TEMP MACRO pg_get_partkeydef(rel) AS NULL",
        "CREATE OR REPLACE TEMP MACRO pg_get_indexdef(idx) AS NULL, (idx, col, pretty) AS NULL",
        "CREATE OR REPLACE TEMP MACRO pg_get_expr(expr, rel) AS expr, (expr, rel, pretty) AS expr",
        "CREATE OR REPLACE TEMP MACRO pg_get_viewdef(rel) AS (SELECT min(regexp_replace("
        "sql, '^CREATE\\s+(TEMP\\s+)?VIEW\\s+\\S+\\s+AS\\s+', '')) "
        "FROM duckdb_views() v WHERE v.view_oid = rel), "
        "(rel, pretty) AS pg_get_viewdef(rel)",
        "CREATE OR REPLACE TEMP MACRO regnamespace_name(ns) AS "
        "(SELECT min(nspname) FROM pg_catalog.pg_namespace n WHERE n.oid = ns)",
        f"CREATE OR REPLACE TEMP MACRO format_type(t, m) AS CASE {_FORMAT_TYPE} "
        "ELSE system.pg_catalog.format_type(t, m) END",
        "CREATE OR REPLACE TEMP MACRO pg_get_constraintdef(oid) AS NULL, (oid, pretty) AS NULL",
        "CREATE OR REPLACE TEMP MACRO pg_get_statisticsobjdef_columns(oid) AS NULL",
        "CREATE OR REPLACE TEMP MACRO pg_get_function_identity_arguments(oid) AS ''",
        "CREATE OR REPLACE TEMP MACRO pg_get_function_result(oid) AS NULL",
        "CREATE OR REPLACE TEMP MACRO pg_get_function_arguments(oid) AS ''",
        "CREATE OR REPLACE TEMP MACRO pg_relation_is_publishable(rel) AS false",
        "CREATE OR REPLACE TEMP MACRO array_upper(arr, dim) AS len(arr)",
        "CREATE OR REPLACE TEMP MACRO pg_get_serial_sequence(rel, col) AS NULL::VARCHAR",
        "CREATE OR REPLACE TEMP MACRO quote_ident(s) AS '\"' || replace(s, '\"', '\"\"') || '\"'",
        "CREATE OR REPLACE TEMP MACRO to_regtype(name) AS "
        "(SELECT min(oid) FROM pg_catalog.pg_type t WHERE t.typname = name)",
        "CREATE OR REPLACE TEMP MACRO to_regclass(name) AS "
        "(SELECT min(oid) FROM pg_catalog.pg_class c WHERE c.relname = "
        "regexp_replace(name, '^.*\\.|\"', '', 'g'))",
        "CREATE OR REPLACE TEMP MACRO regclass_name(rel) AS "
        "(SELECT min(relname) FROM pg_catalog.pg_class c WHERE c.oid = rel)",
        "CREATE OR REPLACE TEMP VIEW pg_roles AS SELECT 10::BIGINT AS oid, "
        f"'{quoted_user}' AS rolname, false AS rolsuper, true AS rolinherit, "
        "false AS rolcreaterole, false AS rolcreatedb, true AS rolcanlogin, "
        "false AS rolreplication, -1 AS rolconnlimit, NULL::TIMESTAMP AS rolvaliduntil, "
        "false AS rolbypassrls, NULL::VARCHAR[] AS rolconfig",
        f"CREATE OR REPLACE TEMP VIEW pg_user AS SELECT '{quoted_user}' AS usename, "
        "10::BIGINT AS usesysid, false AS usecreatedb, false AS usesuper",
    ]
    stmts += [_empty_view(name, cols) for name, cols in _EMPTY_VIEWS.items()]
    stmts += [
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * {_REPLACE.get(name, '')}, {extra} "
        f"FROM pg_catalog.{name}"
        for name, extra in _EXTENDED_VIEWS.items()
    ]
    # information_schema without this session's temp objects (the rest as DuckDB has it).
    stmts += [
        f"CREATE OR REPLACE TEMP VIEW information_schema_{name} AS SELECT * "
        f"FROM information_schema.{name} WHERE {catalog} = current_database()"
        for name, catalog in _INFORMATION_SCHEMA.items()
    ]
    # One database, named as clients connect to it (DuckDB lists system and temp too).
    stmts.append(
        f"CREATE OR REPLACE TEMP VIEW pg_database AS SELECT * REPLACE ('{DATABASE}' AS datname), "
        f"{_DATABASE_EXTRA} FROM pg_catalog.pg_database WHERE datname = current_database()"
    )
    return stmts


_TEMP_RELATIONS = {*_EMPTY_VIEWS, *_EXTENDED_VIEWS, "pg_database", "pg_roles", "pg_user"}
_NEEDS = re.compile(
    r"pg_catalog\.|information_schema\.|::\s*\"?(reg\w+|oid|name|pg_catalog)|OPERATOR\s*\(|\bCOLLATE\b|"
    r"\b(?:" + "|".join(_TEMP_RELATIONS) + r")\b",
    re.IGNORECASE,
)
# PostgreSQL functions DuckDB has under another name (variadic: a macro cannot stand in).
_RENAMED_FUNCTIONS = {"json_build_object": "json_object", "jsonb_build_object": "json_object"}
_OPERATORS = {"=": exp.EQ, "<>": exp.NEQ, "<": exp.LT, ">": exp.GT, "<=": exp.LTE, ">=": exp.GTE}


def needs_rewrite(sql: str) -> bool:
    """Does a query use PostgreSQL-only catalog syntax that DuckDB cannot run as is?"""
    return _NEEDS.search(sql) is not None


# Clients' catalog queries are a few kB; sqlglot's parser is pure Python (a 1 MB statement
# took minutes), so longer text is run as sent.
REWRITE_MAX_CHARS = 64 << 10


def rewrite(sql: str) -> str:
    """PostgreSQL catalog query -> DuckDB SQL over the session's catalog (else unchanged)."""
    if len(sql) > REWRITE_MAX_CHARS:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except (ParseError, TokenError, RecursionError):
        return sql
    for collate in list(tree.find_all(exp.Collate)):
        # `COLLATE pg_catalog.default`: DuckDB has no such collation; the default it is.
        collate.replace(collate.this)
    # sqlglot's transform does not descend into a replaced node: repeat until nothing changes.
    for _ in range(8):
        changed = False

        def apply(node: exp.Expression) -> exp.Expression:
            nonlocal changed
            new = _rewrite_node(node)
            changed = changed or new is not node
            return new

        tree = tree.transform(apply, copy=False)
        if not changed:
            break
    return tree.sql(dialect="duckdb")


_PG_TYPES = {
    "int2": "SMALLINT", "int4": "INTEGER", "int8": "BIGINT", "float4": "FLOAT",
    "float8": "DOUBLE", "bool": "BOOLEAN", "text": "VARCHAR", "name": "VARCHAR",
    "varchar": "VARCHAR", "char": "VARCHAR", "oid": "BIGINT", "int2vector": "SMALLINT[]",
    "oidvector": "BIGINT[]",
}  # fmt: skip


def _type_name(to: exp.Expression) -> str:
    return to.sql(dialect="postgres").lower().replace('"', "").removeprefix("pg_catalog.")


def _rewrite_node(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Operator):
        op = str(node.args.get("operator", "")).split(".")[-1].strip()
        left, right = node.this, node.expression
        if op in ("~", "~*", "!~", "!~*"):
            match: exp.Expression = exp.RegexpLike(this=left, expression=right)
            if "*" in op:
                match = exp.RegexpILike(this=left, expression=right)
            return exp.Not(this=match) if op.startswith("!") else match
        if op in _OPERATORS:
            return _OPERATORS[op](this=left, expression=right)
        return node
    if (
        isinstance(node, exp.Dot)
        and isinstance(node.expression, exp.Func)
        and node.this.name.lower() == "pg_catalog"
    ):
        return node.expression
    if (
        isinstance(node, exp.Table)
        and node.db.lower() == "information_schema"
        and node.name.lower() in _INFORMATION_SCHEMA
    ):
        if not node.alias:
            node.set("alias", exp.TableAlias(this=exp.to_identifier(node.name)))
        node.set("this", exp.to_identifier(f"information_schema_{node.name.lower()}"))
        node.set("db", None)
        return node
    if isinstance(node, exp.Column) and node.args.get("db") is not None:
        # `pg_catalog.pg_class.relname`: the table is referred to by its bare name now.
        if node.db.lower() in ("pg_catalog", "information_schema"):
            node.set("db", None)
        return node
    if isinstance(node, exp.Table) and node.db.lower() == "pg_catalog":
        if node.name.lower() in _TEMP_RELATIONS or isinstance(node.this, exp.Func):
            node.set("db", None)
        return node
    if isinstance(node, exp.Cast):
        return _rewrite_cast(node)
    if isinstance(node, exp.Anonymous) and str(node.name).lower() in _RENAMED_FUNCTIONS:
        return exp.Anonymous(
            this=_RENAMED_FUNCTIONS[str(node.name).lower()], expressions=node.expressions
        )
    return node


def _rewrite_cast(node: exp.Cast) -> exp.Expression:
    raw = node.to.sql(dialect="postgres").lower().replace('"', "")
    target = raw.removeprefix("pg_catalog.")
    inner = node.this
    inner_type = _type_name(inner.to) if isinstance(inner, exp.Cast) else ""
    if target in ("regclass", "regtype", "regproc", "regnamespace", "regrole", "oid"):
        by_name = isinstance(inner, exp.Literal) and inner.is_string and not inner.this.isdigit()
        if by_name or isinstance(inner, exp.Placeholder | exp.Parameter):
            fn = "to_regtype" if target == "regtype" else "to_regclass"
            return exp.Anonymous(this=fn, expressions=[inner])
        return exp.cast(inner, "BIGINT")
    if target in ("text", "name", "varchar", "char"):
        if inner_type == "regtype":
            return exp.Anonymous(this="format_type", expressions=[inner.this, exp.null()])
        if inner_type == "regclass":
            return exp.Anonymous(this="regclass_name", expressions=[inner.this])
        if inner_type == "regnamespace":
            return exp.Anonymous(this="regnamespace_name", expressions=[inner.this])
    base, brackets = target.split("[", 1) if "[" in target else (target, "")
    if base in _PG_TYPES and (raw != target or base in ("name", "oid", "int2vector", "oidvector")):
        return exp.cast(inner, _PG_TYPES[base] + ("[]" if brackets else ""))
    return node
