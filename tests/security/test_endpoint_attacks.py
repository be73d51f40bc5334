"""The SQL endpoint attacked as a client with the password would: files, settings, resources.

Each attack runs against a real endpoint (psycopg, or a raw socket where a driver would not
misbehave), and each test also holds Gold to its promise (`gold_first`): while the attack
ran, Gold kept committing, at no more than twice its quiet commit time.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import psycopg
import pytest
from attack_target import LIMITS, Target, sustained
from pgraw import RawClient, message, startup_packet

pytestmark = pytest.mark.usefixtures("gold_first")

FILES = ("{home}/sql-password", "{home}/secret.txt", "/etc/passwd", "/proc/self/environ")
# Text that, once split by the old regex guard, hid what followed from it.
QUOTINGS = {
    "string": "SELECT '/*' AS a, ({read}) AS b, '*/' AS c",
    "dollar": "SELECT $$/*$$ AS a, ({read}) AS b, $$*/$$ AS c",
    "escape": "SELECT E'/*' AS a, ({read}) AS b, E'*/' AS c",
    "identifier": 'SELECT 1 AS "/*", ({read}) AS b, 2 AS "*/"',
    "line_comment": "SELECT 1 -- harmless\n, ({read}) AS b",
    "nested_comment": "SELECT /* /* */ 1, ({read}) AS b /* */",
    "unicode": "SELECT '\u202e/*' AS a, ({read}) AS b, '*/\u2066' AS c",
}
READS = {
    "read_text": "SELECT content FROM read_text('{path}')",
    "read_blob": "SELECT content FROM read_blob('{path}')",
    "read_csv": "SELECT * FROM read_csv('{path}', columns={{'l': 'VARCHAR'}}) LIMIT 1",
    "glob": "SELECT file FROM glob('{path}')",
    "sniff_csv": "SELECT * FROM sniff_csv('{path}')",
    "replacement_scan": "SELECT * FROM '{path}'",
    "query_in_a_string": "SELECT * FROM query('SELECT content FROM read_text(''{path}'')')",
}
SECRETS = ("TOP-SECRET-CONTENT", "root:", "PATH=")


def _refused(target: Target, sql: str, params: tuple[object, ...] | None = None) -> str:
    """Run `sql` expecting an error; the SQLSTATE (the session must survive it)."""
    with psycopg.connect(**target.conninfo, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as caught:
            rows = conn.execute(sql, params).fetchall()
            pytest.fail(f"ran and returned {rows!r}")
        text = str(caught.value)
        for secret in (*SECRETS, target.password):
            assert secret not in text, "a secret reached the client in an error"
        assert conn.execute("SELECT count(*) FROM silver_events").fetchone()
        return str(caught.value.sqlstate)


@pytest.mark.parametrize("read", sorted(READS))
def test_no_quoting_of_a_file_read_reaches_a_file(target: Target, read: str) -> None:
    for quoting in QUOTINGS.values():
        for path in FILES:
            sql = quoting.format(read=READS[read].format(path=path.format(home=target.home)))
            code = _refused(target, sql)
            assert code in ("42501", "25006", "42601", "0A000", "42P01", "42883"), (sql, code)


def test_bound_parameters_reach_no_file(target: Target) -> None:
    path = str(target.home / "secret.txt")
    for sql in ("SELECT content FROM read_text(%s)", "SELECT * FROM glob(%s)"):
        assert _refused(target, sql, (path,)) == "42501"
    with (
        psycopg.connect(**target.conninfo, autocommit=True, prepare_threshold=0) as conn,
        pytest.raises(psycopg.Error),
    ):
        conn.execute("SELECT content FROM read_text(%s)", (path,)).fetchall()


STATEFUL = [
    "CALL enable_profiling(save_location='{home}/profile.json')",
    "SELECT * FROM enable_profiling(save_location='{home}/profile.json')",
    "PRAGMA enable_profiling",
    "SET profiling_output = '{home}/profile.json'",
    "CALL enable_logging(storage='file', storage_path='{home}/logs')",
    "SELECT * FROM enable_logging(storage='file', storage_path='{home}/logs')",
    "COPY (SELECT 1) TO '{home}/copied.csv'",
    "EXPORT DATABASE '{home}/export'",
    "CHECKPOINT",
    "FORCE CHECKPOINT",
    "SELECT * FROM checkpoint()",
    "SELECT * FROM force_checkpoint()",
    "CALL truncate_duckdb_logs()",
    "SELECT * FROM truncate_duckdb_logs()",
    "ATTACH ':memory:' AS scratch",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_secrets()",
    "CREATE TEMP TABLE t AS SELECT 1",
    "SELECT * FROM query_table('silver_events')",
    "SET VARIABLE x = 1",
]


def test_no_statement_writes_a_file_checkpoints_or_changes_state(target: Target) -> None:
    before = _home_files(target)
    for sql in STATEFUL:
        code = _refused(target, sql.format(home=target.home))
        assert code in ("25006", "42501", "42601"), (sql, code)
    assert _home_files(target) == before


def _home_files(target: Target) -> set[str]:
    """What the home holds, but the WAL Gold's commits make and checkpoints remove."""
    return {p.name for p in target.home.iterdir()} - {"warehouse.duckdb.wal"}


SPELLINGS = ["ReAd_TeXt", '"read_text"', "main.read_text", "system.main.read_text",
             "read\u200b_text", "\uff52\uff45\uff41\uff44_\uff54\uff45\uff58\uff54"]  # fmt: skip


def test_spellings_of_a_table_function_reach_no_file(target: Target) -> None:
    for name in SPELLINGS:
        sql = f"SELECT * FROM {name}('{target.home}/secret.txt')"
        assert _refused(target, sql) in ("42501", "42601", "42883", "42P01"), name


def test_a_huge_declared_password_message_is_refused_before_it_is_read(target: Target) -> None:
    with RawClient("127.0.0.1", target.port) as raw:
        raw.send(startup_packet("shopstream"))
        raw.read()  # AuthenticationSASL
        raw.send(b"p" + struct.pack("!I", 2**31 - 1) + b"x" * 65536)
        replies = raw.read_until()
        assert raw.closed_by_server()
    assert replies and replies[-1].tag == b"E"


def test_a_huge_declared_query_is_refused_after_login(target: Target) -> None:
    with RawClient("127.0.0.1", target.port) as raw:
        assert raw.login("shopstream", target.password)[-1].tag == b"Z"
        raw.send(b"Q" + struct.pack("!I", (1 << 20) + 100))
        (error,) = raw.read_until()
        assert error.sqlstate == "54000" and b"sql.max_message_bytes" in error.body
        assert raw.closed_by_server()


def test_a_connection_that_never_logs_in_is_closed_at_the_auth_timeout(target: Target) -> None:
    def silent() -> None:
        with RawClient("127.0.0.1", target.port, timeout=15) as raw:
            replies = raw.read_until()  # sends nothing: waits for the server
            assert replies and replies[-1].sqlstate == "57014", replies

    sustained(silent, seconds=1.5, at_most=2)


def test_a_slow_login_is_closed_at_the_auth_timeout(target: Target) -> None:
    """Slowloris: one byte of the start-up packet at a time, each within a second."""
    packet = startup_packet("shopstream")
    with RawClient("127.0.0.1", target.port, timeout=15) as raw:
        started = time.monotonic()
        with pytest.raises(OSError):
            for byte in packet:
                raw.send(bytes([byte]))
                time.sleep(0.4)
            raw.read()
        assert time.monotonic() - started < 10


def test_connections_beyond_the_cap_get_53300_and_no_thread(target: Target) -> None:
    threads = target.ask("stats")["threads"]
    cap = int(LIMITS["max_connections"])
    held: list[RawClient] = []
    try:
        for _ in range(cap):  # logged in: they stay until the idle timeout
            held.append(RawClient("127.0.0.1", target.port))
            assert held[-1].login("shopstream", target.password)[-1].tag == b"Z"
        for _ in range(2 * cap):
            with RawClient("127.0.0.1", target.port) as extra:
                extra.send(startup_packet("shopstream"))
                replies = extra.read_until()
                assert [r.sqlstate for r in replies] == ["53300"], replies
        assert target.ask("stats")["threads"] <= threads + cap + 2
    finally:
        for raw in held:
            raw.close()


def test_an_idle_session_is_disconnected(target: Target) -> None:
    with RawClient("127.0.0.1", target.port, timeout=15) as raw:
        assert raw.login("shopstream", target.password)[-1].tag == b"Z"
        (notice,) = raw.read_until()  # idle: the server speaks first, then closes
        assert notice.sqlstate == "57P05", notice
        assert raw.closed_by_server()


def test_a_client_that_stops_reading_is_dropped_and_releases_its_snapshot(target: Target) -> None:
    before = target.ask("stats")["open_connections"]
    with RawClient("127.0.0.1", target.port, timeout=30) as raw:
        assert raw.login("shopstream", target.password)[-1].tag == b"Z"
        raw.send(message(b"Q", b"SELECT repeat('x', 1000) FROM range(100000000)\0"))
        deadline = time.monotonic() + 20
        while target.ask("stats")["open_connections"] > before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert target.ask("stats")["open_connections"] == before, "the stalled client stays"
    assert target.ask("checkpoint") == {"ok": True}  # no reader snapshot left to block it


def test_parsing_counts_against_the_statement_timeout(target: Target) -> None:
    in_list = ",".join(str(i) for i in range(150_000))
    sql = f"SELECT count(*) FROM range(10) WHERE range IN ({in_list})"
    assert len(sql) < 1 << 20
    with psycopg.connect(**target.conninfo, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '200ms'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute(sql)
        conn.execute("RESET statement_timeout")
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_statement_that_takes_too_much_memory_is_cancelled(target: Target) -> None:
    with psycopg.connect(**target.conninfo, autocommit=True) as conn:
        for sql in (
            "SELECT length(string_agg(repeat('x', 100), '')) FROM range(20000000)",
            "SELECT list(repeat('y', 50)) FROM range(20000000)",
        ):
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(sql).fetchall()
            assert caught.value.sqlstate in ("53200", "57014"), caught.value
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert target.ask("stats")["memory_cancelled"] >= 1


def test_a_statement_too_deep_gets_54001_and_the_session_lives(target: Target) -> None:
    with psycopg.connect(**target.conninfo, autocommit=True) as conn:
        for depth in (1_000, 3_000, 100_000):
            sql = "SELECT " + "(" * depth + "1" + ")" * depth
            for prepared in (False, True):
                with pytest.raises(psycopg.Error) as caught:
                    conn.execute(sql, prepare=prepared)
                assert caught.value.sqlstate == "54001", (depth, caught.value)
            assert conn.execute("SELECT 2").fetchone() == (2,)


def test_malformed_messages_get_an_error_not_a_dropped_connection(target: Target) -> None:
    with RawClient("127.0.0.1", target.port) as raw:
        assert raw.login("shopstream", target.password)[-1].tag == b"Z"
        # Invalid UTF-8 in a query.
        (error, ready) = raw.query(b"SELECT '\xff\xfe'")
        assert error.sqlstate == "22021" and ready.tag == b"Z"
        # A Bind that declares more parameter bytes than it has, then Sync.
        raw.send(message(b"P", b"\0SELECT $1::int\0\0\0"))
        raw.send(message(b"B", b"\0\0\0\0\0\1" + struct.pack("!i", 1000) + b"12"))
        raw.send(message(b"S"))
        replies = raw.read_until()
        assert [r.sqlstate for r in replies if r.tag == b"E"] == ["08P01"], replies
        assert replies[-1].tag == b"Z"
        # An unknown message type, then Sync.
        raw.send(message(b"!", b"junk") + message(b"S"))
        replies = raw.read_until()
        assert replies[0].sqlstate == "08P01" and replies[-1].tag == b"Z"
        # The session still answers.
        assert any(r.tag == b"D" for r in raw.query("SELECT 42"))


def test_a_length_shorter_than_its_header_ends_the_connection_with_an_error(target: Target) -> None:
    with RawClient("127.0.0.1", target.port) as raw:
        assert raw.login("shopstream", target.password)[-1].tag == b"Z"
        raw.send(b"Q" + struct.pack("!I", 2))
        (error,) = raw.read_until()
        assert error.sqlstate == "08P01"


def test_a_wrong_password_and_malformed_start_up_are_refused(target: Target) -> None:
    with RawClient("127.0.0.1", target.port) as raw:
        replies = raw.login("shopstream", "not-the-password")
        assert replies[-1].sqlstate == "28P01"
    for packet in (struct.pack("!I", 3), struct.pack("!I", 100_000), struct.pack("!II", 8, 7)):
        with RawClient("127.0.0.1", target.port) as raw:
            raw.send(packet)
            replies = raw.read_until()
            assert not replies or replies[-1].tag == b"E"


def test_the_checker_process_is_restarted_after_a_check_is_killed(target: Target) -> None:
    test_parsing_counts_against_the_statement_timeout(target)
    with psycopg.connect(**target.conninfo, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM silver_events").fetchone()


def test_statements_keep_reading_committed_data_during_the_attacks(target: Target) -> None:
    with psycopg.connect(**target.conninfo, autocommit=True) as conn:

        def read() -> None:
            (n,) = conn.execute("SELECT count(*) FROM silver_events").fetchone() or (0,)
            assert n > 0

        assert sustained(read, seconds=1.0) > 0


def test_no_file_appeared_in_the_home(target: Target) -> None:
    names = {p.name for p in Path(target.home).iterdir()}
    assert not names & {"profile.json", "logs", "copied.csv", "export", "leak.csv", "p.json"}
