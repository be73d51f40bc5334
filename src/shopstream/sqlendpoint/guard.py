"""Which statements the read-only endpoint runs, answers itself, or refuses (pure rules).

The first of two checks, on sqlglot's tokens: a statement runs on DuckDB only if its first
keyword is a read (SELECT, WITH, FROM, VALUES, TABLE, SHOW, DESCRIBE, EXPLAIN, SUMMARIZE,
PIVOT). Tokens know strings, dollar-quoted strings, quoted identifiers and comments, so
text inside them is never read as a keyword (a regex that stripped `/* ... */` once let
`'/*' ... '*/'` hide a file read). Session statements clients send on connect (SET
datestyle, BEGIN, DISCARD ALL...) are answered without touching DuckDB. Everything else is
refused with SQLSTATE 25006 (read-only) or 42501.

The second check is DuckDB's own parser (`sandbox.check_read`), and beneath both the writer's
DuckDB instance cannot reach files or change settings at all (`warehouse.duckdb.lock_down`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

Kind = Literal[
    "read", "empty", "set", "show", "begin", "commit", "rollback", "savepoint", "rollback_to",
    "noop", "refused",
]  # fmt: skip

READ_ONLY = "25006"  # read_only_sql_transaction
PRIVILEGE = "42501"  # insufficient_privilege
SYNTAX = "42601"  # syntax_error


@dataclass(frozen=True)
class Statement:
    """One classified statement; `tag` is the CommandComplete tag for answered ones.

    `sql` is the statement exactly as the client sent it: what DuckDB runs, if it runs.
    """

    kind: Kind
    sql: str
    tag: str = ""
    name: str = ""
    value: str = ""
    code: str = ""
    reason: str = ""
    explained: str | None = None  # for EXPLAIN: the statement it explains
    run: str | None = None  # set by the checker: the exact text DuckDB may run


_READ_WORDS = {"SELECT", "WITH", "FROM", "VALUES", "TABLE", "DESCRIBE", "DESC", "SUMMARIZE",
               "PIVOT", "UNPIVOT", "("}  # fmt: skip
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
_MULTI_WORD_SETTINGS = {
    ("SESSION", "CHARACTERISTICS"): "session characteristics",
    ("SESSION", "AUTHORIZATION"): "session authorization",
    ("TIME", "ZONE"): "time zone",
}
_DENIED_WORDS = {
    "INSERT": "INSERT", "UPDATE": "UPDATE", "DELETE": "DELETE", "MERGE": "MERGE",
    "UPSERT": "UPSERT", "TRUNCATE": "TRUNCATE", "CREATE": "DDL (CREATE)", "DROP": "DDL (DROP)",
    "ALTER": "DDL (ALTER)", "COMMENT": "COMMENT", "ATTACH": "ATTACH", "DETACH": "DETACH",
    "COPY": "COPY", "INSTALL": "INSTALL", "LOAD": "LOAD", "FORCE": "INSTALL", "PRAGMA": "PRAGMA",
    "CALL": "CALL", "EXPORT": "EXPORT", "IMPORT": "IMPORT", "CHECKPOINT": "CHECKPOINT",
    "VACUUM": "VACUUM", "ANALYZE": "ANALYZE", "USE": "USE", "GRANT": "GRANT",
    "REVOKE": "REVOKE", "PREPARE": "PREPARE", "EXECUTE": "EXECUTE",
    "UPDATE_EXTENSIONS": "UPDATE EXTENSIONS",
}  # fmt: skip
# Tokens whose text is data, never a keyword: strings of every quoting form, identifiers.
_QUOTED = {t for t in TokenType if t.name.endswith("STRING")} | {TokenType.IDENTIFIER}
# sqlglot reads the rest of a statement that starts with one of these (EXPLAIN, CALL, RESET,
# EXECUTE...) as one string token; `tokens` tokenizes that rest too.
_COMMANDS = {TokenType.COMMAND, TokenType.EXECUTE, TokenType.FETCH, TokenType.RENAME}
HINT = "The SQL endpoint is read-only: SELECT, WITH, SHOW, DESCRIBE and EXPLAIN only."


def tokens(sql: str) -> list[Token] | None:
    """sqlglot's tokens of one statement (comments dropped), or None if it cannot be tokenized.

    A leading command keyword is followed by the tokens of the rest, not by one string.
    """
    toks = _tokenize(sql)
    if not toks or toks[0].token_type not in _COMMANDS:
        return toks
    offset = toks[0].end + 1
    rest = _tokenize(sql[offset:])
    if rest is None:
        return None
    shifted = [
        Token(t.token_type, t.text, t.line, t.col, t.start + offset, t.end + offset, t.comments)
        for t in rest
    ]
    return [toks[0], *shifted]


def _tokenize(sql: str) -> list[Token] | None:
    try:
        return sqlglot.tokenize(sql, read="duckdb")
    except TokenError:
        return None


def split(sql: str) -> list[str]:
    """Split a query string into statements at top-level semicolons (comments kept).

    Parts holding nothing but comments and white space are dropped. Text that cannot be
    tokenized (an unterminated string or comment) stays one part, which `classify` refuses.
    """
    toks = _tokenize(sql)
    if toks is None:
        return [sql] if sql.strip() else []
    parts: list[str] = []
    start, seen = 0, False
    for tok in toks:
        if tok.token_type == TokenType.SEMICOLON:
            if seen:
                parts.append(sql[start : tok.start])
            start, seen = tok.end + 1, False
        else:
            seen = True
    if seen:
        parts.append(sql[start:])
    return parts


def _word(tok: Token) -> str:
    """A token's text as a keyword (upper case), or '' when it is data (string, identifier)."""
    return "" if tok.token_type in _QUOTED else tok.text.upper()


def _refuse(sql: str, what: str, code: str = READ_ONLY) -> Statement:
    if code == READ_ONLY:
        reason = f"{what} is not allowed: the shopstream SQL endpoint is read-only."
    else:
        reason = f"{what} is not allowed on the shopstream SQL endpoint."
    return Statement("refused", sql, code=code, reason=reason)


def classify(sql: str) -> Statement:
    """Decide what to do with one statement (see the module docstring)."""
    toks = tokens(sql)
    if toks is None:
        return Statement(
            "refused", sql, code=SYNTAX,
            reason="unterminated quoted string, identifier or comment in the statement.",
        )  # fmt: skip
    if not toks:
        return Statement("empty", sql)
    words = [_word(t) for t in toks[:3]]
    first, second = words[0], words[1] if len(words) > 1 else ""
    answered = _session_statement(sql, toks, first, second)
    if answered is not None:
        return answered
    if first == "EXPLAIN":
        skip = 2 if second in ("ANALYZE", "ANALYSE") else 1
        if len(toks) <= skip:
            return _refuse(sql, "an empty EXPLAIN", code=SYNTAX)
        inner = classify(sql[toks[skip].start :])
        if inner.kind == "read":
            return Statement("read", sql, explained=inner.sql)
        return inner if inner.kind == "refused" else _refuse(sql, f"EXPLAIN of a {inner.kind}")
    if first in _DENIED_WORDS:
        return _refuse(sql, _DENIED_WORDS[first])
    if first not in _READ_WORDS:
        return _refuse(sql, f"{first or 'a quoted'} statement")
    return Statement("read", sql)


def _session_statement(sql: str, toks: list[Token], first: str, second: str) -> Statement | None:
    """Transaction bookkeeping, client settings and SHOW, answered by the session; else None."""
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
        return _classify_set(sql, toks, first)
    if first in ("DISCARD", "DEALLOCATE"):
        return Statement("noop", sql, tag=f"{first}{' ALL' if second == 'ALL' else ''}")
    if first == "SHOW":
        return _classify_show(sql, toks)
    return None


def _classify_set(sql: str, toks: list[Token], verb: str) -> Statement:
    """SET/RESET of a PostgreSQL client setting (answered), anything else refused."""
    i = 1
    if i < len(toks) and _word(toks[i]) in ("SESSION", "LOCAL"):
        after = _word(toks[i + 1]) if i + 1 < len(toks) else ""
        if after not in ("CHARACTERISTICS", "AUTHORIZATION"):
            i += 1
    if i >= len(toks):
        return _refuse(sql, f"{verb} without a setting", PRIVILEGE)
    pair = (_word(toks[i]), _word(toks[i + 1]) if i + 1 < len(toks) else "")
    if pair in _MULTI_WORD_SETTINGS:
        name, i = _MULTI_WORD_SETTINGS[pair], i + 2
    else:
        name, i = toks[i].text.lower(), i + 1
        while i + 1 < len(toks) and toks[i].token_type == TokenType.DOT:  # a.b.c
            name, i = f"{name}.{toks[i + 1].text.lower()}", i + 2
    if name == "all" and verb == "RESET":
        return Statement("set", sql, tag="RESET", name="all")
    if name not in CLIENT_SETTINGS:
        return _refuse(sql, f"{verb} {name}", PRIVILEGE)
    value = ""
    if verb == "SET" and i < len(toks):
        if _word(toks[i]) in ("=", "TO"):
            i += 1
        value = sql[toks[i].start :].strip().strip("'\"") if i < len(toks) else ""
    return Statement("set", sql, tag=verb, name=name, value=value)


def _classify_show(sql: str, toks: list[Token]) -> Statement:
    """`SHOW <parameter>`: answered from the session if PostgreSQL's, else DuckDB's SHOW."""
    name = " ".join(t.text for t in toks[1:]).lower()
    if not toks[1:] or any(t.token_type in _QUOTED - {TokenType.IDENTIFIER} for t in toks[1:]):
        return _refuse(sql, f"SHOW {name}".strip(), PRIVILEGE)
    return Statement("show", sql, tag="SHOW", name=name)
