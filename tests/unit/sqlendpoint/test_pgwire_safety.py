"""The endpoint cannot change the warehouse, read files, or hold on forever; auth is enforced."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import stat
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors
from sql_served import Served

from shopstream.config import Settings, load_settings
from shopstream.errors import ShopstreamError
from shopstream.sqlendpoint import SqlEndpoint, password_file, sql_endpoint_file
from shopstream.warehouse import Warehouse, open_warehouse
from shopstream.warehouse.duckdb import DuckDBWarehouse

REFUSED = {
    "insert": "INSERT INTO silver_events SELECT * FROM silver_events",
    "update": "UPDATE customer_daily_metrics SET page_views = 0",
    "delete": "DELETE FROM customer_daily_metrics",
    "merge": "MERGE INTO kpis k USING kpis s ON true WHEN MATCHED THEN DELETE",
    "truncate": "TRUNCATE silver_events",
    "create": "CREATE TABLE x AS SELECT 1",
    "create_view": "CREATE VIEW v AS SELECT 1",
    "drop": "DROP VIEW top_customers",
    "alter": "ALTER TABLE silver_events ADD COLUMN x INT",
    "attach": "ATTACH '/tmp/other.duckdb' AS other",
    "detach": "DETACH warehouse",
    "copy_to": "COPY silver_events TO '/tmp/leak.csv'",
    "copy_query_to": "COPY (SELECT 1) TO '/tmp/leak.csv'",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "set_threads": "SET threads = 1",
    "set_memory": "SET memory_limit = '1GB'",
    "pragma": "PRAGMA threads = 1",
    "call": "CALL pragma_version()",
    "export": "EXPORT DATABASE '/tmp/dump'",
    "checkpoint": "CHECKPOINT",
    "select_into": "SELECT 1 INTO newtable",
    "cte_delete": "WITH d AS (DELETE FROM silver_events RETURNING *) SELECT * FROM d",
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_csv_auto": "SELECT * FROM read_csv_auto('/etc/passwd')",
    "read_parquet": "SELECT * FROM read_parquet('/tmp/x.parquet')",
    "read_json": "SELECT * FROM read_json('/tmp/x.json')",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "file_literal": "SELECT * FROM '/etc/passwd.csv'",
    "file_identifier": 'SELECT * FROM "/etc/hosts.csv"',
    "url": "SELECT * FROM 'https://example.com/x.parquet'",
    "glob": "SELECT * FROM glob('/etc/*')",
    "sql_in_a_string": "SELECT * FROM query('DELETE FROM silver_events')",
    "getenv": "SELECT getenv('HOME')",
    "in_subquery": "SELECT (SELECT count(*) FROM read_csv('/etc/passwd'))",
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_writes_settings_and_file_reads_are_refused(served: Served, kind: str) -> None:
    before = served.wh.table_counts()
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(REFUSED[kind])
        # Refused by the guard or the sandbox (25006, 42501), not even parsed by DuckDB
        # (42601: DML in a CTE, SELECT INTO), or no such function once locked (42883).
        assert caught.value.sqlstate in ("25006", "42501", "42601", "42883")
        # The session survives a refusal.
        assert conn.execute("select count(*) from silver_events").fetchone() is not None
    assert served.wh.table_counts() == before


def test_client_settings_are_answered_without_touching_duckdb(served: Served) -> None:
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        for stmt in (
            "SET datestyle TO 'ISO, MDY'",
            "SET extra_float_digits = 3",
            "SET application_name = 'bi-tool'",
            "SET search_path TO public",
            "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "RESET ALL",
            "DISCARD ALL",
        ):
            conn.execute(stmt)
        threads = conn.execute("select current_setting('threads')").fetchone()
    assert threads is None or threads == (None,)
    assert served.wh.query("select current_setting('threads') AS t")[0]["t"] > 0


def test_wrong_password_is_refused_with_28P01(served: Served) -> None:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(**{**served.conninfo, "password": "not-the-password"})
    assert "28P01" in str(caught.value) or "password authentication failed" in str(caught.value)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**{**served.conninfo, "user": "someone-else"})


def test_statement_timeout_interrupts_a_long_query(served: Served) -> None:
    endless = "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3"
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        with pytest.raises(errors.QueryCanceled, match="statement timeout"):
            conn.execute(endless)
        assert conn.execute("select 1").fetchone() == (1,)
        # A client may shorten the configured limit.
        conn.execute("SET statement_timeout = '100ms'")
        assert conn.execute("SHOW statement_timeout").fetchone() == ("100ms",)
        with pytest.raises(errors.QueryCanceled):
            conn.execute(endless)


def test_cancel_request_interrupts_the_running_query(served: Served) -> None:
    import threading

    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")  # the configured limit still applies
        timer = threading.Timer(0.2, conn.cancel_safe)
        timer.start()
        with pytest.raises(errors.QueryCanceled, match="user request"):
            conn.execute("SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3")
        timer.join()


def test_readers_see_committed_data_only(served: Served) -> None:
    writer = served.wh.cursor()
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        count = "select count(*) from dead_letter_events"
        before = conn.execute(count).fetchone()
        writer.execute("BEGIN")
        writer.execute(
            "INSERT INTO dead_letter_events SELECT * REPLACE (source_offset + 1000 AS "
            "source_offset) FROM dead_letter_events"
        )
        assert conn.execute(count).fetchone() == before  # half a batch is never visible
        writer.execute("ROLLBACK")
        assert conn.execute(count).fetchone() == before
    writer.close()


def test_transaction_status_errors_and_empty_query(served: Served) -> None:
    from psycopg.pq import ExecStatus, TransactionStatus

    with psycopg.connect(**served.conninfo) as conn:
        conn.execute("select 1")
        assert conn.info.transaction_status == TransactionStatus.INTRANS
        with pytest.raises(errors.UndefinedTable):
            conn.execute("select * from no_such_table")
        assert conn.info.transaction_status == TransactionStatus.INERROR
        with pytest.raises(errors.InFailedSqlTransaction):
            conn.execute("select 1")
        conn.rollback()
        assert conn.info.transaction_status == TransactionStatus.IDLE
        assert conn.execute("select 2").fetchone() == (2,)
        conn.rollback()
        empty = conn.pgconn.exec_(b"")
        assert empty.status == ExecStatus.EMPTY_QUERY
        several = conn.pgconn.exec_(b"select 1; select 2 as two")
        assert several.status == ExecStatus.TUPLES_OK
        assert several.fname(0) == b"two"
        assert conn.info.transaction_status == TransactionStatus.IDLE


def test_syntax_errors_carry_a_sqlstate(served: Served) -> None:
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        with pytest.raises(errors.SyntaxError):
            conn.execute("select from where")
        with pytest.raises(errors.UndefinedColumn):
            conn.execute("select nope from silver_events")


def test_password_generated_once_per_home_with_0600_and_never_in_repr(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, sql={"port": 0})
    wh = open_warehouse(settings)
    assert isinstance(wh, DuckDBWarehouse)
    try:
        with SqlEndpoint(wh, settings) as endpoint:
            secret = password_file(settings).read_text().strip()
            assert stat.S_IMODE(os.stat(password_file(settings)).st_mode) == 0o600
            recorded = sql_endpoint_file(settings).read_text()
            assert secret not in recorded and str(endpoint.port) in recorded
            assert secret not in repr(endpoint) and secret not in endpoint.url
        assert not sql_endpoint_file(settings).exists()  # stop() forgets the endpoint
        with SqlEndpoint(wh, settings) as again:
            assert password_file(settings).read_text().strip() == secret
            assert again.url.startswith("postgresql://shopstream@127.0.0.1:")
    finally:
        wh.close()
    configured = load_settings(home=tmp_path, sql={"password": "from-config"})
    assert "from-config" not in repr(configured)


def test_ssl_is_refused_without_tls_and_required_with_it(served: Served, tmp_path: Path) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**{**served.conninfo, "sslmode": "require"})
    with psycopg.connect(**{**served.conninfo, "sslmode": "prefer"}) as conn:
        assert conn.pgconn.ssl_in_use is False

    cert, key = _self_signed(tmp_path)
    settings = load_settings(
        home=tmp_path, sql={"port": 0, "password": "tls-pw", "tls_cert": cert, "tls_key": key}
    )
    with SqlEndpoint(served.wh, settings) as endpoint:
        conninfo = {**served.conninfo, "port": endpoint.port, "password": "tls-pw"}
        with psycopg.connect(**{**conninfo, "sslmode": "require"}) as conn:
            assert conn.pgconn.ssl_in_use is True
            assert conn.execute("select count(*) from top_customers").fetchone() == (3,)


def _self_signed(directory: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_serving_starts_only_for_the_duckdb_writer(tmp_path: Path) -> None:
    import socket

    from shopstream.sqlendpoint import running_endpoint, serving

    settings = load_settings(home=tmp_path)  # the default port, 5433
    with socket.socket() as taken:
        # Whatever holds 5433 here (another home's pipeline, or this socket), the default
        # port falls back to a free one; a port the user chose would have to be free.
        with contextlib.suppress(OSError):
            taken.bind(("127.0.0.1", settings.sql.port))
            taken.listen()
        with open_warehouse(settings) as wh, serving(wh, settings) as endpoint:
            assert endpoint is not None and endpoint.port != settings.sql.port
            assert running_endpoint(settings) == endpoint.info
        assert running_endpoint(settings) is None
        chosen = load_settings(home=tmp_path, sql={"port": settings.sql.port})
        with open_warehouse(chosen) as wh, pytest.raises(ShopstreamError, match="SQL__PORT"):
            SqlEndpoint(wh, chosen).start()
    off = load_settings(home=tmp_path, sql={"enabled": False})
    with open_warehouse(off) as wh, serving(wh, off) as endpoint:
        assert endpoint is None


def test_statements_wait_while_the_writer_commits(served: Served) -> None:
    import threading

    got: list[tuple[int, ...] | None] = []
    with psycopg.connect(**served.conninfo, autocommit=True) as conn:
        client = threading.Thread(target=lambda: got.append(conn.execute("select 1").fetchone()))
        with served.wh.writes.writing():  # what commit_batch holds
            client.start()
            client.join(1.0)
            held = client.is_alive()
        client.join(10)
    assert held, "a client statement ran during a commit"
    assert got == [(1,)]


def test_secrets_never_reach_the_logs(
    served: Served, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + served.password[::-1]
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**{**served.conninfo, "password": wrong})
    with (
        psycopg.connect(**served.conninfo, autocommit=True) as conn,
        pytest.raises(errors.QueryCanceled),
    ):
        conn.execute("SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3")
    assert caplog.records, "nothing logged: the check would be empty"
    printed = capsys.readouterr()
    shown = caplog.text + printed.out + printed.err + repr(served.endpoint) + served.endpoint.url
    for secret in (served.password, wrong):
        assert secret not in shown


def test_nothing_is_served_on_snowflake(
    fake_snow_wh: Warehouse, snowflake_settings: Settings
) -> None:
    from shopstream.sqlendpoint import running_endpoint, serving

    asked = snowflake_settings.model_copy(
        update={"sql": snowflake_settings.sql.model_copy(update={"enabled": True, "port": 0})}
    )
    with serving(fake_snow_wh, asked) as endpoint:
        assert endpoint is None
        assert running_endpoint(asked) is None
    assert not password_file(asked).exists()


def test_a_commit_interrupts_a_running_statement_which_then_runs_again(
    served: Served, tmp_path: Path
) -> None:
    import threading
    import time

    no_limit = load_settings(
        home=tmp_path,
        sql={"port": 0, "statement_timeout_seconds": 0, "password": served.password},
    )
    rows = 1_000_000_000
    query = f"SELECT count(*) FROM range({rows}) a WHERE a.range % 7 = 3"
    got: list[Any] = []
    with (
        SqlEndpoint(served.wh, no_limit) as endpoint,
        psycopg.connect(**{**served.conninfo, "port": endpoint.port}, autocommit=True) as conn,
    ):
        (session,) = endpoint._config.sessions.values()
        client = threading.Thread(target=lambda: got.append(conn.execute(query).fetchone()))
        client.start()
        deadline = time.monotonic() + 30
        executor = session.executor
        while not executor._preemptible and time.monotonic() < deadline:
            time.sleep(0.01)
        assert executor._preemptible, "the statement never started"
        with served.wh.writes.writing():  # what commit_batch holds
            pass
        client.join(120)
    assert executor.reruns == 1
    assert got == [((rows - 1 - 3) // 7 + 1,)]  # the full answer, not an error
