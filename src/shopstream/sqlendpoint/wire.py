"""One client's socket: bounded, timed reads of protocol messages and timed, buffered sends.

Nothing is read without a bound: a message's declared length is checked before a byte of
its body is read (a client that declares 2 GiB is refused at once, not buffered), and every
wait has a timeout, so a client that stalls mid-message or stops reading its result cannot
hold the thread, nor the snapshot its statement reads, for longer than the settings allow.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct

from shopstream.sqlendpoint import messages
from shopstream.sqlendpoint.errors import (
    PROGRAM_LIMIT,
    PROTOCOL_VIOLATION,
    ClientGone,
    ClientStalled,
    PgError,
)
from shopstream.sqlendpoint.limits import Deadline

_FLUSH_BYTES = 1 << 16


class Wire:
    """Reads and writes protocol messages on one socket (plain or TLS)."""

    def __init__(self, sock: socket.socket, send_timeout: float) -> None:
        self.sock = sock
        self.send_timeout = send_timeout
        self._out: list[bytes] = []
        self._out_size = 0

    def start_tls(self, context: ssl.SSLContext, deadline: Deadline) -> None:
        self.sock.settimeout(deadline.remaining())
        try:
            self.sock = context.wrap_socket(self.sock, server_side=True)
        except (TimeoutError, ssl.SSLError, OSError):
            raise ClientGone from None

    # ---- reading ----------------------------------------------------------------------

    def _recv(self, n: int, timeout: float | None) -> bytes:
        """Exactly `n` bytes, each wait at most `timeout` s (None = forever)."""
        self.sock.settimeout(timeout)
        chunks, got = [], 0
        while got < n:
            try:
                chunk = self.sock.recv(min(n - got, 1 << 20))
            except TimeoutError:
                raise
            except (OSError, ssl.SSLError):
                raise ClientGone from None
            if not chunk:
                raise ClientGone
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def read_startup(self, max_bytes: int, deadline: Deadline) -> bytes:
        """One start-up packet's body (after its length), within `deadline`."""
        (length,) = struct.unpack("!I", self._recv_by(4, deadline))
        if not 8 <= length <= max_bytes:
            raise PgError(PROTOCOL_VIOLATION, "invalid length of startup packet", fatal=True)
        return self._recv_by(length - 4, deadline)

    def read_message(
        self, max_bytes: int, *, idle: Deadline, within: float | None
    ) -> tuple[bytes, bytes]:
        """(tag, body) of the next message.

        The first byte may take until `idle`; once a message has begun, the rest must come
        within `within` s of each wait. A declared length over `max_bytes` is refused before
        its body is read (the stream cannot be resynchronized, so the connection ends).
        """
        tag = self._recv_by(1, idle)
        (length,) = struct.unpack("!I", self._recv_timed(4, within))
        if length < 4:
            raise PgError(PROTOCOL_VIOLATION, f"invalid message length {length}", fatal=True)
        if length - 4 > max_bytes:
            raise PgError(
                PROGRAM_LIMIT,
                f"message of {length - 4:,} bytes exceeds the SQL endpoint's limit of "
                f"{max_bytes:,} bytes (sql.max_message_bytes)",
                fatal=True,
            )
        return tag, self._recv_timed(length - 4, within)

    def _recv_by(self, n: int, deadline: Deadline) -> bytes:
        try:
            return self._recv(n, deadline.remaining())
        except TimeoutError:
            raise WaitTimedOut from None

    def _recv_timed(self, n: int, timeout: float | None) -> bytes:
        try:
            return self._recv(n, timeout)
        except TimeoutError:
            raise ClientStalled from None

    # ---- writing ----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size >= _FLUSH_BYTES:
            self.flush()

    def send_now(self, data: bytes) -> None:
        self.send(data)
        self.flush()

    def flush(self) -> None:
        """Send what is buffered; a client that takes none of it for `send_timeout` s is gone."""
        if not self._out:
            return
        data = b"".join(self._out)
        self._out.clear()
        self._out_size = 0
        self.sock.settimeout(self.send_timeout)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise ClientStalled from None
        except (OSError, ssl.SSLError):
            raise ClientGone from None

    def send_error(self, err: PgError) -> None:
        severity = "FATAL" if err.fatal else "ERROR"
        self.send_now(messages.error(err.code, err.text, severity, err.hint))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class WaitTimedOut(Exception):
    """A deadline (login, idle session) passed while waiting for the client."""
