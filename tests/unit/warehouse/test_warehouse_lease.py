"""One writer per warehouse: the lease row refuses a second writer naming the first, expires
when its holder stops renewing, and fences a writer that lost it out of every commit. On
DuckDB a second writer process is refused with the running one's host, pid and start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from wh_data import events_table, make_event

from shopstream.config import Settings, load_settings
from shopstream.warehouse import BatchMeta, Warehouse, open_warehouse
from shopstream.warehouse.batch import utcnow
from shopstream.warehouse.exceptions import CommitFailed, WarehouseLocked, WriterBusy
from shopstream.warehouse.lease import WriterLease, sidecar_path
from shopstream.warehouse.writer import writing

TTL = 30.0


class Clock:
    """A clock the test moves by hand (lease expiry without waiting)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def second_sf(fake_snow_wh: Warehouse, snowflake_settings: Settings) -> Iterator[Warehouse]:
    """Another session on the same (fake) Snowflake account: a writer on another machine."""
    wh = open_warehouse(snowflake_settings)
    try:
        yield wh
    finally:
        wh.close()


def test_a_second_snowflake_writer_is_refused_naming_the_first(
    fake_snow_wh: Warehouse, second_sf: Warehouse
) -> None:
    first = WriterLease(fake_snow_wh, command="process", ttl=TTL)
    first.acquire()

    with pytest.raises(WriterBusy) as caught:
        WriterLease(second_sf, command="gold", ttl=TTL).acquire()

    message = str(caught.value)
    assert f"`process` on host {socket.gethostname()}, pid {os.getpid()}, since" in message
    assert "lease_ttl_seconds" in message and "\n" not in message
    first.release()
    WriterLease(second_sf, command="gold", ttl=TTL).acquire()  # free again after a clean stop


def test_a_crashed_writers_lease_expires_and_fences_it_out(
    fake_snow_wh: Warehouse, second_sf: Warehouse
) -> None:
    clock = Clock()
    crashed = WriterLease(fake_snow_wh, command="gold", ttl=TTL, clock=clock)
    crashed.acquire()
    successor = WriterLease(second_sf, command="gold", ttl=TTL, clock=clock)
    clock.now += timedelta(seconds=TTL / 2)
    with pytest.raises(WriterBusy):
        successor.acquire()  # not expired yet

    clock.now += timedelta(seconds=TTL)  # the crashed holder never renewed
    successor.acquire()

    sale = events_table([make_event("e1", "PURCHASE", "c1", amount="5.00")])
    with pytest.raises(CommitFailed, match="taken over"):
        fake_snow_wh.commit_batch(sale, None, BatchMeta("gold", "old", 0))
    assert not crashed.renew()
    second_sf.commit_batch(sale, None, BatchMeta("gold", "new", 0))
    assert second_sf.query("SELECT COUNT(*) AS n FROM silver_events") == [{"n": 1}]
    holder = successor.holder()
    assert holder is not None and holder.holder == successor.id


WRITER = """
import sys, threading
from shopstream.config import load_settings
from shopstream.warehouse.writer import writing
with writing(load_settings(home=sys.argv[1]), command="process", stop=threading.Event()):
    print("writing", flush=True)
    sys.stdin.read()
"""


def test_a_second_duckdb_writer_process_is_refused_naming_the_running_one(
    tmp_path: Path,
) -> None:
    settings = load_settings(home=tmp_path)
    running = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert running.stdout is not None and running.stdout.readline() == "writing\n"

        with (
            pytest.raises(WriterBusy) as caught,
            writing(settings, command="gold", stop=threading.Event()),
        ):
            pass

        message = str(caught.value)
        assert f"`process` on host {socket.gethostname()}, pid {running.pid}, since" in message
        assert "\n" not in message
    finally:
        if running.stdin is not None:
            running.stdin.close()
        running.wait(30)
    assert running.returncode == 0
    assert not sidecar_path(settings.duckdb_path).exists()  # removed on a clean stop


def test_a_stale_duckdb_sidecar_names_nobody(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    sidecar_path(settings.duckdb_path).write_text(
        f'{{"holder": "x", "host": "{socket.gethostname()}", "pid": 1, "command": "up"}}'
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys; c=duckdb.connect(sys.argv[1]); "
            "print('held', flush=True); sys.stdin.read()",
            str(settings.duckdb_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        # Some other program holds the file: an outage to wait out, not a second writer.
        with pytest.raises(WarehouseLocked):
            open_warehouse(settings, lock_timeout=0.0)
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.wait(30)
