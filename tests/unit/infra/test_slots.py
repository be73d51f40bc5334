"""Task slots of a Spark master; --real-time gives a local master one per input partition."""

from __future__ import annotations

import pytest

from shopstream.config import load_settings
from shopstream.infra.slots import real_time_master, task_slots


@pytest.mark.parametrize(
    ("master", "slots"),
    [("local", 1), ("local[3]", 3), ("local[*]", 2), ("local[2,3]", 2), ("spark://h:7077", None)],
)
def test_task_slots_of_local_masters_only(
    master: str, slots: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert task_slots(master) == slots


@pytest.mark.parametrize(
    ("master", "expected"),
    [("local[*]", "local[4]"), ("local[2]", "local[4]"), ("local", "local[4]")],
)
def test_small_local_masters_get_enough_slots(
    master: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    s = load_settings(spark={"master": master})
    assert real_time_master(s, True).spark.master == expected
    assert real_time_master(s, False).spark.master == master  # micro-batch: untouched


@pytest.mark.parametrize("master", ["local[8]", "spark://h:7077", "local[2,3]"])
def test_big_or_remote_masters_are_left_alone(master: str) -> None:
    s = load_settings(spark={"master": master})
    assert real_time_master(s, True).spark.master == master
