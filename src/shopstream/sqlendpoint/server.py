"""The read-only PostgreSQL-protocol server over the writer's DuckDB connection.

One thread per client connection (`socketserver.ThreadingTCPServer`; DuckDB releases the
GIL while it works), at most `sql.max_connections` of them, counted from accept: a
connection over the cap is refused (SQLSTATE 53300) before a thread is made for it, so
sockets that never log in cannot multiply threads (1,000 of them once made 1,031).

Each client gets its own `cursor()` of the one connection the writing process holds:
DuckDB serves concurrent in-process readers that way. That instance is locked at open
(`warehouse.duckdb.lock_down`): no connection of it can reach a file other than its own
database and spill directory, load an extension or change a setting, whatever SQL it runs.
On top, statements pass `guard` (tokens) and `sandbox` (DuckDB's own parse tree), and run
in READ ONLY transactions (`execution`).
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import duckdb

from shopstream.sqlendpoint import messages
from shopstream.sqlendpoint.checker import Checker
from shopstream.sqlendpoint.limits import Limits, MemoryWatchdog
from shopstream.sqlendpoint.scram import Verifier
from shopstream.sqlendpoint.session import Session

if TYPE_CHECKING:
    from shopstream.warehouse.duckdb import WriterFirst

log = logging.getLogger(__name__)

TOO_MANY = messages.error("53300", "sorry, too many clients already", "FATAL")


class CursorSource(Protocol):
    """The writer's database: DuckDB cursors, and the commits its readers step aside for."""

    writes: WriterFirst

    def cursor(self) -> duckdb.DuckDBPyConnection: ...


@dataclass
class ServerConfig:
    """What every session needs; built once by `SqlEndpoint`."""

    source: CursorSource
    user: str
    verifier: Verifier
    limits: Limits = field(default_factory=Limits)
    ssl_context: ssl.SSLContext | None = None
    sessions: dict[tuple[int, int], Session] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    memory: MemoryWatchdog = field(init=False)
    checker: Checker = field(init=False)

    def __post_init__(self) -> None:
        self.memory = MemoryWatchdog(self.limits.client_memory_bytes)
        # Two: a client sending huge statements can keep one busy, the other serves the rest.
        self.checker = Checker(processes=2)

    def new_cursor(self) -> duckdb.DuckDBPyConnection:
        with self.lock:
            return self.source.cursor()

    def register(self, key: tuple[int, int], session: Session) -> None:
        with self.lock:
            self.sessions[key] = session

    def forget(self, key: tuple[int, int]) -> None:
        with self.lock:
            self.sessions.pop(key, None)

    def cancel(self, key: tuple[int, int]) -> None:
        with self.lock:
            target = self.sessions.get(key)
        if target is not None:
            target.cancel()

    def all_sessions(self) -> list[Session]:
        with self.lock:
            return list(self.sessions.values())


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], cfg: ServerConfig) -> None:
        self.cfg = cfg
        self._open = 0
        self._open_lock = threading.Lock()
        super().__init__(address, Session)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        """Start a session thread, or refuse at once when `max_connections` are open."""
        with self._open_lock:
            full = self._open >= self.cfg.limits.max_connections
            if not full:
                self._open += 1
        if full:
            _refuse(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open -= 1

    @property
    def open_connections(self) -> int:
        return self._open


def _refuse(request: socket.socket) -> None:
    """Tell a connection over the cap why, without waiting for it, and close it.

    What the client already sent is read off first (without waiting): closing a socket with
    unread input resets it, and the reset can overtake the error on its way.
    """
    try:
        request.setblocking(False)
        request.send(TOO_MANY)
        request.shutdown(socket.SHUT_WR)
        request.recv(1 << 16)
    except OSError:
        pass
    finally:
        request.close()
