"""One writer per warehouse: a lease row in the warehouse itself, so it holds across machines.

The writer (`gold`, `process`, `up`) takes the lease at start with one conditional UPDATE
(see sql/lease.sql), renews it every third of its TTL from a thread, re-checks it inside
every commit's transaction (a writer that lost it commits nothing), and frees it on a clean
stop. A crashed holder stops renewing, so its lease expires after the TTL and the next
writer takes it. On DuckDB the file lock already keeps a second writer process out; the
lease is taken by force there (holding the file proves the previous holder is gone), and a
sidecar file `<file>.writer.json` lets the refused process name the running one.

Examples:
    >>> lease = WriterLease(wh, command="gold", ttl=60.0)  # doctest: +SKIP
    >>> lease.acquire()  # raises WriterBusy naming the holder  # doctest: +SKIP
    >>> lease.start_renewing()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from shopstream.errors import ShopstreamError
from shopstream.home import writer_sidecar
from shopstream.warehouse.base import Warehouse
from shopstream.warehouse.batch import utcnow
from shopstream.warehouse.dialect import lease_statements
from shopstream.warehouse.exceptions import WriterBusy

LEASE_NAME = "writer"


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, as read from its row (or the DuckDB sidecar)."""

    holder: str
    host: str | None
    pid: int | None
    command: str | None
    acquired_at: datetime | None
    expires_at: datetime | None

    def describe(self) -> str:
        """`process` on host h, pid 12, since 2026-12-01 04:00:00 UTC (pure)."""
        since = f"{self.acquired_at:%Y-%m-%d %H:%M:%S} UTC" if self.acquired_at else "?"
        return f"`{self.command or '?'}` on host {self.host}, pid {self.pid}, since {since}"


class WriterLease:
    """The writer lease of one warehouse, held by this process."""

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        command: str,
        ttl: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.warehouse = warehouse
        self.command = command
        self.ttl = timedelta(seconds=ttl)
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.id = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:12]}"
        self._sql = lease_statements(warehouse.kind)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, *, force: bool = False) -> None:
        """Take the lease (free, expired, or `force`d); raise WriterBusy naming the holder."""
        now = self.clock()
        self._execute("seed", [LEASE_NAME, LEASE_NAME])
        self._execute(
            "take",
            [
                self.id,
                self.host,
                self.pid,
                self.command,
                now,
                now,
                now + self.ttl,
                LEASE_NAME,
                self.id,
                now,
                force,
            ],
        )
        holder = self.holder()
        if holder is None or holder.holder != self.id:
            who = holder.describe() if holder else "another writer"
            until = f"{holder.expires_at:%Y-%m-%d %H:%M:%S} UTC" if holder else "?"
            raise WriterBusy(
                f"another shopstream writer is running against {self.warehouse.target()}: "
                f"{who}. Stop it first; if it crashed, its lease expires at {until} "
                f"(warehouse.lease_ttl_seconds = {self.ttl.total_seconds():g}) and the "
                "next start takes over."
            )
        self.warehouse.fence = (LEASE_NAME, self.id, self.ttl)

    def holder(self) -> Holder | None:
        """The lease's current holder (None when free)."""
        rows = self.warehouse.query(self._sql["read"], [LEASE_NAME])
        if not rows or rows[0]["holder"] is None:
            return None
        return _holder(rows[0])

    def renew(self) -> bool:
        """Push the expiry forward; False if the lease is no longer ours."""
        now = self.clock()
        self._execute("renew", [now, now + self.ttl, LEASE_NAME, self.id])
        current = self.holder()
        return current is not None and current.holder == self.id

    def start_renewing(self) -> None:
        """Renew every third of the TTL from a daemon thread until `release`."""

        def loop() -> None:
            while not self._stop.wait(self.ttl.total_seconds() / 3):
                # A failed renewal is retried next round; commits check the lease anyway.
                with contextlib.suppress(ShopstreamError):
                    self.renew()

        self._thread = threading.Thread(target=loop, name="writer-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and free the lease (if still ours); never raises."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.warehouse.fence = None
        with contextlib.suppress(ShopstreamError):
            self._execute("release", [LEASE_NAME, self.id])

    def _execute(self, name: str, params: list[Any]) -> None:
        self.warehouse.execute(self._sql[name], params)


def _holder(row: dict[str, Any]) -> Holder:
    return Holder(
        holder=str(row["holder"]),
        host=row.get("host"),
        pid=int(row["pid"]) if row.get("pid") is not None else None,
        command=row.get("command"),
        acquired_at=row.get("acquired_at"),
        expires_at=row.get("expires_at"),
    )


# ---- DuckDB: naming the writer that holds the file ---------------------------------------


def sidecar_path(database: Path) -> Path:
    """`<file>.writer.json`: who writes a DuckDB file, readable while the file is locked."""
    return writer_sidecar(database)


def write_sidecar(database: Path, lease: WriterLease) -> None:
    """Record this writer beside the DuckDB file (removed by `remove_sidecar`)."""
    doc = {
        "holder": lease.id,
        "host": lease.host,
        "pid": lease.pid,
        "command": lease.command,
        "acquired_at": lease.clock().isoformat(),
    }
    sidecar_path(database).write_bytes(orjson.dumps(doc))


def remove_sidecar(database: Path, lease: WriterLease) -> None:
    """Remove the sidecar if it is still ours."""
    path = sidecar_path(database)
    with contextlib.suppress(OSError, orjson.JSONDecodeError):
        if orjson.loads(path.read_bytes()).get("holder") == lease.id:
            path.unlink()


def sidecar_holder(database: Path, lock_pid: int | None) -> Holder | None:
    """The shopstream writer holding `database`, if the sidecar names the lock's process."""
    try:
        doc = orjson.loads(sidecar_path(database).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if lock_pid is None or doc.get("pid") != lock_pid or doc.get("host") != socket.gethostname():
        return None  # a stale sidecar, or the file is held by some other program
    acquired = doc.get("acquired_at")
    return Holder(
        holder=str(doc.get("holder")),
        host=doc.get("host"),
        pid=doc.get("pid"),
        command=doc.get("command"),
        acquired_at=datetime.fromisoformat(acquired) if acquired else None,
        expires_at=None,
    )
