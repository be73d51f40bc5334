"""Running one client's statements on its own cursor of the writer's DuckDB, Gold first.

Each statement runs in its own READ ONLY transaction (it sees committed batches only), under
the statement deadline that began when its message arrived (so parsing counts), inside the
memory watchdog, and between Gold's commits: it starts when no commit runs, a commit that
starts meanwhile interrupts it once (it runs again after), and each chunk of its rows waits
for a running commit. Rows stream from DuckDB as the client reads them. It runs only the
exact text the checker process approved (`checker`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from shopstream.sqlendpoint import types
from shopstream.sqlendpoint.errors import OUT_OF_MEMORY, QUERY_CANCELED, PgError, error_of
from shopstream.sqlendpoint.limits import Deadline, MemoryWatchdog

if TYPE_CHECKING:
    from shopstream.warehouse.duckdb import WriterFirst

log = logging.getLogger(__name__)

_FETCH = 1000
Columns = list[tuple[str, types.PgType]]


@dataclass
class Result:
    """A statement's outcome: columns (None = no rows) and rows to stream, or a tag."""

    tag: str
    columns: Columns | None = None
    rows: Iterator[tuple[Any, ...]] = field(default_factory=lambda: iter(()))
    formats: list[int] | None = None  # per column, 1 = binary (extended protocol only)
    sent: int = 0
    # Called before each row is sent: raises when the statement must stop (its memory).
    check: Callable[[], None] = field(default=lambda: None, repr=False)
    _peeked: list[tuple[Any, ...]] = field(default_factory=list)

    def take(self, limit: int) -> tuple[Iterator[tuple[Any, ...]], bool]:
        """Up to `limit` rows (all if limit <= 0) and whether that is the last of them."""
        if limit <= 0:
            return itertools.chain(self._peeked, self.rows), True
        batch = [*self._peeked, *itertools.islice(self.rows, limit - len(self._peeked))]
        self._peeked = list(itertools.islice(self.rows, 1))
        return iter(batch), not self._peeked


class Executor:
    """One session's cursor and the statement running on it."""

    def __init__(
        self, cursor: duckdb.DuckDBPyConnection, writes: WriterFirst, memory: MemoryWatchdog
    ) -> None:
        self.cursor = cursor
        self.writes = writes
        self.memory = memory
        self.timeout = 0.0
        self.reruns = 0  # statements run again after a commit interrupted them
        self._canceled = False
        self._over_memory = False
        # A statement a commit may interrupt (to run it again after): see `preempt`.
        self._preemptible = False
        self._preempted = False
        self._lock = threading.Lock()
        self._stream: Generator[tuple[Any, ...], None, None] | None = None

    # ---- interruptions, from other threads -------------------------------------------

    def cancel(self) -> None:
        """Interrupt what runs (a CancelRequest from another connection)."""
        self._canceled = True
        self.cursor.interrupt()

    def preempt(self) -> None:
        """A commit starts: interrupt the statement that runs, if it may run again."""
        with self._lock:
            if self._preemptible:
                self._preempted = True
                self.cursor.interrupt()

    def over_memory(self) -> None:
        """The running statements took more memory than `sql.client_memory_mb` allows."""
        self._over_memory = True
        self.cursor.interrupt()

    # ---- running ----------------------------------------------------------------------

    def query(self, text: str, params: list[Any], deadline: Deadline) -> Result:
        """Run a read the checker approved (its exact `run` text); rows stream as read."""
        log.debug("SQL endpoint runs %r", text[:1000])
        cur, timer, memory = self._begin(deadline)
        try:
            self._execute_after_commits(cur, text, params)
            self._check_deadline(deadline)
        except duckdb.Error as err:
            self._end(timer, memory)
            raise self._error(err) from None
        except PgError:
            self._end(timer, memory)
            raise
        if cur.description is None:
            self._end(timer, memory)
            return Result("SELECT 0")
        columns = [(d[0], types.pg_type(d[1])) for d in cur.description]
        self._stream = self._rows(cur, timer, memory)
        return Result("", columns, self._stream, check=self._check_memory)

    def _rows(
        self, cur: duckdb.DuckDBPyConnection, timer: threading.Timer | None, memory: Any
    ) -> Generator[tuple[Any, ...], None, None]:
        try:
            while self._after_commits() and (batch := cur.fetchmany(_FETCH)):
                for row in batch:
                    # Encoding rows is Python: while a commit runs it would hold the GIL the
                    # writer needs between its DuckDB calls (+5 ms a handoff).
                    if self.writes.busy:
                        self._after_commits()
                    yield row
        except duckdb.Error as err:
            raise self._error(err) from None
        finally:
            self._end(timer, memory)

    def columns_of(self, text: str, params: list[Any], deadline: Deadline) -> Columns | None:
        """Result columns of an approved statement without reading its rows (Describe)."""
        first = text.lstrip(" \t\r\n(").split(None, 1)[0].upper() if text.strip() else ""
        cur, timer, memory = self._begin(deadline)
        try:
            if first in ("SELECT", "WITH", "VALUES", "FROM"):
                cur.execute(f"SELECT * FROM ({text}) AS q LIMIT 0", params or None)
            else:
                cur.execute(text, params or None)  # SHOW, DESCRIBE, PIVOT...: run it
        except duckdb.Error as err:
            raise self._error(err) from None
        finally:
            self._end(timer, memory)
        if cur.description is None:
            return None
        return [(d[0], types.pg_type(d[1])) for d in cur.description]

    def close_stream(self) -> None:
        """Abandon the rows of a statement still open on the cursor (ends its transaction)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def close(self) -> None:
        self.close_stream()
        self.cursor.close()

    # ---- one statement's frame --------------------------------------------------------

    def _begin(
        self, deadline: Deadline
    ) -> tuple[duckdb.DuckDBPyConnection, threading.Timer | None, contextlib.ExitStack]:
        """The statement's READ ONLY transaction, its timer and its memory watch."""
        self.close_stream()  # one statement at a time on the session's cursor
        self._canceled = self._over_memory = False
        self._check_deadline(deadline)
        try:
            self.cursor.execute("BEGIN TRANSACTION READ ONLY")
        except duckdb.Error as err:
            raise error_of(err) from None
        timer = None
        remaining = deadline.remaining()
        if remaining is not None:
            timer = threading.Timer(remaining, self.cursor.interrupt)
            timer.daemon = True
            timer.start()
        memory = contextlib.ExitStack()
        memory.enter_context(self.memory.running(self.over_memory))
        return self.cursor, timer, memory

    def _end(self, timer: threading.Timer | None, memory: contextlib.ExitStack) -> None:
        if timer is not None:
            timer.cancel()
        memory.close()
        with contextlib.suppress(duckdb.Error):
            self.cursor.execute("ROLLBACK")  # read-only: nothing to commit

    def _check_deadline(self, deadline: Deadline) -> None:
        if deadline.passed:
            raise PgError(QUERY_CANCELED, self._timeout_text())

    def _after_commits(self) -> bool:
        """Wait while the writer commits (its commits come first); True."""
        self.writes.wait(self.timeout or None)
        return True

    def _execute_after_commits(
        self, cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]
    ) -> None:
        """Run a statement between Gold's commits.

        It starts when no commit runs. A commit that starts meanwhile interrupts it, once:
        it runs again after that commit, in a new snapshot. Its rows are not sent yet, so
        the client sees only a slower statement; the second run is not interrupted, so a
        long query still ends. A commit may also interrupt it just as `execute` returns
        (before `_preemptible` is cleared): DuckDB then keeps the interrupt for the pending
        rows, whose first fetch would fail as a timeout (three CI failures of a follow-up
        `SELECT count(*)`), so that run is done again too.
        """
        for attempt in range(2):
            self._after_commits()
            with self._lock:
                self._preempted = False
                self._preemptible = attempt == 0
            try:
                cur.execute(sql, params or None)
            except duckdb.InterruptException:
                if not self._preempted or self._canceled or self._over_memory:
                    raise
            finally:
                with self._lock:
                    self._preemptible = False
                    preempted = self._preempted
            if not preempted:
                return
            self.reruns += 1
            cur.execute("ROLLBACK")
            cur.execute("BEGIN TRANSACTION READ ONLY")

    def _check_memory(self) -> None:
        """Raise 53200 if the watchdog cancelled the statement while its rows were encoded.

        Interrupting DuckDB stops a fetch, not the encoding of a row already fetched: a
        one-row 1 GB list went on to be sent, and a client too slow to read it was cut off
        by the send timeout instead of getting the error."""
        if self._over_memory:
            raise self._memory_error()

    def _error(self, err: duckdb.Error) -> PgError:
        error = error_of(err)
        if error.code == QUERY_CANCELED:
            if self._over_memory:
                return self._memory_error()
            error.text = (
                "canceling statement due to user request"
                if self._canceled
                else self._timeout_text()
            )
        return error

    def _memory_error(self) -> PgError:
        return PgError(
            OUT_OF_MEMORY,
            "out of memory: the statements running on the SQL endpoint grew the writing "
            f"process by more than {self.memory.limit >> 20} MB (sql.client_memory_mb); "
            "this one was cancelled",
        )

    def _timeout_text(self) -> str:
        return f"canceling statement due to statement timeout ({self.timeout:g} s)"
