"""A commit that starts as a client's statement returns: its rows still arrive whole.

DuckDB keeps an interrupt sent after `execute` returned for the pending result's rows; the
first fetch then fails. Three CI runs failed on it (a follow-up `SELECT count(*)` answered
"statement timeout" within seconds), so the executor runs such a statement again.
"""

from __future__ import annotations

from typing import Any

import duckdb

from shopstream.sqlendpoint.execution import Executor
from shopstream.sqlendpoint.limits import Deadline, MemoryWatchdog
from shopstream.warehouse.duckdb import WriterFirst


class _CommitAsItReturns:
    """A cursor on which a commit starts right after the first statement's execute."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, writes: WriterFirst) -> None:
        self._cur = cur
        self._writes = writes
        self.commits = 0

    def execute(self, sql: str, params: Any = None) -> Any:
        self._cur.execute(sql, params)
        if sql.startswith("SELECT") and not self.commits:
            self.commits += 1
            with self._writes.writing():  # what Gold's commit_batch holds
                pass
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


def test_rows_arrive_whole_after_a_commit_that_came_as_execute_returned() -> None:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE t AS SELECT range AS i FROM range(100000)")
    writes = WriterFirst()
    cursor = _CommitAsItReturns(conn.cursor(), writes)
    executor = Executor(cursor, writes, MemoryWatchdog(1 << 40))  # type: ignore[arg-type]
    writes.on_write(executor.preempt)
    result = executor.query("SELECT i FROM t ORDER BY i", [], Deadline(None))
    rows, _ = result.take(0)
    assert [r[0] for r in rows] == list(range(100000))
    assert cursor.commits == 1
    assert executor.reruns == 1
