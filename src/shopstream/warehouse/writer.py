"""The writer's warehouse: opened, initialized and leased, waiting out outages on the way.

`gold`, `process` and `up` open the warehouse through `writing()`: a transient failure
(a DuckDB file held by another program, Snowflake not answering) is retried with backoff
and recorded for `status` (outage.py); a second shopstream writer, or a terminal error (a
foreign table, no permission), stops the command with a one-line message naming the fix.

Examples:
    >>> with writing(settings, command="gold", stop=stop) as wh:  # doctest: +SKIP
    ...     run_queries(wh)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from shopstream.warehouse.base import Warehouse
from shopstream.warehouse.factory import open_warehouse
from shopstream.warehouse.lease import WriterLease, remove_sidecar, write_sidecar
from shopstream.warehouse.outage import Backoff, OutageLog, retry_transient

if TYPE_CHECKING:
    from shopstream.config import Settings

# Seconds one open attempt waits for a locked DuckDB file before the backoff takes over.
OPEN_LOCK_TIMEOUT = 1.0


@contextmanager
def writing(
    settings: Settings,
    *,
    command: str,
    stop: threading.Event,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> Iterator[Warehouse]:
    """The warehouse, initialized, with this process holding its writer lease.

    Raises RetryAbandoned if `stop` is set while waiting for the warehouse, WriterBusy if
    another writer runs, and any terminal warehouse error as it is.
    """

    def attempt() -> tuple[Warehouse, WriterLease]:
        wh = open_warehouse(settings, lock_timeout=OPEN_LOCK_TIMEOUT)
        try:
            wh.init()
            lease = WriterLease(wh, command=command, ttl=settings.warehouse.lease_ttl_seconds)
            # Holding a DuckDB file for writing proves any previous holder is gone.
            lease.acquire(force=wh.kind == "duckdb")
        except BaseException:
            wh.close()
            raise
        return wh, lease

    wh, lease = retry_transient(
        attempt,
        backoff=Backoff.from_settings(settings),
        stop=stop,
        log=OutageLog.for_settings(settings),
        on_retry=on_retry,
    )
    duckdb_file = settings.duckdb_path if wh.kind == "duckdb" else None
    try:
        if duckdb_file is not None:
            write_sidecar(duckdb_file, lease)
        lease.start_renewing()
        yield wh
    finally:
        lease.release()
        if duckdb_file is not None:
            remove_sidecar(duckdb_file, lease)
        wh.close()
