"""What one client may claim, before and after login, and the watchdog that holds them to it.

Every resource a client can make the writing process spend is bounded, each by a setting
with a safe default (`SqlSettings`): connections (counted before login, so sockets that
never log in take no thread beyond the cap), message sizes (a declared length beyond the
limit is refused before a byte of the body is read), time to log in, time idle, time a
result may wait for a client that stopped reading, a statement's time (parsing included)
and the memory the running statements take together (`MemoryWatchdog`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopstream.procinfo import rss_bytes

if TYPE_CHECKING:
    from shopstream.config import SqlSettings

# PostgreSQL's own bound on a start-up packet (MAX_STARTUP_PACKET_LENGTH).
MAX_STARTUP_BYTES = 10_000
# SCRAM's client messages are a few hundred bytes; nothing else is read before login.
MAX_AUTH_BYTES = 8 << 10
# How often the watchdog samples the process's memory while statements run: a statement
# allocating 1 GB/s overshoots its budget by ~20 MB before it is interrupted.
MEMORY_SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Limits:
    """The bounds of one endpoint, from `sql.*` settings (0 = none where a setting allows it)."""

    statement_timeout: float = 30.0
    max_connections: int = 32
    max_message_bytes: int = 1 << 20
    auth_timeout: float = 10.0
    idle_timeout: float = 600.0
    send_timeout: float = 30.0
    client_memory_bytes: int = 1 << 30

    @classmethod
    def from_settings(cls, sql: SqlSettings) -> Limits:
        return cls(
            statement_timeout=sql.statement_timeout_seconds,
            max_connections=sql.max_connections,
            max_message_bytes=sql.max_message_bytes,
            auth_timeout=sql.auth_timeout_seconds,
            idle_timeout=sql.idle_session_timeout_seconds,
            send_timeout=sql.send_timeout_seconds,
            client_memory_bytes=sql.client_memory_mb << 20,
        )


class Deadline:
    """A point in time (monotonic) that a phase must end by; None = no deadline."""

    def __init__(self, seconds: float | None) -> None:
        self.at = None if not seconds else time.monotonic() + seconds

    def remaining(self) -> float | None:
        """Seconds left (never below a millisecond, so a socket timeout stays a timeout)."""
        return None if self.at is None else max(self.at - time.monotonic(), 0.001)

    @property
    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at


class MemoryWatchdog:
    """Cancels the running client statements while they have grown the process too much.

    DuckDB has no per-connection memory limit (2.0.1: `memory_limit` is the instance's, and
    it bounds the buffer manager only), so the endpoint measures what matters, the writing
    process's resident memory: from when the first of the running statements began, the
    statements together may add `limit` bytes; beyond it each gets `on_exceeded()` (the
    session interrupts its cursor and answers SQLSTATE 53200). Sampling runs only while a
    statement runs, so an idle endpoint costs nothing.
    """

    def __init__(self, limit: int, *, rss: Callable[[], int] | None = None) -> None:
        self.limit = limit
        self._rss = rss or (lambda: rss_bytes(os.getpid()))
        self._lock = threading.Lock()
        self._running: dict[int, Callable[[], None]] = {}
        self._told: set[int] = set()
        self._baseline = 0
        self._thread: threading.Thread | None = None
        self.cancelled = 0  # statements cancelled for memory, for tests and metrics

    @contextlib.contextmanager
    def running(self, on_exceeded: Callable[[], None]) -> Iterator[None]:
        """Count a statement as running for the block; `on_exceeded` cancels it."""
        key = id(on_exceeded)
        with self._lock:
            if not self._running:
                self._baseline = self._rss()
            self._running[key] = on_exceeded
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="sql-memory-watchdog", daemon=True
                )
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._running.pop(key, None)
                self._told.discard(key)

    def _watch(self) -> None:
        while True:
            time.sleep(MEMORY_SAMPLE_SECONDS)
            with self._lock:
                if not self._running:
                    self._thread = None
                    return
                over = self._rss() - self._baseline > self.limit
                victims = [(k, c) for k, c in self._running.items() if k not in self._told]
                if not over:
                    victims = []
                self._told.update(k for k, _ in victims)
                self.cancelled += len(victims)
            for _, cancel in victims:
                cancel()
