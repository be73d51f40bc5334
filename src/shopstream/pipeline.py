"""Silver and Gold as two streaming queries in one Spark application.

`shopstream process` runs this; `shopstream up` adds the broker, the generator and the
dashboard around it. With `available_now`, Silver drains raw_events first and Gold then
drains what Silver wrote, so one call processes everything exactly once and exits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console

from shopstream.config import Settings
from shopstream.gold.job import GoldProgress, counters, start_gold
from shopstream.runner import run_queries
from shopstream.warehouse.base import Warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming import StreamingQuery


@dataclass
class Streams:
    """The running queries of one Spark application, by stage name."""

    spark: SparkSession
    queries: dict[str, StreamingQuery] = field(default_factory=dict)
    gold: GoldProgress = field(default_factory=GoldProgress)

    def stop(self) -> None:
        """Stop Silver first so Gold is not left reading a half-written micro-batch."""
        for name in ("silver", "gold"):
            q = self.queries.get(name)
            if q is not None and q.isActive:
                q.stop()


def start_streams(
    spark: SparkSession, settings: Settings, warehouse: Warehouse, *, real_time: bool = False
) -> Streams:
    """Start Silver and Gold streaming in this Spark application."""
    from shopstream.silver.job import start_silver

    streams = Streams(spark)
    streams.queries["silver"] = start_silver(spark, settings, real_time=real_time)
    streams.queries["gold"], streams.gold = start_gold(spark, settings, warehouse)
    return streams


def process_available_now(
    spark: SparkSession,
    settings: Settings,
    warehouse: Warehouse,
    stop: threading.Event,
    *,
    console: Console | None = None,
    status: Callable[[], str] | None = None,
) -> Streams:
    """Drain raw_events through Silver, then clean_events through Gold; return the streams."""
    from shopstream.silver.job import start_silver

    streams = Streams(spark)
    streams.queries["silver"] = start_silver(spark, settings, available_now=True)
    if run_queries({"silver": streams.queries["silver"]}, stop, console=console, status=status):
        return streams
    streams.queries["gold"], streams.gold = start_gold(
        spark, settings, warehouse, available_now=True, progress=streams.gold
    )
    run_queries({"gold": streams.queries["gold"]}, stop, console=console, status=status)
    return streams


def status_line(streams: Streams) -> str:
    """One line: input rates and Gold's counters."""
    parts = []
    for name, q in streams.queries.items():
        p: dict[str, Any] | None = q.lastProgress
        if p:
            parts.append(f"{name} {p.get('processedRowsPerSecond') or 0:,.0f}/s")
    g = counters(streams.gold)
    parts.append(
        f"gold {g['new_events']:,} events, {g['duplicates']:,} duplicates, "
        f"{g['dead_letters']:,} dead letters"
    )
    return " | ".join(parts)
