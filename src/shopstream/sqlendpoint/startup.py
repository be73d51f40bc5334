"""A connection's first steps: TLS negotiation, start-up parameters, SCRAM-SHA-256 login.

All of it within `sql.auth_timeout_seconds` and on bounded messages (a start-up packet of at
most 10,000 bytes, SCRAM messages of at most 8 KiB): a client that connects and sends
nothing, or declares a huge password message, costs a socket and a thread for that long
and no memory to speak of.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shopstream.sqlendpoint import messages
from shopstream.sqlendpoint.errors import QUERY_CANCELED, PgError
from shopstream.sqlendpoint.limits import MAX_AUTH_BYTES, MAX_STARTUP_BYTES, Deadline
from shopstream.sqlendpoint.scram import MECHANISM, ScramError, ScramExchange
from shopstream.sqlendpoint.wire import WaitTimedOut, Wire

if TYPE_CHECKING:
    import ssl

    from shopstream.sqlendpoint.scram import Verifier


@dataclass(frozen=True)
class Login:
    """What the client asked for at start-up, once authenticated."""

    params: dict[str, str]


@dataclass(frozen=True)
class Cancel:
    """A CancelRequest: the key of the session whose statement to cancel."""

    pid: int
    secret: int


def handshake(
    wire: Wire,
    *,
    user: str,
    verifier: Verifier,
    ssl_context: ssl.SSLContext | None,
    timeout: float,
) -> Login | Cancel:
    """Negotiate, read the start-up packet and authenticate, all within `timeout` seconds."""
    deadline = Deadline(timeout)
    try:
        params = _startup(wire, ssl_context, deadline)
        if isinstance(params, Cancel):
            return params
        _authenticate(wire, user, verifier, params.get("user", ""), deadline)
    except WaitTimedOut:
        raise PgError(
            QUERY_CANCELED, "canceling authentication due to timeout", fatal=True
        ) from None
    return Login(params)


def _startup(
    wire: Wire, ssl_context: ssl.SSLContext | None, deadline: Deadline
) -> dict[str, str] | Cancel:
    while True:
        body = wire.read_startup(MAX_STARTUP_BYTES, deadline)
        (code,) = struct.unpack("!I", body[:4])
        if code == messages.SSL_REQUEST:
            if ssl_context is None:
                wire.send_now(b"N")
                continue
            wire.send_now(b"S")
            wire.start_tls(ssl_context, deadline)
            continue
        if code == messages.GSSENC_REQUEST:
            wire.send_now(b"N")
            continue
        if code == messages.CANCEL_REQUEST:
            if len(body) < 12:
                raise PgError("08P01", "invalid cancel request", fatal=True)
            return Cancel(*struct.unpack("!II", body[4:12]))
        if code >> 16 != 3:
            version = f"{code >> 16}.{code & 0xFFFF}"
            raise PgError("0A000", f"unsupported frontend protocol {version}", fatal=True)
        if code & 0xFFFF:
            # 3.2+ asked: answer NegotiateProtocolVersion, speak 3.0.
            wire.send_now(messages.message(b"v", struct.pack("!II", 0, 0)))
        try:
            return messages.startup_parameters(body[4:])
        except (ValueError, UnicodeDecodeError):
            raise PgError("08P01", "invalid startup packet", fatal=True) from None


def _authenticate(
    wire: Wire, user: str, verifier: Verifier, asked: str, deadline: Deadline
) -> None:
    failed = PgError("28P01", f'password authentication failed for user "{asked}"', fatal=True)
    wire.send_now(messages.auth(10, messages.cstr(MECHANISM) + b"\x00"))
    tag, body = wire.read_message(MAX_AUTH_BYTES, idle=deadline, within=deadline.remaining())
    if tag != b"p":
        raise failed
    exchange = ScramExchange(verifier)
    try:
        r = messages.Reader(body)
        if r.cstr() != MECHANISM:
            raise PgError("28000", f"only {MECHANISM} authentication is supported", fatal=True)
        first = exchange.server_first(r.take(r.int32()).decode())
        wire.send_now(messages.auth(11, first.encode()))
        tag, body = wire.read_message(MAX_AUTH_BYTES, idle=deadline, within=deadline.remaining())
        if tag != b"p":
            raise failed
        final = exchange.server_final(body.decode())
    except (ScramError, UnicodeDecodeError, ValueError, IndexError, struct.error):
        raise failed from None
    if asked != user:
        raise failed
    wire.send(messages.auth(12, final.encode()))
