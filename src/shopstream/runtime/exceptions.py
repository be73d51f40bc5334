"""Errors of running stages."""

from __future__ import annotations

from shopstream.errors import Terminal


class QueryFailed(Terminal):
    """A streaming query stopped with an error (bad input never causes this).

    `query` is the query's name, `cause` the first line of Spark's error.
    """

    def __init__(self, message: str, *, query: str, cause: str) -> None:
        super().__init__(message)
        self.query = query
        self.cause = cause
