"""PostgreSQL protocol v3 framing: server messages as bytes, client messages parsed.

Pure functions over bytes; see https://www.postgresql.org/docs/current/protocol-message-formats.html
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shopstream.sqlendpoint.types import PgType

PROTOCOL_V3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


def message(tag: bytes, body: bytes = b"") -> bytes:
    """One tagged message: tag, length (itself included), body."""
    return tag + struct.pack("!I", len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode() + b"\x00"


def auth(code: int, extra: bytes = b"") -> bytes:
    return message(b"R", struct.pack("!I", code) + extra)


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstr(name) + cstr(value))


def backend_key(pid: int, secret: int) -> bytes:
    return message(b"K", struct.pack("!II", pid, secret))


def ready(status: str) -> bytes:
    """ReadyForQuery: 'I' idle, 'T' in a transaction, 'E' in a failed transaction."""
    return message(b"Z", status.encode())


def row_description(
    columns: Sequence[tuple[str, PgType]], formats: Sequence[int] | None = None
) -> bytes:
    """RowDescription; `formats` per column (0 text, 1 binary), default all text."""
    body = struct.pack("!H", len(columns))
    for i, (name, t) in enumerate(columns):
        fmt = formats[i] if formats else 0
        body += cstr(name) + struct.pack("!IHIhih", 0, 0, t.oid, t.size, t.typmod, fmt)
    return message(b"T", body)


def data_row(values: Iterable[bytes | str | None]) -> bytes:
    parts = []
    n = 0
    for v in values:
        n += 1
        if v is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            raw = v.encode() if isinstance(v, str) else v
            parts.append(struct.pack("!I", len(raw)) + raw)
    return message(b"D", struct.pack("!H", n) + b"".join(parts))


def command_complete(tag: str) -> bytes:
    return message(b"C", cstr(tag))


def parameter_description(oids: Sequence[int]) -> bytes:
    return message(b"t", struct.pack(f"!H{len(oids)}I", len(oids), *oids))


EMPTY_QUERY = message(b"I")
PARSE_COMPLETE = message(b"1")
BIND_COMPLETE = message(b"2")
CLOSE_COMPLETE = message(b"3")
NO_DATA = message(b"n")
PORTAL_SUSPENDED = message(b"s")


def error(code: str, text: str, severity: str = "ERROR", hint: str | None = None) -> bytes:
    """ErrorResponse (or NoticeResponse with severity NOTICE) with SQLSTATE `code`."""
    fields = b"S" + cstr(severity) + b"V" + cstr(severity) + b"C" + cstr(code) + b"M" + cstr(text)
    if hint:
        fields += b"H" + cstr(hint)
    return message(b"N" if severity in ("NOTICE", "WARNING") else b"E", fields + b"\x00")


class Reader:
    """Cursor over one message body."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pos = 0

    def int16(self) -> int:
        (v,) = struct.unpack_from("!h", self.body, self.pos)
        self.pos += 2
        return int(v)

    def int32(self) -> int:
        (v,) = struct.unpack_from("!i", self.body, self.pos)
        self.pos += 4
        return int(v)

    def cstr(self) -> str:
        end = self.body.index(b"\x00", self.pos)
        text = self.body[self.pos : end].decode()
        self.pos = end + 1
        return text

    def take(self, n: int) -> bytes:
        raw = self.body[self.pos : self.pos + n]
        self.pos += n
        return raw

    def rest(self) -> bytes:
        raw = self.body[self.pos :]
        self.pos = len(self.body)
        return raw


def startup_parameters(body: bytes) -> dict[str, str]:
    """The key/value pairs of a StartupMessage body (after the protocol version)."""
    r = Reader(body)
    out: dict[str, str] = {}
    while r.pos < len(body) and body[r.pos] != 0:
        key = r.cstr()
        out[key] = r.cstr()
    return out


@dataclass
class Bind:
    portal: str
    statement: str
    param_formats: list[int]
    params: list[bytes | None]
    result_formats: list[int]


def parse_bind(body: bytes) -> Bind:
    r = Reader(body)
    portal, statement = r.cstr(), r.cstr()
    formats = [r.int16() for _ in range(r.int16())]
    params: list[bytes | None] = []
    for _ in range(r.int16()):
        n = r.int32()
        params.append(None if n < 0 else r.take(n))
    results = [r.int16() for _ in range(r.int16())]
    return Bind(portal, statement, formats, params, results)


def parse_parse(body: bytes) -> tuple[str, str, list[int]]:
    """Parse message: statement name, query text, declared parameter type OIDs."""
    r = Reader(body)
    name, query = r.cstr(), r.cstr()
    oids = [r.int32() & 0xFFFFFFFF for _ in range(r.int16())]
    return name, query, oids
