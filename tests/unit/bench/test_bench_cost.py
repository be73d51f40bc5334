"""`bench cost`'s arithmetic and its /proc readings (no pipeline; no timing asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from shopstream.bench.cost import measure_window, verdicts
from shopstream.procinfo import command_line, cpu_seconds


def test_cpu_seconds_grows_with_work_and_is_zero_for_a_gone_process() -> None:
    before = cpu_seconds(os.getpid())
    total = 0
    for i in range(3_000_000):  # some CPU work in this process
        total += i * i
    assert total > 0
    assert cpu_seconds(os.getpid()) > before
    assert cpu_seconds(2**22 + 12345) == 0.0


def test_command_line_names_the_interpreter() -> None:
    assert "python" in command_line(os.getpid())
    assert command_line(2**22 + 12345) == ""


def test_measure_window_counts_a_busy_child_and_not_an_idle_one() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        roles = {"python": {busy.pid}, "broker": {idle.pid}}
        row = measure_window(lambda: roles, 1.0, threading.Event())
    finally:
        busy.kill()
        idle.kill()
    assert row["cores"]["python"] > 0.05  # it spins whenever it is scheduled
    assert row["cores"]["broker"] < row["cores"]["python"]
    assert row["rss_bytes"]["python"] > 0


def test_verdicts_count_the_roles_each_target_names() -> None:
    rows = [
        {"rate": 0, "config": "up", "cores": {"spark": 0.05, "python": 0.03, "broker": 0.2}},
        {"rate": 1000, "config": "up", "cores": {"spark": 0.2, "python": 0.1, "broker": 0.05}},
        {"rate": 1000, "config": "pass-through", "total_cores": 0.12, "cores": {}},
    ]
    got = verdicts(rows)
    # Idle: the broker is reported beside, not counted against Spark + Python's 0.10.
    assert got["0"]["cores"] == 0.08 and got["0"]["met"] is True
    assert got["1000"]["cores"] == 0.35 and got["1000"]["met"] is False
    assert got["1000"]["pass_through_cores"] == 0.12 and got["0"]["pass_through_cores"] is None
