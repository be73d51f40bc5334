"""Pure parts of the endpoint: SCRAM, statement rules, text format, catalog rewrites."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from shopstream.sqlendpoint import compat, guard, types
from shopstream.sqlendpoint.scram import ScramError, ScramExchange, Verifier


def rfc7677_verifier() -> Verifier:
    """The RFC 7677 example: password 'pencil', this salt, 4096 iterations."""
    import hashlib
    import hmac

    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    return Verifier(salt, 4096, hashlib.sha256(client_key).digest(), server_key)


def test_scram_matches_the_rfc_7677_example() -> None:
    exchange = ScramExchange(rfc7677_verifier(), _server_nonce="%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
    first = exchange.server_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
    assert first == (
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    final = exchange.server_final(
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    assert final == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def test_scram_refuses_a_wrong_proof_and_a_foreign_nonce() -> None:
    exchange = ScramExchange(rfc7677_verifier(), _server_nonce="abc")
    exchange.server_first("n,,n=user,r=xyz")
    wrong = base64.b64encode(bytes(32)).decode()
    with pytest.raises(ScramError, match="wrong password"):
        exchange.server_final(f"c=biws,r=xyzabc,p={wrong}")
    with pytest.raises(ScramError, match="nonce"):
        exchange.server_final(f"c=biws,r=other,p={wrong}")
    with pytest.raises(ScramError, match="channel binding"):
        ScramExchange(rfc7677_verifier()).server_first("p=tls-server-end-point,,n=u,r=x")


def test_split_keeps_semicolons_inside_strings_and_drops_empty_parts() -> None:
    assert guard.split("select 1; select ';' as s;; -- only a comment\n;") == [
        "select 1",
        " select ';' as s",
    ]
    assert guard.split("   ") == []


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT * FROM kpis", "read"),
        ("with t as (select 1) select * from t", "read"),
        ("FROM top_customers", "read"),
        ("DESCRIBE silver_events", "read"),
        ("EXPLAIN SELECT 1", "read"),
        ("SHOW TABLES", "show"),
        ("show transaction isolation level", "show"),
        ("SET extra_float_digits = 3", "set"),
        ("BEGIN", "begin"),
        ("START TRANSACTION READ ONLY", "begin"),
        ("COMMIT", "commit"),
        ("ROLLBACK", "rollback"),
        ("SAVEPOINT a", "savepoint"),
        ("ROLLBACK TO SAVEPOINT a", "rollback_to"),
        ("-- nothing\n", "empty"),
        # A table function is the sandbox's to refuse (DuckDB's parse tree, see sandbox.py).
        ("EXPLAIN ANALYZE SELECT * FROM read_csv('/etc/passwd')", "read"),
        ("EXPLAIN DELETE FROM silver_events", "refused"),
        ("SELECT '/*', 1, '*/'", "read"),
        ("CALL checkpoint()", "refused"),
        ("SET enable_external_access = true", "refused"),
        ("USE other", "refused"),
        ("VACUUM", "refused"),
    ],
)
def test_classify(sql: str, kind: str) -> None:
    assert guard.classify(sql).kind == kind


def test_text_format_is_postgresqls() -> None:
    assert types.to_text(True) == "t"
    assert types.to_text(Decimal("12.50")) == "12.50"
    assert types.to_text(Decimal("1E+3")) == "1000"
    assert types.to_text(float("inf")) == "Infinity"
    assert types.to_text(date(2026, 11, 20)) == "2026-11-20"
    assert types.to_text(datetime(2026, 11, 20, 10, 15, 0, 500)) == "2026-11-20 10:15:00.000500"
    stamp = datetime(2026, 11, 20, 11, 15, tzinfo=__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert types.to_text(stamp) == "2026-11-20 10:15:00+00"
    assert types.to_text(datetime(2026, 11, 20, tzinfo=UTC)) == "2026-11-20 00:00:00+00"
    assert types.to_text(timedelta(days=1, seconds=3723)) == "1 day 01:02:03"
    assert types.to_text(b"\x01\xff") == "\\x01ff"


def test_decimal_type_modifier_is_postgresqls() -> None:
    t = types.pg_type("DECIMAL(18,2)")
    assert (t.oid, (t.typmod - 4) >> 16, (t.typmod - 4) & 0xFFFF) == (types.NUMERIC, 18, 2)
    assert types.pg_type("HUGEINT").typmod == -1
    assert types.pg_type("INTEGER[]").oid == types.TEXT


@pytest.fixture
def session() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute(
        "CREATE TABLE t (id BIGINT, amount DECIMAL(18,2)); CREATE VIEW v AS SELECT * FROM t"
    )
    cur = conn.cursor()
    for stmt in compat.session_setup("shopstream", duckdb.__version__, 42):
        cur.execute(stmt)
    return cur


# Verbatim from psql 15 (`psql -E`: \d v) and psycopg's TypeInfo.fetch.
CLIENT_QUERIES = [
    """SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(v)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;""",
    """SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, """
    """c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', """
    """c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE """
    """c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, """
    """am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '{oid}';""",
    """SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{{0}}' THEN NULL ELSE pg_catalog.array_to_string(array(select """
    """rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid)
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '{oid}' ORDER BY 1;""",
    "SELECT pg_catalog.pg_get_viewdef('{oid}'::pg_catalog.oid, true);",
    "SELECT typname AS name, oid, typarray AS array_oid, oid::regtype::text AS regtype, "
    "typdelim AS delimiter FROM pg_type t WHERE t.oid = to_regtype('hstore') ORDER BY t.oid",
]


@pytest.mark.parametrize("query", CLIENT_QUERIES)
def test_client_catalog_queries_run_on_duckdb_after_rewrite(
    session: duckdb.DuckDBPyConnection, query: str
) -> None:
    oid = session.execute("select oid from pg_catalog.pg_class where relname = 'v'").fetchone()
    assert oid is not None
    text = query.format(oid=oid[0])
    assert compat.needs_rewrite(text)
    session.execute(compat.rewrite(text)).fetchall()


def test_view_definition_and_visible_relations(session: duckdb.DuckDBPyConnection) -> None:
    rows = session.execute(compat.rewrite(CLIENT_QUERIES[0])).fetchall()
    assert [(r[1], r[2]) for r in rows] == [("main", "v")]
    (oid,) = rows[0][:1]
    (definition,) = session.execute(compat.rewrite(CLIENT_QUERIES[3].format(oid=oid))).fetchone()
    assert definition.startswith("SELECT")


def test_ordinary_queries_are_not_rewritten() -> None:
    assert not compat.needs_rewrite("SELECT customer_id, sum(total_revenue) FROM top_customers")


def test_result_hands_out_rows_in_portal_sized_pieces() -> None:
    from shopstream.sqlendpoint.execution import Result

    result = Result("", [("n", types.PgType(types.INT8))], iter([(1,), (2,), (3,)]))
    first, last = result.take(2)
    assert (list(first), last) == ([(1,), (2,)], False)
    rest, last = result.take(2)
    assert (list(rest), last) == ([(3,)], True)
    exact = Result("", [], iter([(1,), (2,)]))
    rows, last = exact.take(2)
    assert (list(rows), last) == ([(1,), (2,)], True)


@pytest.mark.parametrize(
    "sql", ["SELECT 1; DELETE FROM t", "INSERT INTO t VALUES (1, 2)", "SET threads = 1", ""]
)
def test_duckdb_parser_must_see_one_read_statement(sql: str) -> None:
    from shopstream.sqlendpoint.errors import PgError
    from shopstream.sqlendpoint.sandbox import check_read

    with pytest.raises(PgError) as caught:
        check_read(duckdb.connect(), sql)
    assert caught.value.code == guard.READ_ONLY


def test_binary_parameters_as_jdbc_sends_them() -> None:
    import struct

    numeric = struct.pack("!hhHhhhh", 3, 1, 0x4000, 3, 12, 3456, 7890)  # -123456.789
    assert types.from_binary(numeric, types.NUMERIC) == Decimal("-123456.789")
    assert types.from_binary(struct.pack("!hhHhh", 1, 0, 0, 2, 1), types.NUMERIC) == Decimal("1.00")
    assert types.from_binary(struct.pack("!i", 9820), types.DATE) == date(2026, 11, 20)
    micros = struct.pack("!q", 848484900_500000)
    assert types.from_binary(micros, types.TIMESTAMP) == datetime(2026, 11, 20, 10, 15, 0, 500000)
    assert types.from_binary(struct.pack("!q", -5), types.INT8) == -5
    with pytest.raises(ValueError, match="as text"):
        types.from_binary(b"\x00", types.INTERVAL)


@pytest.mark.parametrize(
    "text", ["0", "0.00", "12.50", "-123456.789", "123456789012345.67", "0.0001", "99999999"]
)
def test_binary_numeric_round_trips_exactly(text: str) -> None:
    encoded = types.to_binary(Decimal(text), types.NUMERIC)
    assert str(types.from_binary(encoded, types.NUMERIC)) == text
