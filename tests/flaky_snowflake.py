"""Snowflake faults injected at the connection: the real connector's exception types, raised
by the session's cursors for a number of statements (used with fakesnow)."""

from __future__ import annotations

from typing import Any

from snowflake.connector import errors as sf_errors


class FlakyCursor:
    """A real cursor whose next `failures[0]` executes raise `error` first."""

    def __init__(self, cursor: Any, failures: list[int], error: Exception) -> None:
        self._cursor = cursor
        self._failures = failures
        self._error = error

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        if self._failures[0] > 0:
            self._failures[0] -= 1
            raise self._error
        return self._cursor.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class FlakyConnection:
    """The session's connection, its cursors failing `failures` statements with `error`."""

    def __init__(self, conn: Any, failures: int, error: Exception) -> None:
        self._conn = conn
        self.failures = [failures]
        self._error = error

    def cursor(self, *args: Any, **kwargs: Any) -> FlakyCursor:
        return FlakyCursor(self._conn.cursor(*args, **kwargs), self.failures, self._error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def network_down() -> Exception:
    """What the connector raises when Snowflake cannot be reached."""
    return sf_errors.OperationalError(msg="Failed to connect to DB: 254007", errno=254007)
