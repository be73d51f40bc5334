"""One client connection: login, then messages until Terminate, the simple protocol here.

A session answers transaction bookkeeping, client settings and SHOW itself (`guard`), and
runs reads on its own cursor (`execution.Executor`). Every wait for the client is timed
(`wire`), every statement has a deadline from the moment its message arrived, and any
failure reaches the client as an ErrorResponse with a SQLSTATE: a bug must not take the
writer process down, nor end a connection without a word.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import socketserver
import threading
from typing import TYPE_CHECKING, Any

import duckdb

from shopstream.sqlendpoint import compat, guard, messages, types
from shopstream.sqlendpoint.checker import CLIENT_NICENESS
from shopstream.sqlendpoint.errors import (
    ClientGone,
    ClientStalled,
    PgError,
)
from shopstream.sqlendpoint.execution import Executor, Result
from shopstream.sqlendpoint.extended import Extended, send_rows
from shopstream.sqlendpoint.limits import Deadline
from shopstream.sqlendpoint.startup import Cancel, handshake
from shopstream.sqlendpoint.wire import WaitTimedOut, Wire

if TYPE_CHECKING:
    from shopstream.sqlendpoint.server import Server, ServerConfig

log = logging.getLogger(__name__)

IDLE_TIMEOUT = "57P05"  # idle_session_timeout


class Session(socketserver.BaseRequestHandler):
    """One client connection: start-up, authentication, then queries until Terminate."""

    server: Server

    def setup(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # this thread only (Linux)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CLIENT_NICENESS)
        self.cfg: ServerConfig = self.server.cfg
        self.wire = Wire(self.request, self.cfg.limits.send_timeout)
        self.txn = "I"
        self.status: dict[str, str] = {}
        self.key = (os.getpid() & 0x7FFFFFFF, secrets.randbits(31))
        self.executor: Executor | None = None
        self.extended = Extended(self)
        self.deadline = Deadline(None)

    # ---- lifecycle --------------------------------------------------------------------

    def handle(self) -> None:
        try:
            if self._login():
                self._loop()
        except PgError as err:
            self._try_send_error(err)
        except ClientStalled:
            log.warning(
                "SQL endpoint: a client stopped reading for %g s (sql.send_timeout_seconds); "
                "disconnected it",
                self.cfg.limits.send_timeout,
            )
        except ClientGone:
            pass
        except RecursionError:  # a statement too deep for a Python step: say so, stay up
            self._try_send_error(PgError("54001", "statement too complex", fatal=True))
        except Exception:  # a bug must not take the writer process down: log, tell, drop
            log.exception("SQL endpoint session failed")
            self._try_send_error(PgError("XX000", "internal error in the SQL endpoint", fatal=True))
        finally:
            self._close()

    def _try_send_error(self, err: PgError) -> None:
        with contextlib.suppress(ClientGone, OSError):
            self.wire.send_error(err)

    def _close(self) -> None:
        self.cfg.forget(self.key)
        if self.executor is not None:
            self.executor.close()
            self.executor = None
        self.wire.close()

    def _login(self) -> bool:
        """Start-up and authentication; False for a CancelRequest (which ends the connection)."""
        limits = self.cfg.limits
        login = handshake(
            self.wire,
            user=self.cfg.user,
            verifier=self.cfg.verifier,
            ssl_context=self.cfg.ssl_context,
            timeout=limits.auth_timeout,
        )
        if isinstance(login, Cancel):
            self.cfg.cancel((login.pid, login.secret))
            return False
        self.executor = Executor(self.cfg.new_cursor(), self.cfg.source.writes, self.cfg.memory)
        self.executor.timeout = limits.statement_timeout
        for stmt in compat.session_setup(self.cfg.user, duckdb.__version__, self.key[0]):
            self.executor.cursor.execute(stmt)
        self.cfg.register(self.key, self)
        self.wire.send(messages.auth(0))
        self.status = compat.parameters(self.cfg.user, login.params.get("application_name", ""))
        for name, value in self.status.items():
            self.wire.send(messages.parameter_status(name, value))
        self.wire.send(messages.backend_key(*self.key))
        self.wire.send_now(messages.ready(self.txn))
        return True

    def cancel(self) -> None:
        """Interrupt what this session runs (CancelRequest from another connection)."""
        if self.executor is not None:
            self.executor.cancel()

    def preempt(self) -> None:
        """A commit starts: interrupt the statement this session runs, if it may run again."""
        if self.executor is not None:
            self.executor.preempt()

    # ---- the message loop -------------------------------------------------------------

    def _loop(self) -> None:
        limits = self.cfg.limits
        while True:
            try:
                tag, body = self.wire.read_message(
                    limits.max_message_bytes,
                    idle=Deadline(limits.idle_timeout),
                    within=limits.send_timeout,
                )
            except WaitTimedOut:
                raise PgError(
                    IDLE_TIMEOUT,
                    "terminating connection due to idle-session timeout "
                    f"({limits.idle_timeout:g} s, sql.idle_session_timeout_seconds)",
                    fatal=True,
                ) from None
            self.deadline = Deadline(self.timeout)  # parsing counts against the statement
            if tag == b"X":
                return
            if tag == b"Q":
                self._simple(body)
            else:
                self.extended.handle(tag, body)

    @property
    def timeout(self) -> float:
        return self.executor.timeout if self.executor is not None else 0.0

    def fail(self, err: PgError) -> None:
        """Send an error; inside a transaction block the transaction is now failed."""
        log.debug("SQL endpoint error %s: %s", err.code, err.text)
        if self.txn == "T":
            self.txn = "E"
        self.wire.send_error(err)

    def _simple(self, body: bytes) -> None:
        try:
            sql = body[:-1].decode()
        except UnicodeDecodeError:
            self.fail(PgError("22021", "invalid byte sequence for encoding UTF8 in the query"))
            self.wire.send_now(messages.ready(self.txn))
            return
        try:
            statements = self.check(sql)
        except PgError as err:
            statements = []
            self.fail(err)
        else:
            if not statements:
                self.wire.send(messages.EMPTY_QUERY)
        for stmt in statements:
            try:
                result = self.execute(stmt, [])
                if result.columns is not None:
                    self.wire.send(messages.row_description(result.columns))
                send_rows(self.wire, result, 0)
            except PgError as err:
                self.fail(err)
                break
        self.end_statement()
        self.wire.send_now(messages.ready(self.txn))

    def check(self, sql: str) -> list[guard.Statement]:
        """The statements of `sql`, classified and checked by the checker process, within
        what is left of the statement's deadline."""
        return self.cfg.checker.check(sql, self.deadline.remaining())

    def end_statement(self) -> None:
        if self.executor is not None:
            self.executor.close_stream()

    # ---- running one statement --------------------------------------------------------

    def execute(self, stmt: guard.Statement, params: list[Any]) -> Result:
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
        if stmt.kind in ("begin", "commit", "rollback", "rollback_to", "savepoint"):
            return self._transaction(stmt)
        if stmt.kind == "show":
            values = self.show_values()
            if stmt.name in values:
                column = (compat.show_column(stmt.name), types.PgType(types.TEXT))
                return Result("SHOW", [column], iter([(values[stmt.name],)]))
        if stmt.run is None:
            raise PgError(guard.PRIVILEGE, f"SHOW {stmt.name} is not a setting shopstream shows.")
        assert self.executor is not None
        return self.executor.query(stmt.run, params, self.deadline)

    def _transaction(self, stmt: guard.Statement) -> Result:
        """A transaction block is the client's bookkeeping only.

        Like PostgreSQL's default READ COMMITTED, each statement reads its own snapshot (its
        own READ ONLY transaction), so an idle client in BEGIN holds no DuckDB transaction
        and no checkpoint waits for it.
        """
        if stmt.kind != "savepoint":
            self.end_statement()  # a transaction's end closes its portals
        if stmt.kind == "begin":
            if self.txn == "I":
                self.txn = "T"
            else:
                self.wire.send(messages.error(
                    "25001", "there is already a transaction in progress", "WARNING"
                ))  # fmt: skip
            return Result("BEGIN")
        if stmt.kind in ("savepoint", "rollback_to"):
            if self.txn == "I":
                raise PgError("25P01", f"{stmt.tag} can only be used in transaction blocks")
            if stmt.kind == "rollback_to":
                self.txn = "T"
            return Result(stmt.tag)
        tag = "ROLLBACK" if stmt.kind == "rollback" or self.txn == "E" else "COMMIT"
        self.txn = "I"
        return Result(tag)

    def _set(self, stmt: guard.Statement) -> Result:
        assert self.executor is not None
        if stmt.name == "statement_timeout":
            asked = parse_timeout(stmt.value) if stmt.value and stmt.tag == "SET" else 0.0
            limit = self.cfg.limits.statement_timeout
            # A client may shorten the configured timeout, never lift it.
            timeout = min(t for t in (asked, limit) if t) if (asked or limit) else 0.0
            self.executor.timeout = timeout
        elif stmt.name == "application_name":
            self.status["application_name"] = stmt.value
            self.wire.send(messages.parameter_status("application_name", stmt.value))
        return Result(stmt.tag)

    def show_values(self) -> dict[str, str]:
        values = {k.lower(): v for k, v in self.status.items()}
        values.update(compat.SHOW_EXTRA)
        values["statement_timeout"] = f"{round(self.timeout * 1000)}ms" if self.timeout else "0"
        return values


def parse_timeout(value: str) -> float:
    """PostgreSQL's statement_timeout value (ms when unitless) in seconds; 0 = none."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*", value.lower())
    if not m:
        raise PgError("22023", f'invalid value for parameter "statement_timeout": "{value}"')
    scale = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0}[m[2] or "ms"]
    return float(m[1]) * scale
