"""A real `shopstream up` under attack: what it exposes, what it writes, and Gold first.

One `up` (Kafka, Silver + Gold in Spark, the generator, the dashboard, the SQL endpoint) is
started; then every listener of its processes must be on loopback, every file of its home
its user's alone, the dashboard must refuse a foreign Host and send its protective
headers; and while clients attack the SQL endpoint for a while (file reads in every
quoting, 1 MB statements, memory hogs, clients that stop reading, deep nesting, floods of
connections that never log in), Gold keeps committing at no more than twice its quiet
commit time, read from its own batch log.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
import stat
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pgraw import RawClient, message, startup_packet
from shopstream_env import cli_env

from shopstream.config import Settings
from shopstream.ports import free_port
from shopstream.procinfo import tree

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
START_TIMEOUT_S = 300
ATTACK_SECONDS = 20.0
QUIET_SECONDS = 20.0


class Up:
    """`shopstream up` in a subprocess, with what a client needs to reach it."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings = settings
        self.home = Path(settings.home)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        cmd = [sys.executable, "-m", "shopstream", "up", "--rate", "1000",
               "--port", str(self.port), "--home", str(self.home)]  # fmt: skip
        env = cli_env(settings) | {"SHOPSTREAM_SQL__PORT": "0"}
        self.proc = subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def wait_committing(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.proc.poll() is None, f"up exited:\n{self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, (
                f"up not committing:\n{self.log.read_text()[-3000:]}"
            )
            with contextlib.suppress(OSError, ValueError, KeyError, psycopg.Error):
                if self.commits_since(datetime(2000, 1, 1)):
                    return
            time.sleep(1)

    @property
    def sql(self) -> dict[str, Any]:
        info = json.loads((self.home / "sql.json").read_text())
        password = (self.home / "sql-password").read_text().strip()
        return {"host": "127.0.0.1", "port": info["port"], "user": info["user"],
                "password": password, "dbname": "shopstream", "sslmode": "disable"}  # fmt: skip

    def commits_since(self, since: datetime) -> list[float]:
        """Gold's commit times (ms) committed after `since` (UTC), from its batch log."""
        with psycopg.connect(**self.sql, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT commit_ms FROM pipeline_batches WHERE query_name = 'gold' "
                "AND committed_at > %s AND input_rows > 0",
                (since,),
            ).fetchall()
        return [float(r[0]) for r in rows]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(180)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def up(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    from shopstream.config import load_settings
    from shopstream.kafka.topics import ensure_topics

    suffix = uuid.uuid4().hex[:10]
    settings = load_settings(
        home=tmp_path_factory.mktemp("up-home") / "home",
        kafka={"bootstrap_servers": kafka_bootstrap, "raw_topic": f"raw_{suffix}",
               "clean_topic": f"clean_{suffix}", "dead_letter_topic": f"dlq_{suffix}"},
        spark={"master": "local[2]"},
    )  # fmt: skip
    ensure_topics(settings)
    running = Up(settings, tmp_path_factory.mktemp("up-log") / "up.log")
    try:
        running.wait_committing()
        yield running
    finally:
        running.stop()


def _listening(pids: set[int]) -> list[tuple[int, str, int]]:
    """(pid, local address, port) of every listening TCP socket of `pids` (from /proc)."""
    inodes: dict[str, int] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes[target[8:-1]] = pid
    out = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            if family == socket.AF_INET:
                host = socket.inet_ntop(family, raw[::-1])
            else:
                host = socket.inet_ntop(
                    family, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                )
            out.append((inodes[inode], host, int(port, 16)))
    return out


def test_every_listener_of_up_is_on_loopback(up: Up) -> None:
    listeners = _listening(tree([up.proc.pid]))
    # The dashboard, the SQL endpoint, Spark's UI, its driver and block manager, py4j.
    assert len(listeners) >= 4, listeners
    exposed = [entry for entry in listeners if not _loopback(entry[1])]
    assert not exposed, f"listening beyond loopback: {exposed}"


def test_the_local_broker_listens_on_loopback(up: Up, kafka_bootstrap: str) -> None:
    """The broker `kafka start` runs (here the test session's) is reachable from this host only."""
    ports = {int(address.rsplit(":", 1)[1]) for address in kafka_bootstrap.split(",")}
    every_pid = {int(p) for p in os.listdir("/proc") if p.isdigit()}
    broker = [entry for entry in _listening(every_pid) if entry[2] in ports]
    assert broker, "no process listens on the broker's port"
    assert all(_loopback(host) for _, host, _ in broker), broker


def test_the_home_and_every_file_in_it_are_the_users_alone(up: Up) -> None:
    """The home is 0700, its secrets 0600, and nothing in it is readable or writable by
    anyone else (Spark's copies of public jars keep their 0711: execute, not read)."""
    assert stat.S_IMODE(up.home.stat().st_mode) == 0o700
    for name in ("warehouse.duckdb", "sql-password"):
        assert stat.S_IMODE((up.home / name).stat().st_mode) == 0o600, name
    wide = []
    for root, dirs, files in os.walk(up.home):
        for name in [*dirs, *files]:
            path = Path(root, name)
            with contextlib.suppress(FileNotFoundError):
                if not path.is_symlink() and path.lstat().st_mode & 0o066:
                    wide.append(f"{path} {oct(path.lstat().st_mode & 0o777)}")
    assert not wide, wide[:10]


def test_the_dashboard_refuses_a_foreign_host_and_protects_its_pages(up: Up) -> None:
    for host in ("evil.example", "127.0.0.1.evil.example", "attacker.test:80"):
        refused = httpx.get(f"{up.url}/api/kpis", headers={"Host": host}, timeout=10)
        assert refused.status_code == 400, host
    for path in ("/", "/api/kpis", "/metrics", "/static/app.js"):
        response = httpx.get(f"{up.url}{path}", timeout=10)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


def _attackers(up: Up) -> list[Callable[[], object]]:
    sql = up.sql
    secret = up.home / "sql-password"

    def file_reads() -> None:
        with psycopg.connect(**sql, autocommit=True) as conn:
            for text in (
                f"SELECT '/*', (SELECT content FROM read_text('{secret}')), '*/'",
                "SELECT $$/*$$, (SELECT file FROM glob('/etc/*') LIMIT 1), $$*/$$",
            ):
                with contextlib.suppress(psycopg.Error):
                    rows = conn.execute(text).fetchall()
                    raise AssertionError(f"a file read ran: {rows!r}")

    def huge_statements() -> None:
        in_list = ",".join(str(i) for i in range(150_000))
        with psycopg.connect(**sql, autocommit=True) as conn, contextlib.suppress(psycopg.Error):
            conn.execute(f"SELECT count(*) FROM silver_events WHERE customer_id IN ({in_list})")

    def memory_hogs() -> None:
        with psycopg.connect(**sql, autocommit=True) as conn, contextlib.suppress(psycopg.Error):
            conn.execute("SELECT list(repeat('y', 50)) FROM range(20000000)").fetchall()

    def deep_nesting() -> None:
        with psycopg.connect(**sql, autocommit=True) as conn, pytest.raises(psycopg.Error):
            conn.execute("SELECT " + "(" * 3000 + "1" + ")" * 3000)

    def stalled_reader() -> None:
        with RawClient("127.0.0.1", sql["port"], timeout=60) as raw:
            raw.login(sql["user"], sql["password"])
            raw.send(message(b"Q", b"SELECT * FROM silver_events, range(100)\0"))
            raw.closed_by_server()

    def never_log_in() -> None:
        held = [RawClient("127.0.0.1", sql["port"], timeout=30) for _ in range(8)]
        for raw in held:
            raw.send(startup_packet("shopstream")[:5])
        for raw in held:
            raw.read_until()
            raw.close()

    return [file_reads, huge_statements, memory_hogs, deep_nesting, stalled_reader, never_log_in]


def test_gold_commits_on_at_its_quiet_pace_while_the_endpoint_is_attacked(up: Up) -> None:
    _wait_steady(up)
    quiet_from = _db_now(up)
    time.sleep(QUIET_SECONDS)
    attacked_from = _db_now(up)
    quiet = up.commits_since(quiet_from)
    stop = threading.Event()
    failures: list[BaseException] = []

    def loop(attack: Callable[[], object]) -> None:
        while not stop.is_set():
            try:
                attack()
            except BaseException as err:  # an attack that got through fails the test
                failures.append(err)
                return

    threads = [threading.Thread(target=loop, args=(a,), daemon=True) for a in _attackers(up)]
    for thread in threads:
        thread.start()
    time.sleep(ATTACK_SECONDS)
    stop.set()
    for thread in threads:
        thread.join(90)
    attacked = up.commits_since(attacked_from)
    assert not [f for f in failures if isinstance(f, AssertionError)], failures
    assert up.proc.poll() is None, "up died under attack"
    assert len(quiet) >= 10 and len(attacked) >= 10, (len(quiet), len(attacked))
    quiet_ms, attacked_ms = statistics.median(quiet), statistics.median(attacked)
    print(f"Gold commit median: quiet {quiet_ms:.1f} ms ({len(quiet)} commits), "
          f"attacked {attacked_ms:.1f} ms ({len(attacked)} commits)")  # fmt: skip
    assert attacked_ms <= 2 * quiet_ms, (quiet_ms, attacked_ms)


def _wait_steady(up: Up, seconds: float = 120.0) -> None:
    """Until Gold has caught up with the start-up backlog: a few seconds of small batches."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with psycopg.connect(**up.sql, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT input_rows FROM pipeline_batches WHERE query_name = 'gold' "
                "ORDER BY committed_at DESC LIMIT 10"
            ).fetchall()
        if len(rows) == 10 and max(r[0] for r in rows) < 5_000:  # 1,000 events/s
            return
        time.sleep(2)


def _db_now(up: Up) -> datetime:
    with psycopg.connect(**up.sql, autocommit=True) as conn:
        (now,) = conn.execute("SELECT max(committed_at) FROM pipeline_batches").fetchone() or (
            None,
        )
    return now or datetime(2000, 1, 1)


def _loopback(host: str) -> bool:
    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)  # Java listens as ::ffff:127.0.0.1
    return (mapped or address).is_loopback
