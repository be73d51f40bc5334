"""`bench cli`: a command that fails or prints the wrong row is an error, never a time; the
verdict reads the median of `sql` through the endpoint (no timing asserted here)."""

from __future__ import annotations

import sys

import pytest

from shopstream.bench.cli import COMMANDS, summarize, time_once
from shopstream.config import child_environment


def test_a_failing_or_wrong_command_is_an_error_not_a_time() -> None:
    env = child_environment({})
    with pytest.raises(RuntimeError, match="failed"):
        time_once([sys.executable, "-c", "raise SystemExit(3)"], env)
    with pytest.raises(RuntimeError, match="not the row"):
        time_once([sys.executable, "-c", "print('[]')", "sql"], env)
    assert time_once([sys.executable, "-c", "print('[{\"one\": 1}]')", "sql"], env) > 0


def test_the_verdict_is_the_endpoint_median_and_unmeasured_is_not_met() -> None:
    slow = summarize({"sql_endpoint": [1.2, 1.1, 0.2]}, 3)
    assert slow["median_s"]["sql_endpoint"] == 1.1 and slow["meets_target"] is False
    assert summarize({"version": [0.1]}, 1)["meets_target"] is False
    # Both sql runs send the same statement; only where the warehouse is differs.
    assert COMMANDS["sql_file"][0] == COMMANDS["sql_endpoint"][0]
    assert [served for _, served in COMMANDS.values()] == [False, False, False, True]
