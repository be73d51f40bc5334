"""What runs after the queries stop still answers once Spark's JVM has shut down."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from py4j.protocol import Py4JNetworkError

from shopstream.silver.job import _Recorder, status_line
from shopstream.spark.session import quiet_py4j_root_errors, unless_jvm_gone


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


def _resetting_gateway() -> tuple[socket.socket, threading.Thread]:
    """A 'JVM' that takes a command and resets the connection, as a JVM shut down mid-call."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # linger 0: an RST, py4j's recv raises ConnectionResetError

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def _call_through_a_broken_gateway() -> str:
    from py4j.java_gateway import GatewayClient, GatewayParameters

    server, thread = _resetting_gateway()
    client = GatewayClient(gateway_parameters=GatewayParameters(port=server.getsockname()[1]))
    try:
        return client.send_command("c\no0\nlastProgress\ne\n")
    finally:
        thread.join(timeout=5)
        server.close()
        client.close()


@pytest.fixture
def root_filters() -> Iterator[None]:
    """No root filter during the test (a SparkSession made by an earlier test installs
    the py4j one), the previous ones back after it."""
    root = logging.getLogger()
    before = list(root.filters)
    root.filters.clear()
    yield
    root.filters[:] = before


@pytest.mark.usefixtures("root_filters")
def test_a_broken_gateway_call_prints_no_traceback_but_still_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from py4j.protocol import ERROR

    assert _call_through_a_broken_gateway() == ERROR
    assert "Exception while sending command." in caplog.text  # py4j's own traceback
    caplog.clear()

    quiet_py4j_root_errors()
    assert _call_through_a_broken_gateway() == ERROR  # the caller still sees the failure
    logging.getLogger().error("ours")  # other root records still pass
    assert [r.getMessage() for r in caplog.records] == ["ours"]
