"""A PostgreSQL wire-protocol client on a raw socket, for tests that misbehave on purpose.

It speaks exactly what the test tells it to (a start-up packet, SCRAM-SHA-256 login, any
message with any declared length), so attacks that a real driver would never send can be
sent: huge declared lengths, truncated or malformed messages, clients that never read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
from dataclasses import dataclass

PROTOCOL_V3 = 196608


def message(tag: bytes, body: bytes = b"") -> bytes:
    return tag + struct.pack("!I", len(body) + 4) + body


def startup_packet(user: str, database: str = "shopstream") -> bytes:
    body = struct.pack("!I", PROTOCOL_V3)
    for key, value in (("user", user), ("database", database)):
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


@dataclass
class Reply:
    tag: bytes
    body: bytes

    @property
    def sqlstate(self) -> str | None:
        """The SQLSTATE of an ErrorResponse (None for other messages)."""
        if self.tag != b"E":
            return None
        for field in self.body.split(b"\0"):
            if field[:1] == b"C":
                return field[1:].decode()
        return None

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class RawClient:
    """One connection; `timeout` bounds every wait, so a test never hangs."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv_exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("server closed the connection")
            out += chunk
        return out

    def read(self) -> Reply:
        tag = self.recv_exact(1)
        (length,) = struct.unpack("!I", self.recv_exact(4))
        return Reply(tag, self.recv_exact(length - 4))

    def read_until(self, tag: bytes = b"Z") -> list[Reply]:
        """Messages up to and including the first with `tag` (ReadyForQuery by default),
        or up to a FATAL error / the server closing."""
        out: list[Reply] = []
        while True:
            try:
                reply = self.read()
            except (ConnectionError, OSError):
                return out
            out.append(reply)
            if reply.tag == tag or (reply.tag == b"E" and b"SFATAL" in reply.body):
                return out

    def closed_by_server(self) -> bool:
        """Whether the server has closed its end (reads EOF or a reset within the timeout)."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def login(self, user: str, password: str) -> list[Reply]:
        """Start-up and SCRAM-SHA-256; the replies up to ReadyForQuery."""
        self.send(startup_packet(user))
        self.read()  # AuthenticationSASL
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=,r={nonce}"
        first = f"n,,{first_bare}".encode()
        mech = b"SCRAM-SHA-256\0"
        self.send(message(b"p", mech + struct.pack("!i", len(first)) + first))
        server_first = self.read().body[4:].decode()
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        salted = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
        )
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored = hashlib.sha256(client_key).digest()
        final_bare = f"c=biws,r={attrs['r']}"
        auth = f"{first_bare},{server_first},{final_bare}".encode()
        signature = hmac.new(stored, auth, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        final = f"{final_bare},p={base64.b64encode(proof).decode()}"
        self.send(message(b"p", final.encode()))
        return self.read_until()

    def query(self, sql: str | bytes) -> list[Reply]:
        raw = sql.encode() if isinstance(sql, str) else sql
        self.send(message(b"Q", raw + b"\0"))
        return self.read_until()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
