"""The read-only PostgreSQL-protocol server over the writer's DuckDB connection.

One thread per client connection (`socketserver.ThreadingTCPServer`; DuckDB releases the
GIL while it works). Each client gets its own `cursor()` of the one connection the writing
process holds: DuckDB serves concurrent in-process readers that way, and each statement runs
in a READ ONLY transaction, so it sees committed data only (never half a Gold batch) and
cannot write even if the allow-list in `guard` missed something.

DuckDB settings give no per-cursor sandbox for file reads (checked on 2.0.1):
`SET enable_external_access = false` issued on a cursor applies to the whole database
instance, Gold's writer included, and cannot be undone; `lock_configuration` likewise.
So file and URL reads are stopped by `guard` and by requiring DuckDB's own parser to see
one SELECT/EXPLAIN (`_check_with_duckdb`), not by a setting.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import secrets
import socket
import socketserver
import ssl
import struct
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb

from shopstream.sqlendpoint import compat, guard, messages, types
from shopstream.sqlendpoint.scram import MECHANISM, ScramError, ScramExchange, Verifier
from shopstream.warehouse.duckdb import WriterFirst

log = logging.getLogger(__name__)

_FETCH = 1000
_FLUSH_BYTES = 1 << 16


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
    statement_timeout: float = 0.0
    max_connections: int = 32
    ssl_context: ssl.SSLContext | None = None
    sessions: dict[tuple[int, int], Session] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_cursor(self) -> duckdb.DuckDBPyConnection:
        with self.lock:
            return self.source.cursor()


class ClientGone(Exception):
    """The client closed the connection (or sent Terminate)."""


class PgError(Exception):
    """An error to send as ErrorResponse with a SQLSTATE."""

    def __init__(self, code: str, text: str, *, fatal: bool = False, hint: str | None = None):
        super().__init__(text)
        self.code = code
        self.text = text
        self.fatal = fatal
        self.hint = hint


@dataclass
class Result:
    """A statement's outcome: columns (None = no rows) and rows to stream, or a tag."""

    tag: str
    columns: list[tuple[str, types.PgType]] | None = None
    rows: Iterator[tuple[Any, ...]] = field(default_factory=lambda: iter(()))
    formats: list[int] | None = None  # per column, 1 = binary (extended protocol only)
    sent: int = 0
    _peeked: list[tuple[Any, ...]] = field(default_factory=list)

    def take(self, limit: int) -> tuple[Iterator[tuple[Any, ...]], bool]:
        """Up to `limit` rows (all if limit <= 0) and whether that is the last of them."""
        if limit <= 0:
            return itertools.chain(self._peeked, self.rows), True
        batch = [*self._peeked, *itertools.islice(self.rows, limit - len(self._peeked))]
        self._peeked = list(itertools.islice(self.rows, 1))
        return iter(batch), not self._peeked


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


def _error_of(err: Exception) -> PgError:
    """A DuckDB exception as a PostgreSQL error (SQLSTATE by kind; first line of text)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, duckdb.InterruptException):
        return PgError("57014", "canceling statement due to statement timeout or user request")
    if isinstance(err, duckdb.ParserException):
        return PgError("42601", text)
    if isinstance(err, duckdb.CatalogException):
        code = "42883" if "Function" in text or "Macro" in text else "42P01"
        return PgError(code, text)
    if isinstance(err, duckdb.BinderException):
        return PgError("42703", text)
    if isinstance(err, duckdb.ConversionException | duckdb.InvalidInputException):
        return PgError("22P02", text)
    if isinstance(err, duckdb.PermissionException):
        return PgError("42501", text)
    if isinstance(err, duckdb.TransactionException) and "read-only" in text:
        return PgError(guard.READ_ONLY, text)
    if isinstance(err, duckdb.OutOfMemoryException):
        return PgError("53200", text)
    return PgError("XX000", text)


def _parse_timeout(value: str) -> float:
    """PostgreSQL's statement_timeout value (ms when unitless) in seconds; 0 = none."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*", value.lower())
    if not m:
        raise PgError("22023", f'invalid value for parameter "statement_timeout": "{value}"')
    scale = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}[m[2] or "ms"]
    return float(m[1]) * scale


class Session(socketserver.BaseRequestHandler):
    """One client connection: startup, authentication, then queries until Terminate."""

    server: _Server
    sock: socket.socket

    def setup(self) -> None:
        self.cfg = self.server.cfg
        self.sock = self.request
        self.out: list[bytes] = []
        self.out_size = 0
        self.txn = "I"
        self.params: dict[str, str] = {}
        self.prepared: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.cursor: duckdb.DuckDBPyConnection | None = None
        self.key = (os.getpid() & 0x7FFFFFFF, secrets.randbits(31))
        self.timeout = self.cfg.statement_timeout
        self.canceled = False
        # A statement a commit may interrupt (to run it again after): see `preempt`.
        self._preemptible = False
        self._preempted = False
        self._preempt_lock = threading.Lock()
        self.reruns = 0  # statements run again after a commit interrupted them
        self._stream: Generator[tuple[Any, ...], None, None] | None = None

    # ---- I/O --------------------------------------------------------------------------

    def _recv(self, n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            chunk = self.sock.recv(n - got)
            if not chunk:
                raise ClientGone
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _read_message(self) -> tuple[bytes, bytes]:
        tag = self._recv(1)
        (length,) = struct.unpack("!I", self._recv(4))
        return tag, self._recv(length - 4)

    def send(self, data: bytes) -> None:
        self.out.append(data)
        self.out_size += len(data)
        if self.out_size >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.out:
            self.sock.sendall(b"".join(self.out))
            self.out.clear()
            self.out_size = 0

    def _send_error(self, err: PgError) -> None:
        severity = "FATAL" if err.fatal else "ERROR"
        self.send(messages.error(err.code, err.text, severity, err.hint))
        self.flush()

    # ---- lifecycle --------------------------------------------------------------------

    def handle(self) -> None:
        try:
            if not self._startup():
                return
            self._loop()
        except PgError as err:
            with contextlib.suppress(OSError):
                self._send_error(err)
        except (ClientGone, ConnectionError, ssl.SSLError, OSError):
            pass
        except Exception:  # a bug must not take the writer process down: log, drop client
            log.exception("SQL endpoint session failed")
        finally:
            self._close()

    def _close(self) -> None:
        self._close_stream()
        with self.cfg.lock:
            self.cfg.sessions.pop(self.key, None)
        if self.cursor is not None:
            self.cursor.close()
            self.cursor = None

    def _startup(self) -> bool:
        """SSL negotiation, startup parameters, SCRAM; False for a CancelRequest."""
        while True:
            (length,) = struct.unpack("!I", self._recv(4))
            if not 8 <= length <= 10_000:
                raise ClientGone
            body = self._recv(length - 4)
            (code,) = struct.unpack("!I", body[:4])
            if code == messages.SSL_REQUEST:
                if self.cfg.ssl_context is None:
                    self.sock.sendall(b"N")
                    continue
                self.sock.sendall(b"S")
                self.sock = self.cfg.ssl_context.wrap_socket(self.sock, server_side=True)
                continue
            if code == messages.GSSENC_REQUEST:
                self.sock.sendall(b"N")
                continue
            if code == messages.CANCEL_REQUEST:
                pid, secret = struct.unpack("!II", body[4:12])
                with self.cfg.lock:
                    target = self.cfg.sessions.get((pid, secret))
                if target is not None:
                    target.cancel()
                return False
            if code >> 16 != 3:
                version = f"{code >> 16}.{code & 0xFFFF}"
                raise PgError("0A000", f"unsupported frontend protocol {version}", fatal=True)
            if code & 0xFFFF:
                # 3.2+ asked: answer NegotiateProtocolVersion, speak 3.0.
                self.sock.sendall(messages.message(b"v", struct.pack("!II", 0, 0)))
            self.params = messages.startup_parameters(body[4:])
            break
        self._authenticate(self.params.get("user", ""))
        with self.cfg.lock:
            if len(self.cfg.sessions) >= self.cfg.max_connections:
                raise PgError("53300", "sorry, too many clients already", fatal=True)
            self.cfg.sessions[self.key] = self
        self.cursor = self.cfg.new_cursor()
        for stmt in compat.session_setup(self.cfg.user, duckdb.__version__, self.key[0]):
            self.cursor.execute(stmt)
        self.send(messages.auth(0))
        status = compat.parameters(self.cfg.user, self.params.get("application_name", ""))
        self.status = status
        for name, value in status.items():
            self.send(messages.parameter_status(name, value))
        self.send(messages.backend_key(*self.key))
        self.send(messages.ready(self.txn))
        self.flush()
        return True

    def _authenticate(self, user: str) -> None:
        failed = PgError("28P01", f'password authentication failed for user "{user}"', fatal=True)
        self.sock.sendall(messages.auth(10, messages.cstr(MECHANISM) + b"\x00"))
        tag, body = self._read_message()
        if tag != b"p":
            raise failed
        r = messages.Reader(body)
        if r.cstr() != MECHANISM:
            raise PgError("28000", f"only {MECHANISM} authentication is supported", fatal=True)
        exchange = ScramExchange(self.cfg.verifier)
        try:
            first = exchange.server_first(r.take(r.int32()).decode())
            self.sock.sendall(messages.auth(11, first.encode()))
            tag, body = self._read_message()
            if tag != b"p":
                raise failed
            final = exchange.server_final(body.decode())
        except (ScramError, UnicodeDecodeError, ValueError):
            raise failed from None
        if user != self.cfg.user:
            raise failed
        self.send(messages.auth(12, final.encode()))

    def cancel(self) -> None:
        """Interrupt what this session runs (CancelRequest from another connection)."""
        if self.cursor is not None:
            self.canceled = True
            self.cursor.interrupt()

    def preempt(self) -> None:
        """A commit starts: interrupt the statement this session runs, if it may run again."""
        with self._preempt_lock:
            if self._preemptible and self.cursor is not None:
                self._preempted = True
                self.cursor.interrupt()

    def _execute_after_commits(
        self, cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]
    ) -> None:
        """Run a statement between Gold's commits.

        It starts when no commit runs. A commit that starts meanwhile interrupts it, once:
        it runs again after that commit, in a new snapshot. Its rows are not sent yet, so
        the client sees only a slower statement; the second run is not interrupted, so a
        long query still ends.
        """
        for attempt in range(2):
            self._after_commits()
            with self._preempt_lock:
                self._preempted = False
                self._preemptible = attempt == 0
            try:
                cur.execute(sql, params or None)
                return
            except duckdb.InterruptException:
                if not self._preempted:
                    raise
                self.reruns += 1
                cur.execute("ROLLBACK")
                cur.execute("BEGIN TRANSACTION READ ONLY")
            finally:
                with self._preempt_lock:
                    self._preemptible = False

    # ---- the message loop -------------------------------------------------------------

    def _loop(self) -> None:
        skipping = False  # after an error in the extended protocol, until Sync
        while True:
            tag, body = self._read_message()
            if tag == b"X":
                return
            if tag == b"Q":
                self._simple(body[:-1].decode())
                continue
            if tag == b"S":
                skipping = False
                self._end_implicit()
                self.send(messages.ready(self.txn))
                self.flush()
                continue
            if tag == b"H":
                self.flush()
                continue
            if skipping:
                continue
            try:
                self._extended(tag, body)
            except PgError as err:
                self._fail(err)
                skipping = True

    def _fail(self, err: PgError) -> None:
        log.debug("SQL endpoint error %s: %s", err.code, err.text)
        if self.txn == "T":
            self.txn = "E"
        self._send_error(err)

    def _simple(self, sql: str) -> None:
        statements = guard.split(sql)
        if not statements:
            self.send(messages.EMPTY_QUERY)
        for text in statements:
            try:
                stmt = guard.classify(text)
                result = self._execute(stmt, [])
            except PgError as err:
                self._fail(err)
                break
            if result.columns is not None:
                self.send(messages.row_description(result.columns))
            try:
                self._send_rows(result, 0)
            except PgError as err:
                self._fail(err)
                break
        self._close_stream()
        self.send(messages.ready(self.txn))
        self.flush()

    def _send_rows(self, result: Result, limit: int) -> None:
        """DataRows (up to `limit` if > 0), then CommandComplete or PortalSuspended."""
        if result.columns is None:
            self.send(
                messages.EMPTY_QUERY if result.tag == "" else messages.command_complete(result.tag)
            )
            return
        rows, last = result.take(limit)
        if result.formats and 1 in result.formats:
            oids = [t.oid for _, t in result.columns]
            for row in rows:
                self.send(messages.data_row(_encode_row(row, oids, result.formats)))
                result.sent += 1
        else:
            for row in rows:
                self.send(messages.data_row(None if v is None else types.to_text(v) for v in row))
                result.sent += 1
        if last:
            self.send(messages.command_complete(result.tag or f"SELECT {result.sent}"))
        else:
            self.send(messages.PORTAL_SUSPENDED)

    def _extended(self, tag: bytes, body: bytes) -> None:
        if tag == b"P":
            name, query, oids = messages.parse_parse(body)
            parts = guard.split(query)
            if len(parts) > 1:
                raise PgError("42601", "cannot insert multiple commands into a prepared statement")
            stmt = guard.classify(parts[0] if parts else "")
            self.prepared[name] = Prepared(stmt, oids)
            self.send(messages.PARSE_COMPLETE)
        elif tag == b"B":
            bind = messages.parse_bind(body)
            prepared = self._get(self.prepared, bind.statement, "prepared statement")
            if any(f not in (0, 1) for f in bind.result_formats):
                raise PgError("08P01", f"invalid result format codes {bind.result_formats}")
            params = self._decode_params(prepared, bind)
            self.portals[bind.portal] = Portal(prepared, params, bind.result_formats)
            self.send(messages.BIND_COMPLETE)
        elif tag == b"D":
            kind, name = body[:1], body[1:-1].decode()
            if kind == b"S":
                prepared = self._get(self.prepared, name, "prepared statement")
                self._describe_statement(prepared)
            else:
                result = self._run_portal(self._get(self.portals, name, "portal"))
                cols = result.columns
                self.send(
                    messages.NO_DATA
                    if cols is None
                    else messages.row_description(cols, result.formats)
                )
        elif tag == b"E":
            r = messages.Reader(body)
            name, limit = r.cstr(), r.int32()
            self._send_rows(self._run_portal(self._get(self.portals, name, "portal")), limit)
        elif tag == b"C":
            kind, name = body[:1], body[1:-1].decode()
            (self.prepared if kind == b"S" else self.portals).pop(name, None)
            self.send(messages.CLOSE_COMPLETE)
        else:
            raise PgError("08P01", f"unexpected message type {tag!r}")

    def _run_portal(self, portal: Portal) -> Result:
        """The portal's result, run on first use, with the formats its Bind asked for."""
        if portal.result is None:
            result = self._execute(portal.prepared.statement, portal.params)
            if result.columns is not None and portal.result_formats:
                n, asked = len(result.columns), portal.result_formats
                result.formats = asked * n if len(asked) == 1 else asked
                if len(result.formats) != n:
                    raise PgError("08P01", f"{len(asked)} result formats for {n} columns")
            portal.result = result
        return portal.result

    @staticmethod
    def _get(store: dict[str, Any], name: str, what: str) -> Any:
        if name not in store:
            raise PgError(
                "26000" if what != "portal" else "34000", f'{what} "{name}" does not exist'
            )
        return store[name]

    def _decode_params(self, prepared: Prepared, bind: messages.Bind) -> list[Any]:
        out = []
        for i, raw in enumerate(bind.params):
            oid = prepared.param_oids[i] if i < len(prepared.param_oids) else 0
            fmt = (
                bind.param_formats[0 if len(bind.param_formats) == 1 else i]
                if bind.param_formats
                else 0
            )
            try:
                if raw is None:
                    out.append(None)
                elif fmt == 1:
                    out.append(types.from_binary(raw, oid))
                else:
                    out.append(types.from_text(raw.decode(), oid))
            except ValueError as err:
                raise PgError("22P02", f"parameter ${i + 1}: {err}") from None
        return out

    def _describe_statement(self, prepared: Prepared) -> None:
        stmt = prepared.statement
        n = _param_count(stmt.sql)
        oids = [*prepared.param_oids[:n], *[types.TEXT] * (n - len(prepared.param_oids))]
        self.send(messages.parameter_description([o or types.TEXT for o in oids]))
        if stmt.kind == "show" and stmt.name in self._show_values():
            self.send(
                messages.row_description([(_show_column(stmt.name), types.PgType(types.TEXT))])
            )
        elif stmt.kind in ("read", "show"):
            columns = self._columns_of(stmt, [None] * n)
            self.send(messages.NO_DATA if columns is None else messages.row_description(columns))
        else:
            self.send(messages.NO_DATA)

    # ---- running statements ----------------------------------------------------------

    def _end_implicit(self) -> None:
        """Outside a transaction block, portals end at Sync (their implicit transaction does)."""
        if self.txn == "I":
            self.portals.clear()
            self._close_stream()

    def _close_stream(self) -> None:
        """Abandon the rows of a statement still open on the cursor (ends its transaction)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def _show_values(self) -> dict[str, str]:
        values = {k.lower(): v for k, v in self.status.items()}
        values.update(compat.SHOW_EXTRA)
        values["statement_timeout"] = f"{round(self.timeout * 1000)}ms" if self.timeout else "0"
        return values

    def _execute(self, stmt: guard.Statement, params: list[Any]) -> Result:
        if self.txn == "E" and stmt.kind not in ("commit", "rollback", "rollback_to"):
            raise PgError(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            )
        if stmt.kind == "refused":
            raise PgError(stmt.code, stmt.reason, hint=guard.HINT)
        if stmt.kind == "empty":
            return Result("")
        if stmt.kind == "noop":
            return Result(stmt.tag)
        if stmt.kind == "set":
            return self._set(stmt)
        if stmt.kind in ("begin", "commit", "rollback", "rollback_to"):
            self._close_stream()  # a transaction's end closes its portals
        # A transaction block is the client's bookkeeping only: like PostgreSQL's default READ
        # COMMITTED, each statement reads its own snapshot (its own READ ONLY transaction),
        # so an idle client in BEGIN holds no DuckDB transaction and no checkpoint waits.
        if stmt.kind == "begin":
            if self.txn == "I":
                self.txn = "T"
            else:
                self.send(messages.error("25001", "there is already a transaction in progress",
                                         "WARNING"))  # fmt: skip
            return Result("BEGIN")
        if stmt.kind in ("savepoint", "rollback_to"):
            if self.txn == "I":
                raise PgError("25P01", f"{stmt.tag} can only be used in transaction blocks")
            if stmt.kind == "rollback_to":
                self.txn = "T"
            return Result(stmt.tag)
        if stmt.kind in ("commit", "rollback"):
            tag = "ROLLBACK" if stmt.kind == "rollback" or self.txn == "E" else "COMMIT"
            self.txn = "I"
            return Result(tag)
        if stmt.kind == "show":
            values = self._show_values()
            if stmt.name in values:
                column = (_show_column(stmt.name), types.PgType(types.TEXT))
                return Result("SHOW", [column], iter([(values[stmt.name],)]))
        return self._query(stmt.sql, params)

    def _set(self, stmt: guard.Statement) -> Result:
        if stmt.name == "statement_timeout":
            asked = _parse_timeout(stmt.value) if stmt.value and stmt.tag == "SET" else 0.0
            limit = self.cfg.statement_timeout
            # A client may shorten the configured timeout, never lift it.
            self.timeout = min(t for t in (asked, limit) if t) if (asked or limit) else 0.0
        elif stmt.name == "application_name":
            self.status["application_name"] = stmt.value
            self.send(messages.parameter_status("application_name", stmt.value))
        return Result(stmt.tag)

    def _duck(self, sql: str) -> None:
        assert self.cursor is not None
        try:
            self.cursor.execute(sql)
        except duckdb.Error as err:
            raise _error_of(err) from None

    def _begin(self) -> tuple[duckdb.DuckDBPyConnection, threading.Timer | None]:
        """The statement's READ ONLY transaction and its timer."""
        self._close_stream()  # one statement at a time on the session's cursor
        assert self.cursor is not None
        cur = self.cursor
        self.canceled = False
        self._duck("BEGIN TRANSACTION READ ONLY")
        timer = None
        if self.timeout > 0:
            timer = threading.Timer(self.timeout, cur.interrupt)
            timer.daemon = True
            timer.start()
        return cur, timer

    def _end(self, timer: threading.Timer | None) -> None:
        if timer is not None:
            timer.cancel()
        if self.cursor is not None:
            with contextlib.suppress(duckdb.Error):
                self.cursor.execute("ROLLBACK")  # read-only: nothing to commit

    def _after_commits(self) -> bool:
        """Wait while the writer commits (its commits come first); True."""
        self.cfg.source.writes.wait(self.timeout or None)
        return True

    def _error(self, err: duckdb.Error) -> PgError:
        error = _error_of(err)
        if error.code == "57014":
            error.text = (
                "canceling statement due to user request"
                if self.canceled
                else f"canceling statement due to statement timeout ({self.timeout:g} s)"
            )
        return error

    def _query(self, sql: str, params: list[Any]) -> Result:
        """Run a read; its rows stream from DuckDB as the client reads them."""
        text = compat.rewrite(sql) if compat.needs_rewrite(sql) else sql
        log.debug("SQL endpoint runs %r", text)
        cur, timer = self._begin()
        try:
            _check_with_duckdb(cur, text)
            self._execute_after_commits(cur, text, params)
        except duckdb.Error as err:
            self._end(timer)
            raise self._error(err) from None
        except PgError:
            self._end(timer)
            raise
        if cur.description is None:
            self._end(timer)
            return Result("SELECT 0")
        columns = [(d[0], types.pg_type(d[1])) for d in cur.description]

        def rows() -> Generator[tuple[Any, ...], None, None]:
            try:
                writes = self.cfg.source.writes
                while self._after_commits() and (batch := cur.fetchmany(_FETCH)):
                    for row in batch:
                        # Encoding rows is Python: while a commit runs it would hold the GIL
                        # the writer needs between its DuckDB calls (+5 ms a handoff).
                        if writes.busy:
                            self._after_commits()
                        yield row
            except duckdb.Error as err:
                raise self._error(err) from None
            finally:
                self._end(timer)
                if self._stream is stream:
                    self._stream = None

        stream = rows()
        self._stream = stream
        return Result("", columns, stream)

    def _columns_of(
        self, stmt: guard.Statement, params: list[Any]
    ) -> list[tuple[str, types.PgType]] | None:
        """Result columns of a statement without reading its rows (Describe of a statement)."""
        sql = compat.rewrite(stmt.sql) if compat.needs_rewrite(stmt.sql) else stmt.sql
        first = sql.lstrip(" \t\r\n(").split(None, 1)[0].upper() if sql.strip() else ""
        cur, timer = self._begin()
        try:
            if first in ("SELECT", "WITH", "VALUES", "FROM"):
                cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0", params or None)
            else:
                cur.execute(sql, params or None)  # SHOW, DESCRIBE, PIVOT...: run it
        except duckdb.Error as err:
            raise self._error(err) from None
        finally:
            self._end(timer)
        if cur.description is None:
            return None
        return [(d[0], types.pg_type(d[1])) for d in cur.description]


_READ_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def _check_with_duckdb(cur: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Defence in depth: DuckDB's own parser must see exactly one read statement."""
    statements = cur.extract_statements(sql)
    if len(statements) != 1 or statements[0].type not in _READ_TYPES:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise PgError(
            guard.READ_ONLY,
            f"DuckDB reads this as {kinds}: only one read statement is allowed here.",
            hint=guard.HINT,
        )


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


def _show_column(name: str) -> str:
    return "transaction_isolation" if name == "transaction isolation level" else name


def _param_count(sql: str) -> int:
    return max((int(n) for n in re.findall(r"\$(\d+)", sql)), default=0)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], cfg: ServerConfig) -> None:
        self.cfg = cfg
        super().__init__(address, Session)
