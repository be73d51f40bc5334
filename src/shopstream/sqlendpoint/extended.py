"""The extended query protocol of one session: Parse, Bind, Describe, Execute, Close, Sync.

JDBC, psycopg's prepared statements and most BI drivers speak it. Parameters are values
bound by DuckDB, never spliced into the text, so they cannot change what a statement is;
the statement itself passes the same two checks as a simple query. A malformed message is
a protocol violation (08P01): the session skips to the next Sync, as PostgreSQL does.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shopstream.sqlendpoint import compat, guard, messages, types
from shopstream.sqlendpoint.errors import PROTOCOL_VIOLATION, PgError

if TYPE_CHECKING:
    from shopstream.sqlendpoint.execution import Result
    from shopstream.sqlendpoint.session import Session
    from shopstream.sqlendpoint.wire import Wire

# What a malformed message body raises while it is taken apart.
_MALFORMED = (struct.error, IndexError, ValueError, UnicodeDecodeError)


@dataclass
class Prepared:
    statement: guard.Statement
    param_oids: list[int]


@dataclass
class Portal:
    prepared: Prepared
    params: list[Any]
    result_formats: list[int] = field(default_factory=list)
    result: Result | None = None


class Extended:
    """Prepared statements and portals of one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.prepared: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.skipping = False  # after an error, until Sync

    def handle(self, tag: bytes, body: bytes) -> None:
        s = self.session
        if tag == b"S":
            self.skipping = False
            if s.txn == "I":  # outside a block, portals end at Sync with their transaction
                self.portals.clear()
                s.end_statement()
            s.wire.send_now(messages.ready(s.txn))
            return
        if tag == b"H":
            s.wire.flush()
            return
        if self.skipping:
            return
        try:
            self._dispatch(tag, body)
        except _MALFORMED as err:
            self._failed(PgError(PROTOCOL_VIOLATION, f"malformed {tag!r} message: {err}"))
        except PgError as err:
            self._failed(err)

    def _failed(self, err: PgError) -> None:
        self.session.fail(err)
        self.skipping = True

    def _dispatch(self, tag: bytes, body: bytes) -> None:
        wire = self.session.wire
        if tag == b"P":
            self._parse(body)
        elif tag == b"B":
            self._bind(body)
        elif tag == b"D":
            self._describe(body[:1], body[1:-1].decode())
        elif tag == b"E":
            r = messages.Reader(body)
            name, limit = r.cstr(), r.int32()
            send_rows(wire, self._run(self._get(self.portals, name, "portal")), limit)
        elif tag == b"C":
            kind, name = body[:1], body[1:-1].decode()
            (self.prepared if kind == b"S" else self.portals).pop(name, None)
            wire.send(messages.CLOSE_COMPLETE)
        else:
            raise PgError(PROTOCOL_VIOLATION, f"unexpected message type {tag!r}")

    def _parse(self, body: bytes) -> None:
        name, query, oids = messages.parse_parse(body)
        parts = self.session.check(query)
        if len(parts) > 1:
            raise PgError("42601", "cannot insert multiple commands into a prepared statement")
        stmt = parts[0] if parts else guard.Statement("empty", "")
        self.prepared[name] = Prepared(stmt, oids)
        self.session.wire.send(messages.PARSE_COMPLETE)

    def _bind(self, body: bytes) -> None:
        bind = messages.parse_bind(body)
        prepared = self._get(self.prepared, bind.statement, "prepared statement")
        if any(f not in (0, 1) for f in bind.result_formats):
            raise PgError(PROTOCOL_VIOLATION, f"invalid result format codes {bind.result_formats}")
        params = _decode_params(prepared, bind)
        self.portals[bind.portal] = Portal(prepared, params, bind.result_formats)
        self.session.wire.send(messages.BIND_COMPLETE)

    def _describe(self, kind: bytes, name: str) -> None:
        wire = self.session.wire
        if kind == b"S":
            self._describe_statement(self._get(self.prepared, name, "prepared statement"))
            return
        result = self._run(self._get(self.portals, name, "portal"))
        cols = result.columns
        wire.send(
            messages.NO_DATA if cols is None else messages.row_description(cols, result.formats)
        )

    def _run(self, portal: Portal) -> Result:
        """The portal's result, run on first use, with the formats its Bind asked for."""
        if portal.result is None:
            result = self.session.execute(portal.prepared.statement, portal.params)
            if result.columns is not None and portal.result_formats:
                n, asked = len(result.columns), portal.result_formats
                result.formats = asked * n if len(asked) == 1 else asked
                if len(result.formats) != n:
                    raise PgError(
                        PROTOCOL_VIOLATION, f"{len(asked)} result formats for {n} columns"
                    )
            portal.result = result
        return portal.result

    def _describe_statement(self, prepared: Prepared) -> None:
        s, stmt = self.session, prepared.statement
        wire = s.wire
        n = _param_count(stmt.sql)
        oids = [*prepared.param_oids[:n], *[types.TEXT] * (n - len(prepared.param_oids))]
        wire.send(messages.parameter_description([o or types.TEXT for o in oids]))
        if stmt.kind == "show" and stmt.name in s.show_values():
            wire.send(
                messages.row_description(
                    [(compat.show_column(stmt.name), types.PgType(types.TEXT))]
                )
            )
        elif stmt.kind == "refused":
            raise PgError(stmt.code, stmt.reason, hint=guard.HINT)
        elif stmt.kind in ("read", "show") and stmt.run is not None:
            assert s.executor is not None
            columns = s.executor.columns_of(stmt.run, [None] * n, s.deadline)
            wire.send(messages.NO_DATA if columns is None else messages.row_description(columns))
        else:
            wire.send(messages.NO_DATA)

    @staticmethod
    def _get(store: dict[str, Any], name: str, what: str) -> Any:
        if name not in store:
            code = "34000" if what == "portal" else "26000"
            raise PgError(code, f'{what} "{name}" does not exist')
        return store[name]


def _decode_params(prepared: Prepared, bind: messages.Bind) -> list[Any]:
    out = []
    for i, raw in enumerate(bind.params):
        oid = prepared.param_oids[i] if i < len(prepared.param_oids) else 0
        formats = bind.param_formats
        fmt = formats[0 if len(formats) == 1 else i] if formats else 0
        try:
            if raw is None:
                out.append(None)
            elif fmt == 1:
                out.append(types.from_binary(raw, oid))
            else:
                out.append(types.from_text(raw.decode(), oid))
        except (ValueError, struct.error, UnicodeDecodeError) as err:
            raise PgError("22P02", f"parameter ${i + 1}: {err}") from None
    return out


def send_rows(wire: Wire, result: Result, limit: int) -> None:
    """DataRows (up to `limit` if > 0), then CommandComplete or PortalSuspended."""
    if result.columns is None:
        wire.send(
            messages.EMPTY_QUERY if result.tag == "" else messages.command_complete(result.tag)
        )
        return
    rows, last = result.take(limit)
    if result.formats and 1 in result.formats:
        oids = [t.oid for _, t in result.columns]
        for row in rows:
            data = messages.data_row(_encode_row(row, oids, result.formats))
            result.check()
            wire.send(data)
            result.sent += 1
    else:
        for row in rows:
            data = messages.data_row(None if v is None else types.to_text(v) for v in row)
            result.check()
            wire.send(data)
            result.sent += 1
    if last:
        wire.send(messages.command_complete(result.tag or f"SELECT {result.sent}"))
    else:
        wire.send(messages.PORTAL_SUSPENDED)


def _encode_row(row: tuple[Any, ...], oids: list[int], formats: list[int]) -> list[bytes | None]:
    out: list[bytes | None] = []
    for value, oid, fmt in zip(row, oids, formats, strict=True):
        if value is None:
            out.append(None)
        elif fmt == 1:
            try:
                out.append(types.to_binary(value, oid))
            except (TypeError, ValueError, OverflowError, struct.error) as err:
                raise PgError(
                    "22P03", f"cannot send {value!r} as binary type {oid}: {err}"
                ) from None
        else:
            out.append(types.to_text(value).encode())
    return out


def _param_count(sql: str) -> int:
    return max((int(n) for n in re.findall(r"\$(\d+)", sql)), default=0)
