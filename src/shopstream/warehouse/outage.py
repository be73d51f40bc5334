"""Riding out a warehouse outage: retry transient failures with capped exponential backoff.

While the warehouse is unavailable (a DuckDB file held by another process, Snowflake not
answering) Gold keeps its batch and retries; the outage is written to a small state file,
`<home>/warehouse-outage.json`, which `status` and `/health` read ("warehouse unavailable
since ..."), and removed by the first success. Terminal errors are raised at once.

Examples:
    >>> log = OutageLog(Path(tmp) / "warehouse-outage.json")  # doctest: +SKIP
    >>> retry_transient(commit, backoff=Backoff(), stop=stop, log=log)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from shopstream.errors import Transient
from shopstream.warehouse.exceptions import WarehouseError

if TYPE_CHECKING:
    from shopstream.config import Settings

T = TypeVar("T")


class RetryAbandoned(WarehouseError):
    """A stop was requested while waiting for the warehouse; nothing was committed."""


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff: initial, initial*2, ... up to `cap` seconds."""

    initial: float = 0.5
    cap: float = 30.0
    factor: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Backoff:
        """The backoff configured in `warehouse.retry_*_seconds`."""
        w = settings.warehouse
        return cls(initial=w.retry_initial_seconds, cap=w.retry_max_seconds)

    def delays(self) -> Iterator[float]:
        """The waits between attempts, forever (pure).

        Examples:
            >>> import itertools
            >>> list(itertools.islice(Backoff(0.5, 3.0).delays(), 5))
            [0.5, 1.0, 2.0, 3.0, 3.0]
        """
        delay = self.initial
        while True:
            yield min(delay, self.cap)
            delay = min(delay * self.factor, self.cap)


class OutageLog:
    """The outage state file: since when the warehouse is unavailable, and the last error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._since: datetime | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> OutageLog:
        return cls(settings.files.warehouse_outage)

    def failed(self, error: BaseException, attempts: int, retry_in: float) -> None:
        """Record a failed attempt (the first one starts the outage)."""
        now = datetime.now(UTC)
        self._since = self._since or now
        doc = {
            "since": self._since.isoformat(),
            "last_error": str(error),
            "attempts": attempts,
            "last_attempt_at": now.isoformat(),
            "retry_in_seconds": retry_in,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(doc))
        tmp.replace(self.path)  # readers never see half a file

    def recovered(self) -> None:
        """The warehouse answered: the outage (if any) is over."""
        if self._since is not None or self.path.exists():
            self.path.unlink(missing_ok=True)
        self._since = None

    @property
    def since(self) -> datetime | None:
        return self._since


def read_outage(settings: Settings) -> dict[str, Any] | None:
    """The current outage recorded under the home, if its writer process still runs."""
    path = settings.files.warehouse_outage
    try:
        doc: dict[str, Any] = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if doc.get("host") == socket.gethostname() and not _alive(int(doc.get("pid") or 0)):
        return None  # the process that waited is gone: nobody is waiting any more
    return doc


def _alive(pid: int) -> bool:
    from shopstream.procinfo import pid_alive

    return pid > 0 and pid_alive(pid)


def retry_transient(
    action: Callable[[], T],
    *,
    backoff: Backoff,
    stop: threading.Event,
    log: OutageLog,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Run `action` until it succeeds, retrying `Transient` errors with backoff.

    Terminal errors propagate at once. A `stop` set while waiting raises `RetryAbandoned`
    (the caller must not report success: nothing was done).
    """
    attempts = 0
    delays = backoff.delays()
    while True:
        try:
            result = action()
        except Transient as err:
            attempts += 1
            delay = next(delays)
            log.failed(err, attempts, delay)
            if on_retry is not None:
                on_retry(err, delay)
            if stop.wait(delay):
                raise RetryAbandoned(
                    f"stopped while waiting for the warehouse (unavailable since "
                    f"{log.since:%Y-%m-%d %H:%M:%S} UTC): {err}"
                ) from err
            continue
        log.recovered()
        return result
