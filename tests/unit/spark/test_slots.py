"""Task slots of a Spark master; --real-time gives a local master one per input partition."""

from __future__ import annotations

import pytest

from shopstream.config import load_settings
from shopstream.spark.slots import real_time_master, silver_mode, spark_has_real_time, task_slots


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


@pytest.mark.parametrize("master", ["local[*]", "local[2]", "local"])
def test_default_mode_is_real_time_on_a_local_master_given_the_slots(
    master: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    mode = silver_mode(load_settings(spark={"master": master}), None, has_real_time=True)
    assert (mode.real_time, mode.notice) == (True, None)
    assert mode.settings.spark.master == "local[4]"  # 3 raw partitions + Gold
    assert "Real-time Mode" in mode.name


@pytest.mark.parametrize(
    ("master", "has_real_time", "because"),
    [
        ("local[2]", False, "Spark 4.1+"),
        ("spark://h:7077", True, "holds 4 task slots on spark://h:7077"),
        ("yarn", True, "holds 4 task slots on yarn"),
        ("local[2,3]", True, "local[2,3] offers 2 task slots, Real-time Mode needs 4"),
    ],
)
def test_default_mode_falls_back_to_micro_batches_with_one_line_saying_why(
    master: str, has_real_time: bool, because: str
) -> None:
    s = load_settings(spark={"master": master})
    mode = silver_mode(s, None, has_real_time=has_real_time)
    assert not mode.real_time
    assert mode.settings == s
    assert mode.notice is not None and because in mode.notice and "\n" not in mode.notice
    assert mode.name.startswith("micro-batches every")


@pytest.mark.parametrize("master", ["local[2]", "spark://h:7077", "local[2,3]"])
def test_explicit_flags_are_obeyed(master: str) -> None:
    s = load_settings(spark={"master": master})
    micro = silver_mode(s, False, has_real_time=True)
    assert (micro.real_time, micro.settings, micro.notice) == (False, s, None)
    # Where it cannot run, Silver's start says why (RealTimeSlotsError), not a fallback.
    real = silver_mode(s, True, has_real_time=False)
    assert (real.real_time, real.notice) == (True, None)
    assert real.settings == real_time_master(s, True)


def test_this_pyspark_has_real_time_mode() -> None:
    # pyproject pins pyspark 4.2, so `up` streams Silver in Real-time Mode by default.
    assert spark_has_real_time()
