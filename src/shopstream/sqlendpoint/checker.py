"""Statements are checked in a separate process; the writer runs only the text it approved.

Checking is CPU-bound Python and holds the GIL that Gold's commit needs between its DuckDB
calls: a 1 MB `IN (...)` list took 0.9 s to tokenize and its 22 MB DuckDB parse tree 1.6 s
to load (one C call, so Gold's thread could not get the GIL back for 1.6 s). In a checker
process that costs the writer nothing, a check that overruns the statement deadline is
ended by killing the process (a thread could not be stopped), and its memory is bounded
(`CHECKER_MEMORY_BYTES`). The checker runs `guard` (tokens), the catalog rewrite
(`compat`) and `sandbox` (DuckDB's parse tree) and returns each statement as a
`guard.Statement` whose `run` is the exact text the session may execute.

Examples:
    >>> with Checker(processes=1) as checker:  # doctest: +SKIP
    ...     [s.kind for s in checker.check("SELECT 1; DELETE FROM t", timeout=5)]
    ['read', 'refused']
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from shopstream.sqlendpoint import compat, guard
from shopstream.sqlendpoint.errors import PROGRAM_LIMIT, QUERY_CANCELED, PgError

log = logging.getLogger(__name__)

# What one check may take at most when the statement has no timeout (`statement_timeout`
# 0): a message is at most `sql.max_message_bytes`, and 1 MB took ~5 s to check here.
UNBOUNDED_CHECK_SECONDS = 120.0
# Clients' work runs at a lower priority than the writer's (Linux niceness; 0 is normal):
# on two cores shared with Spark, a client's checks or statements must not take Gold's CPU.
CLIENT_NICENESS = 10
# Address space of a checker process: a 1 MB statement's parse tree peaked at ~300 MB.
CHECKER_MEMORY_BYTES = 2 << 30


class Checker:
    """A small pool of checker processes shared by the endpoint's sessions."""

    def __init__(self, processes: int = 2) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(processes):
            worker = _Worker(self._ctx)
            self._workers.append(worker)
            self._idle.put(worker)
            worker.warm()  # started now, so the first statement does not wait ~0.5 s

    def check(self, sql: str, timeout: float | None) -> list[guard.Statement]:
        """The statements of `sql`, each classified and checked, within `timeout` seconds."""
        budget = timeout or UNBOUNDED_CHECK_SECONDS
        deadline = time.monotonic() + budget
        try:
            worker = self._idle.get(timeout=budget)
        except queue.Empty:
            raise _timed_out() from None
        try:
            return worker.check(sql, max(deadline - time.monotonic(), 0.001))
        finally:
            if not self._closed:
                self._idle.put(worker)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until every checker process has started (so no statement waits for one)."""
        for worker in self._workers:
            worker.ready.wait(timeout)

    def close(self) -> None:
        self._closed = True
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Worker:
    """One checker process, started on first use and again after it was killed."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        self._process: Any = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self.ready = threading.Event()  # set once a process has answered its first check

    def warm(self) -> None:
        """Start the process in the background (spawning one takes ~0.5 s here)."""
        threading.Thread(target=self._warm, name="sql-checker-start", daemon=True).start()

    def _warm(self) -> None:
        with self._lock:
            conn = self._start_locked()
            with contextlib.suppress(EOFError, OSError):
                conn.send("SELECT 1")  # imports done, parser warm
                conn.recv()
            self.ready.set()

    def _start(self) -> Connection:
        with self._lock:
            return self._start_locked()

    def _start_locked(self) -> Connection:
        if self._process is None or not self._process.is_alive() or self._conn is None:
            self._stop()
            self._spawn()
        assert self._conn is not None
        return self._conn

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        self._process = self._ctx.Process(
            target=serve, args=(child,), name="shopstream-sql-checker", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent

    def check(self, sql: str, timeout: float) -> list[guard.Statement]:
        conn = self._start()
        try:
            conn.send(sql)
            if not conn.poll(timeout):
                self.stop()  # it may run for minutes more: end it, and start a fresh one
                self.warm()
                raise _timed_out()
            answer = conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.stop()
            self.warm()
            raise PgError(
                PROGRAM_LIMIT, "statement too large or complex to check; simplify it"
            ) from None
        if isinstance(answer, PgError):
            raise answer
        return list(answer)

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
            self._process = None


def _timed_out() -> PgError:
    return PgError(QUERY_CANCELED, "canceling statement due to statement timeout (checking it)")


# ---- the checker process --------------------------------------------------------------


def serve(conn: Connection) -> None:
    """The checker process: answer each query string with its checked statements."""
    import resource

    import duckdb

    from shopstream.sqlendpoint import sandbox

    # Ctrl-C reaches the whole foreground process group: the endpoint stops its checkers
    # (closing the pipe ends this loop); a KeyboardInterrupt here printed a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (CHECKER_MEMORY_BYTES, CHECKER_MEMORY_BYTES))
    with contextlib.suppress(OSError):
        os.nice(CLIENT_NICENESS)  # a client's checks yield the cores to Gold
    parser = duckdb.connect()  # parses only: no database, no file, no setting to change
    parser.execute("SET enable_external_access = false")
    parser.execute("SET lock_configuration = true")
    while True:
        try:
            sql = conn.recv()
        except (EOFError, OSError):
            return
        try:
            statements = _statements(parser, sql, sandbox)
            answer: Any = [_checked(parser, stmt, sandbox) for stmt in statements]
        except MemoryError:
            answer = PgError(PROGRAM_LIMIT, "statement too large to check; simplify it")
        except RecursionError:
            answer = sandbox.too_complex()
        except PgError as err:
            answer = err
        conn.send(answer)


def _statements(parser: Any, sql: str, sandbox: Any) -> list[guard.Statement]:
    # DuckDB's parser first: it stops at its depth limit in milliseconds, where tokenizing
    # 100,000 nested parentheses in Python took seconds.
    import duckdb

    try:
        parser.extract_statements(sql)
    except duckdb.ParserException as err:
        if "expression depth" in str(err).lower():
            raise sandbox.too_complex() from None
    return [guard.classify(part) for part in guard.split(sql)]


def _checked(parser: Any, stmt: guard.Statement, sandbox: Any) -> guard.Statement:
    """`stmt` with `run` set to the text DuckDB may run, or refused with the reason."""
    if stmt.kind not in ("read", "show"):
        return stmt
    # An EXPLAIN runs as sent (its inner statement is what the check reads); catalog
    # queries of PostgreSQL clients are rewritten to run on DuckDB, then checked as rewritten.
    rewrite = stmt.explained is None and compat.needs_rewrite(stmt.sql)
    text = compat.rewrite(stmt.sql) if rewrite else stmt.sql
    try:
        sandbox.check_read(parser, text, explained=stmt.explained)
    except PgError as err:
        if stmt.kind == "show":  # the session may still answer it from its parameters
            return stmt
        return dataclasses.replace(stmt, kind="refused", code=err.code, reason=err.text)
    return dataclasses.replace(stmt, run=text)
