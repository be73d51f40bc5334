"""Task slots of a Spark master: how many tasks run at once (Real-time Mode needs one per
input partition)."""

from __future__ import annotations

import os
import re

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


def real_time_master(settings: Settings, real_time: bool) -> Settings:
    """Real-time Mode runs a task per input partition at once: give a local master the slots.

    Slots may exceed cores (the tasks mostly wait on Kafka); a cluster master, and a
    `local[N,F]` that names its own retries, are left as they are.
    """
    master = settings.spark.master
    slots = task_slots(master)
    if not real_time or slots is None or "," in master:
        return settings
    needed = max(settings.kafka.raw_partitions + 1, os.cpu_count() or 1)
    if slots < needed or master.strip() == "local[*]":
        spark = settings.spark.model_copy(update={"master": f"local[{needed}]"})
        return settings.model_copy(update={"spark": spark})
    return settings
