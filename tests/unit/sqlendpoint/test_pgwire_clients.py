"""Real PostgreSQL clients (psql, psycopg, pandas via SQLAlchemy) read every table and view
through the endpoint and get what DuckDB itself returns; `shopstream sql` forwards to it."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from sql_served import RELATIONS, Served, order_by_all, sql_json

from shopstream.errors import ShopstreamError

PSQL = shutil.which("psql")
needs_psql = pytest.mark.skipif(
    PSQL is None, reason="psql missing: `make test` installs Debian's postgresql-client"
)


def duck_rows(served: Served, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """What DuckDB returns in the serving process itself."""
    return served.wh.query_rows(query)


def psql(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    assert PSQL is not None
    env = {**os.environ, "PGPASSWORD": served.password, "PGSSLMODE": "disable"}
    return subprocess.run(
        [PSQL, "-X", "-v", "ON_ERROR_STOP=1", served.endpoint.url, *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def pg_text(value: Any) -> str:
    """PostgreSQL's text output for a DuckDB value (written independently of the server)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return str(value)
    if isinstance(value, date | Decimal):
        return str(value)
    return str(value)


def test_every_relation_has_rows(served: Served) -> None:
    empty = [r for r in RELATIONS if not served.expected[r]]
    assert empty == []


def test_sql_command_forwards_to_the_endpoint_with_the_same_output(served: Served) -> None:
    # The file is held for writing by this process: only the endpoint can answer.
    for relation in RELATIONS:
        assert sql_json(served.home, order_by_all(relation)) == served.expected[relation], relation


@pytest.mark.parametrize("relation", RELATIONS)
def test_psycopg_reads_every_relation_like_duckdb(served: Served, relation: str) -> None:
    names, rows = duck_rows(served, order_by_all(relation))
    with psycopg.connect(**served.conninfo) as conn:
        cur = conn.execute(order_by_all(relation))
        assert [c.name for c in cur.description or []] == names
        assert cur.fetchall() == rows


@needs_psql
@pytest.mark.parametrize("relation", RELATIONS)
def test_psql_reads_every_relation_like_duckdb(served: Served, relation: str) -> None:
    names, rows = duck_rows(served, order_by_all(relation))
    out = psql(served, "-A", "-F", "\t", "-P", "null=NULL", "-P", "footer=off",
               "-c", order_by_all(relation))  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split("\t") == names
    assert [line.split("\t") for line in lines[1:]] == [[pg_text(v) for v in r] for r in rows]


@pytest.mark.parametrize("relation", RELATIONS)
def test_pandas_read_sql_through_sqlalchemy_like_duckdb(served: Served, relation: str) -> None:
    engine = sa.create_engine(
        served.url_with_password.replace("postgresql://", "postgresql+psycopg://")
        + "?sslmode=disable"
    )
    try:
        with engine.connect() as conn:
            got = pd.read_sql(order_by_all(relation), conn)
    finally:
        engine.dispose()
    names, rows = duck_rows(served, order_by_all(relation))
    want = pd.DataFrame.from_records(rows, columns=names, coerce_float=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_sqlalchemy_inspector_lists_tables_views_and_columns(served: Served) -> None:
    from shopstream.warehouse import TABLES, VIEWS

    engine = sa.create_engine(
        served.url_with_password.replace("postgresql://", "postgresql+psycopg://")
        + "?sslmode=disable"
    )
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            assert set(inspector.get_table_names()) == {*TABLES, "writer_lease"}  # + the lease
            assert set(inspector.get_view_names()) == set(VIEWS)
            columns = {c["name"]: str(c["type"]) for c in inspector.get_columns("top_customers")}
            frame = pd.read_sql_table("customer_daily_metrics", conn)
    finally:
        engine.dispose()
    names, _ = duck_rows(served, "SELECT * FROM top_customers LIMIT 0")
    assert list(columns) == names
    assert columns["total_revenue"] == "NUMERIC(38, 2)"
    assert len(frame) == len(served.expected["customer_daily_metrics"])


@needs_psql
def test_psql_meta_commands_list_and_describe(served: Served) -> None:
    from shopstream.warehouse import TABLES, VIEWS

    tables = psql(served, "-A", "-t", "-c", r"\dt")
    assert tables.returncode == 0, tables.stderr
    listed = {line.split("|")[1] for line in tables.stdout.splitlines()}
    assert listed == {*TABLES, "writer_lease"}  # the data tables and the writer lease
    views = psql(served, "-A", "-t", "-c", r"\dv")
    assert views.returncode == 0, views.stderr
    assert {line.split("|")[1] for line in views.stdout.splitlines()} == set(VIEWS)
    for relation in ("customer_daily_metrics", "top_customers"):
        described = psql(served, "-c", rf"\d {relation}")
        assert described.returncode == 0, described.stderr
        names, _ = duck_rows(served, f"SELECT * FROM {relation} LIMIT 0")
        for name in names:
            assert f" {name} " in described.stdout
    assert "numeric(38,2)" in psql(served, "-c", r"\d top_customers").stdout
    assert "shopstream" in psql(served, "-A", "-t", "-c", r"\l").stdout


def test_metadata_queries_clients_send_on_connect(served: Served) -> None:
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        version = conn.execute("select pg_catalog.version()").fetchone()
        assert version is not None and version[0].startswith("PostgreSQL ")
        assert conn.execute("SHOW server_version").fetchone() == ("16.0",)
        assert conn.execute("show transaction isolation level").fetchone() == ("read committed",)
        assert conn.execute("select current_setting('server_version_num')").fetchone() == (
            "160000",
        )
        assert conn.execute("select current_schema()").fetchone() == ("main",)
        info_tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
        assert {t for (t,) in info_tables} == {*RELATIONS, "writer_lease"}
        columns = conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'customer_daily_metrics' order by ordinal_position"
        ).fetchall()
        assert columns[0] == ("customer_id", "VARCHAR")
        listed = conn.execute(
            "select c.relname, c.relkind, n.nspname from pg_catalog.pg_class c "
            "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
            "where pg_catalog.pg_table_is_visible(c.oid) and c.relkind in ('r', 'v')"
        ).fetchall()
        assert {r[0] for r in listed} == {*RELATIONS, "writer_lease"}
        types = conn.execute(
            "select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
            "from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid "
            "where c.relname = 'customer_daily_metrics' and a.attnum > 0 order by a.attnum"
        ).fetchall()
        assert dict(types) == {
            "customer_id": "character varying",
            "event_date": "date",
            "page_views": "bigint",
            "add_to_cart_count": "bigint",
            "purchase_count": "bigint",
            "total_revenue": "numeric(38,2)",
            "updated_at": "timestamp without time zone",
        }
        oid = conn.execute("select 'top_customers'::regclass::oid").fetchone()
        assert oid is not None and oid[0] > 0
        owner = conn.execute("select pg_catalog.pg_get_userbyid(10)").fetchone()
        assert owner == (served.settings.sql.user,)


def test_type_oids_and_exact_decimals(served: Served) -> None:
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        cur = conn.execute(
            "select 'x'::varchar v, 1::bigint b, 2::integer i, 12.50::decimal(18,2) d, "
            "date '2026-11-20' dt, timestamp '2026-11-20 10:15:00.5' ts, true bo, 0.25::double f, "
            "sum(3::bigint) h"
        )
        oids = [c.type_code for c in cur.description or []]
        assert oids == [1043, 20, 23, 1700, 1082, 1114, 16, 701, 1700]
        assert cur.fetchone() == (
            "x", 1, 2, Decimal("12.50"), date(2026, 11, 20),
            datetime(2026, 11, 20, 10, 15, 0, 500000), True, 0.25, Decimal("3"),
        )  # fmt: skip
        big = conn.execute("select 123456789012345.67::decimal(18,2)").fetchone()
        assert big == (Decimal("123456789012345.67"),)


def test_sql_in_another_process_reads_through_the_endpoint(served: Served) -> None:
    # The scenario: the pipeline holds the file; `shopstream sql` runs elsewhere.
    import json
    import sys

    env = {**os.environ, "SHOPSTREAM_HOME": str(served.home)}
    for relation in ("customer_daily_metrics", "top_customers", "event_funnel"):
        out = subprocess.run(
            [sys.executable, "-m", "shopstream", "sql", order_by_all(relation), "-f", "json"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == served.expected[relation]


def test_forwarded_sums_and_statements_match_duckdb(served: Served) -> None:
    # sum(BIGINT) is HUGEINT in DuckDB (a Python int), numeric on the wire.
    query = "SELECT customer_id, sum(page_views) AS views FROM customer_daily_metrics GROUP BY 1"
    want = served.wh.query(query + " ORDER BY 1")
    assert sql_json(served.home, query + " ORDER BY 1") == want
    assert all(isinstance(r["views"], int) for r in want)
    # Several statements: the last one's rows, as DuckDB gives.
    assert sql_json(served.home, "SELECT 1 AS a; SELECT 2 AS b") == [{"b": 2}]


def test_large_results_stream_across_fetch_batches(served: Served) -> None:
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        rows = conn.execute("SELECT range AS n FROM range(25000) ORDER BY n").fetchall()
        assert [n for (n,) in rows] == list(range(25000))
        # The session is ready for the next statement after a fully read stream.
        count = conn.execute("SELECT count(*) FROM silver_events").fetchone()
        assert count == (len(served.expected["silver_events"]),)


@pytest.mark.parametrize("relation", RELATIONS)
def test_binary_results_as_pgx_and_psycopg_binary_cursors_ask(
    served: Served, relation: str
) -> None:
    names, rows = duck_rows(served, order_by_all(relation))
    with psycopg.connect(**served.conninfo) as conn:
        cur = conn.cursor(binary=True)
        cur.execute(order_by_all(relation))
        assert [c.name for c in cur.description or []] == names
        assert cur.fetchall() == rows


def test_prepared_statements_with_parameters(served: Served) -> None:
    query = (
        "SELECT customer_id, total_revenue FROM top_customers WHERE total_revenue > %s ORDER BY 1"
    )
    want = [
        (r["customer_id"], r["total_revenue"])
        for r in served.wh.query("SELECT * FROM top_customers ORDER BY 1")
        if r["total_revenue"] > Decimal("100")
    ]
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        for _ in range(3):  # named statement: Parse + Describe once, then Bind/Execute
            got = conn.execute(query, [Decimal("100")], prepare=True).fetchall()
            assert got == want
        when = conn.execute("SELECT %s::date + 1 AS d, %s AS s", [date(2026, 11, 20), "x"])
        assert when.fetchone() == (date(2026, 11, 21), "x")


def test_status_and_a_second_dashboard_read_through_the_endpoint(served: Served) -> None:
    from dataclasses import replace

    from shopstream.dashboard import queries
    from shopstream.sqlendpoint.reader import open_reader
    from shopstream.sqlendpoint.remote import EndpointWarehouse
    from shopstream.status.sources import open_status_warehouse, warehouse_snapshot

    # This process holds the file, as `up` would: readers go through the endpoint.
    remote, error = open_status_warehouse(served.settings)
    assert isinstance(remote, EndpointWarehouse), error
    with remote:
        assert replace(warehouse_snapshot(remote), target=None) == replace(
            warehouse_snapshot(served.wh), target=None
        )
        for panel in (queries.kpis, queries.funnel, queries.hourly, queries.top_customers,
                      queries.tiers, queries.categories, queries.dead_letters):  # fmt: skip
            assert panel(remote) == panel(served.wh), panel.__name__
        with pytest.raises(ShopstreamError, match="only that process can change it"):
            remote.init()
    with open_reader(served.settings) as again:
        assert isinstance(again, EndpointWarehouse)
        assert again.query("SELECT count(*) AS n FROM silver_events") == served.wh.query(
            "SELECT count(*) AS n FROM silver_events"
        )


def test_sql_through_the_endpoint_loads_no_engine(served: Served) -> None:
    # What made `shopstream sql` take 1.3-1.8 s against a running pipeline: DuckDB, pyarrow,
    # sqlglot and numpy imported for a statement another process runs (bench cli times it).
    import json
    import sys

    probe = (
        "import sys\n"
        "sys.argv = ['shopstream', 'sql', 'SELECT 42 AS n', '-f', 'json']\n"
        "from shopstream.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('duckdb', 'pyarrow', 'sqlglot', 'numpy', 'pyspark', 'confluent_kafka')\n"
        "print('LOADED', *sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "SHOPSTREAM_HOME": str(served.home)}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    rows, loaded = out.stdout.rsplit("LOADED", 1)
    assert json.loads(rows) == [{"n": 42}]
    assert loaded.split() == []


def test_sql_through_the_endpoint_names_a_refused_statement(served: Served) -> None:
    import typer
    from typer.testing import CliRunner

    from shopstream.cli.warehouse import register
    from shopstream.warehouse.exceptions import QueryError

    app = typer.Typer()
    register(app)
    home = ["--home", str(served.home)]
    refused = CliRunner().invoke(app, ["sql", "DELETE FROM silver_events", *home])
    assert isinstance(refused.exception, QueryError), refused.output
    assert "refused by the SQL endpoint" in str(refused.exception)
    empty = CliRunner().invoke(app, ["sql", "SELECT 1 AS n WHERE false", "-f", "json", *home])
    assert empty.exit_code == 0 and empty.stdout.strip() == "[]"
