"""Task slots of a Spark master, and Silver's streaming mode: Real-time Mode where it can run.

Real-time Mode (Spark >= 4.1) streams records through long-running tasks, one per input
partition, held for as long as the query runs; Gold's micro-batches need a slot beside
them. `silver_mode` picks it by default where those slots are known to exist (a local
master, given the slots it needs) and falls back to micro-batches, with a one-line notice,
where they are not.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass

from shopstream.config import Settings


def task_slots(master: str) -> int | None:
    """Concurrent task slots of a local master (`local`, `local[N]`, `local[*]`, `local[N,F]`).

    None for cluster masters: their slots come and go with executors.
    """
    m = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master.strip())
    if m is None:
        return None
    n = m.group(1)
    return 1 if n is None else (os.cpu_count() or 1) if n == "*" else int(n)


def real_time_slots_needed(settings: Settings) -> int:
    """Slots for Silver in Real-time Mode beside Gold: one per raw partition, one for Gold."""
    return settings.kafka.raw_partitions + 1


def real_time_master(settings: Settings, real_time: bool) -> Settings:
    """Real-time Mode runs a task per input partition at once: give a local master the slots.

    Slots may exceed cores (the tasks mostly wait on Kafka); a cluster master, and a
    `local[N,F]` that names its own retries, are left as they are.
    """
    master = settings.spark.master
    slots = task_slots(master)
    if not real_time or slots is None or "," in master:
        return settings
    needed = max(real_time_slots_needed(settings), os.cpu_count() or 1)
    if slots < needed or master.strip() == "local[*]":
        spark = settings.spark.model_copy(update={"master": f"local[{needed}]"})
        return settings.model_copy(update={"spark": spark})
    return settings


def spark_has_real_time() -> bool:
    """Does the installed pyspark offer Real-time Mode (`trigger(realTime=...)`, Spark 4.1+)?"""
    from pyspark.sql.streaming import DataStreamWriter

    return "realTime" in inspect.signature(DataStreamWriter.trigger).parameters


@dataclass(frozen=True)
class SilverMode:
    """How Silver streams: Real-time Mode or micro-batches, the settings to run it with, and
    why the default fell back to micro-batches (None when it did not)."""

    real_time: bool
    settings: Settings
    notice: str | None = None

    @property
    def name(self) -> str:
        """For status lines: the mode and, in Real-time Mode, the master's slots."""
        if self.real_time:
            return f"Real-time Mode on {self.settings.spark.master}"
        return f"micro-batches every {self.settings.spark.trigger_seconds:g} s"


def silver_mode(
    settings: Settings, requested: bool | None, *, has_real_time: bool | None = None
) -> SilverMode:
    """Silver's mode under `up` / `process`: `requested` True (--real-time), False
    (--micro-batch) or None (the fastest this machine runs: Real-time Mode on a local
    master, else micro-batches with a notice saying why).

    An explicit --real-time is never downgraded: where it cannot run, Silver's start says
    why (too few slots) instead.
    """
    if requested is False:
        return SilverMode(False, settings)
    if requested:
        return SilverMode(True, real_time_master(settings, True))
    if not (spark_has_real_time() if has_real_time is None else has_real_time):
        return _fallback(settings, "this Spark has no Real-time Mode (it needs Spark 4.1+)", "")
    master = settings.spark.master
    slots = task_slots(master)
    needed = real_time_slots_needed(settings)
    if slots is None:
        return _fallback(
            settings,
            f"Real-time Mode holds {needed} task slots on {master} for as long as it runs "
            "(one per raw partition, plus Gold's)",
            "; pass --real-time if the cluster has them to spare",
        )
    tuned = real_time_master(settings, True)
    have = task_slots(tuned.spark.master) or 0
    if have < needed:
        return _fallback(
            settings,
            f"{master} offers {have} task slots, Real-time Mode needs {needed}",
            f"; use a master with {needed} or more (slots may exceed cores)",
        )
    return SilverMode(True, tuned)


def _fallback(settings: Settings, reason: str, fix: str) -> SilverMode:
    notice = f"Silver runs in micro-batches: {reason}{fix}."
    return SilverMode(False, settings, notice)
