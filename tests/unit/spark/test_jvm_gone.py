"""What runs after the queries stop still answers once Spark's JVM has shut down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from py4j.protocol import Py4JNetworkError

from shopstream.silver.job import _Recorder, status_line
from shopstream.spark.session import unless_jvm_gone


class _GoneQuery:
    """A StreamingQuery whose gateway is closed, as after a SIGTERM to the process group."""

    id = "q1"

    def __init__(self, error: BaseException) -> None:
        self._error = error

    @property
    def recentProgress(self) -> list[Any]:
        raise self._error

    @property
    def lastProgress(self) -> dict[str, Any]:
        raise self._error


GONE = [ConnectionRefusedError(111, "Connection refused"), Py4JNetworkError("gateway closed")]


@pytest.mark.parametrize("error", GONE, ids=lambda e: type(e).__name__)
def test_a_gone_jvm_reads_as_the_default(error: BaseException) -> None:
    def read() -> int:
        raise error

    assert unless_jvm_gone(read, 7) == 7
    assert unless_jvm_gone(lambda: 3, 7) == 3


def test_other_errors_are_not_hidden() -> None:
    def read() -> int:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        unless_jvm_gone(read, 0)


@pytest.mark.parametrize("error", GONE, ids=lambda e: type(e).__name__)
def test_silver_totals_keep_what_the_listener_delivered(tmp_path: Path, error: Exception) -> None:
    rec = _Recorder()
    rec.watch("q1", tmp_path / "progress.jsonl")
    rec.record({"id": "q1", "batchId": 0, "numInputRows": 5})
    query: Any = _GoneQuery(error)
    totals = rec.flush(query)
    assert totals.batches == 1
    assert status_line(totals, query).startswith("silver: 1 batches")
