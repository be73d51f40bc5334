"""The Silver streaming job: Kafka raw_events -> `silver_transform` -> clean_events + dead_letter.

One streaming query writes both topics through the Kafka sink's per-row `topic` column:
one checkpoint (`<home>/checkpoints/silver`), one pass over the input. The first run
starts at the earliest offsets; later runs resume from the checkpoint. `start_silver`
only starts the query (so `shopstream process` / `up` can run Silver and Gold in one
Spark application); `shopstream.runtime` runs it in the foreground.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from shopstream.config import Settings
from shopstream.contract import REASONS
from shopstream.silver.exceptions import RealTimeSlotsError
from shopstream.silver.metrics import (
    METRIC_CLEAN,
    METRIC_DEAD_LETTER,
    METRIC_INPUT,
    OBSERVATION,
    REASON_PREFIX,
    Totals,
    batch_counters,
)
from shopstream.silver.transform import kafka_columns, silver_transform
from shopstream.spark.checkpoints import append_progress, checkpoint, progress_log

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

QUERY_NAME = "silver"
# Real-time Mode's trigger is a checkpoint interval, not a latency target (records flow
# continuously); processing-time rules use the start of that interval.
DEFAULT_REAL_TIME_INTERVAL = "30 seconds"
# The sink writes many small records: 1 MiB producer batches take about half the CPU of
# the default 16 KiB ones (measured with a pass-through copy), for at most 10 ms of delay.
_SINK_OPTIONS = {"kafka.batch.size": "1048576", "kafka.linger.ms": "10"}
# How much larger than its raw record a record Silver writes can be. A clean record writes
# the customer id twice (key and value), and a field holding nested JSON is written as a
# string, where every quote and backslash gains an escape (value up to 2x, the key 1x; a
# number such as 1e9 re-rendered as 1.0E9 grows 1.5x in both). A dead letter is the
# base64 of the raw value (4/3x) plus bounded text (DEAD_LETTER_TEXT_CHARS).
OUTPUT_GROWTH = 3
OUTPUT_ALLOWANCE_BYTES = 64 * 1024  # the fixed fields, JSON syntax, batch framing
_DEFAULT_BUFFER_BYTES = 32 * 1024 * 1024  # the Kafka producer's buffer.memory


def read_raw(
    spark: SparkSession,
    settings: Settings,
    min_partitions: int | None = None,
    skip_lost: bool = False,
    real_time: bool = False,
) -> DataFrame:
    """The raw_events stream (earliest offsets on the first run; the checkpoint after).

    `min_partitions` splits Kafka partitions into more Spark tasks, e.g. 3 partitions on
    2 cores leave one core idle for the last third of a large batch. `skip_lost` turns off
    `failOnDataLoss`: only for a retention gap the operator accepted and recorded
    (`runtime/retention.py`).
    """
    from shopstream.kafka.connection import spark_options

    reader = (
        spark.readStream.format("kafka")
        .options(**spark_options(settings))
        .option("subscribe", settings.kafka.raw_topic)
        .option("startingOffsets", "earliest")
        .option("failOnDataLoss", "false" if skip_lost else "true")
    )
    # Real-time Mode has no batch to bound (Spark refuses the option there); the setting
    # still bounds Gold's micro-batches.
    if settings.spark.max_offsets_per_trigger and not real_time:
        reader = reader.option("maxOffsetsPerTrigger", str(settings.spark.max_offsets_per_trigger))
    if min_partitions:
        reader = reader.option("minPartitions", str(min_partitions))
    return reader.load()


def observe_counts(df: DataFrame) -> DataFrame:
    """Attach the per-batch counters (`silver/metrics.py`) as observable metrics."""
    from pyspark.sql import functions as F

    reason = F.col("reason")
    return df.observe(
        OBSERVATION,
        F.count(F.lit(1)).alias(METRIC_INPUT),
        F.count_if(reason.isNull()).alias(METRIC_CLEAN),
        F.count_if(reason.isNotNull()).alias(METRIC_DEAD_LETTER),
        *[F.count_if(reason == r).alias(REASON_PREFIX + r) for r in REASONS],
    )


def check_real_time_slots(spark: SparkSession, settings: Settings) -> None:
    """Real-time Mode runs one long-lived task per input partition: all must fit at once."""
    from shopstream.kafka.offsets import watermarks
    from shopstream.spark.slots import task_slots

    slots = task_slots(spark.sparkContext.master)
    if slots is None:
        return
    partitions = (
        len(watermarks(settings, settings.kafka.raw_topic)) or settings.kafka.raw_partitions
    )
    if slots < partitions:
        raise RealTimeSlotsError(
            f"Real-time Mode needs a task slot per input partition: {settings.kafka.raw_topic} "
            f"has {partitions} partitions but Spark master {spark.sparkContext.master!r} offers "
            f"{slots} slots. Use e.g. --master 'local[{partitions + 1}]' (slots may exceed "
            "cores) or run without --real-time."
        )


def start_silver(
    spark: SparkSession,
    settings: Settings,
    *,
    available_now: bool = False,
    real_time: bool | str = False,
    trigger_seconds: float | None = None,
    query_name: str = QUERY_NAME,
    min_partitions: int | None = None,
    skip_lost: bool = False,
) -> StreamingQuery:
    """Start the Silver query and return it (non-blocking).

    Micro-batches every `trigger_seconds` (default `settings.spark.trigger_seconds`), or
    `available_now` (process what is there, then stop), or Real-time Mode with checkpoint
    interval `real_time` (True = DEFAULT_REAL_TIME_INTERVAL, or e.g. "30 seconds"). Each
    batch's progress is appended to `<home>/metrics/silver.jsonl`. `skip_lost`: see
    `read_raw`.
    """
    from shopstream.kafka.topics import ensure_topics

    if real_time is True:
        real_time = DEFAULT_REAL_TIME_INTERVAL

    if available_now and real_time:
        raise ValueError("available_now and real_time are exclusive")
    ensure_topics(settings)
    output_bytes = size_output_topics(settings)
    if real_time:
        check_real_time_slots(spark, settings)
    out = silver_transform(
        read_raw(spark, settings, min_partitions, skip_lost, real_time=bool(real_time)), settings
    )
    if not real_time:
        # observe() is not among Real-time Mode's supported operators; progress still counts input.
        out = observe_counts(out)
    writer = (
        kafka_columns(out)
        .writeStream.format("kafka")
        .queryName(query_name)
        .options(**sink_options(settings, output_bytes))
        .option("checkpointLocation", str(checkpoint(settings, QUERY_NAME)))
    )
    if real_time:
        writer = writer.outputMode("update").trigger(realTime=real_time)
    elif available_now:
        writer = writer.trigger(availableNow=True)
    else:
        seconds = settings.spark.trigger_seconds if trigger_seconds is None else trigger_seconds
        writer = writer.trigger(processingTime=f"{int(seconds * 1000)} milliseconds")
    recorder = _recorder(spark)
    query = writer.start()
    recorder.watch(query.id, progress_log(settings, QUERY_NAME))
    return query


def sink_options(settings: Settings, output_bytes: int | None = None) -> dict[str, str]:
    """Kafka sink options of Silver's query: the connection, producer batching and, given
    `output_bytes` (see `size_output_topics`), a request size that fits any output record.
    """
    from shopstream.kafka.connection import spark_options

    options = spark_options(settings) | _SINK_OPTIONS
    if output_bytes is not None:
        options["kafka.max.request.size"] = str(output_bytes)
        options["kafka.buffer.memory"] = str(max(_DEFAULT_BUFFER_BYTES, 2 * output_bytes))
    return options


def output_limit(raw_limit: int) -> int:
    """The largest record Silver can write for raw records of at most `raw_limit` bytes.

    >>> output_limit(1_048_588)
    3211300
    """
    return OUTPUT_GROWTH * raw_limit + OUTPUT_ALLOWANCE_BYTES


def size_output_topics(settings: Settings) -> int:
    """Let clean_events and dead_letter take Silver's output for any record raw_events takes.

    Without it one large raw record (the local broker accepts 8 MiB) stops Silver for good:
    its dead letter (base64, a third larger) exceeds the sink's request size, and the
    restarted query fails on the same record. Raises the topics' max.message.bytes where it
    is lower; returns the size for the sink (`sink_options`).
    """
    from shopstream.kafka.topics import max_message_bytes, raise_max_message_bytes

    k = settings.kafka
    needed = output_limit(max_message_bytes(settings, k.raw_topic))
    raise_max_message_bytes(settings, [k.clean_topic, k.dead_letter_topic], needed)
    return needed


# --------------------------------------------------------------------------- progress


class _Recorder:
    """Appends each watched query's progress to its metrics file, exactly once per batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[str, Path] = {}
        self._seen: dict[str, set[int]] = {}
        self.totals: dict[str, Totals] = {}

    def watch(self, query_id: str, path: Path) -> None:
        with self._lock:
            self._paths[query_id] = path
            self._seen.setdefault(query_id, set())
            self.totals.setdefault(query_id, Totals())

    def record(self, progress: dict[str, Any]) -> None:
        qid = str(progress.get("id"))
        with self._lock:
            path = self._paths.get(qid)
            batch = int(progress.get("batchId", -1))
            if path is None or batch in self._seen[qid]:
                return
            self._seen[qid].add(batch)
            append_progress(path, progress)
            self.totals[qid].add(batch_counters(progress))

    def flush(self, query: StreamingQuery) -> Totals:
        """Record progresses the listener has not delivered yet (it runs asynchronously).

        Once the JVM is gone (SIGTERM to the process group) those it delivered are all."""
        from shopstream.spark.session import unless_jvm_gone

        for p in unless_jvm_gone(lambda: query.recentProgress, []):
            self.record(_as_dict(p))
        return self.totals.get(str(query.id), Totals())


def _as_dict(progress: Any) -> dict[str, Any]:
    return json.loads(progress.json) if hasattr(progress, "json") else dict(progress)


class _ProgressJson:
    """The JVM's listener interface, asking the JVM for each progress as one JSON string.

    pyspark's own adapter rebuilds every event field by field over py4j before calling the
    listener: at 1,000 events/s (Gold's batches included, which Silver ignores) that cost
    ~14% of `up`'s Python CPU and ~16% of the JVM's (py4j's reflection looking classes up
    in the jars), 0.15-0.2 cores together (py-spy and JFR, 2026-12-03). Two calls here."""

    def __init__(self, record: Callable[[dict[str, Any]], None]) -> None:
        self._record = record

    def onQueryStarted(self, jevent: Any) -> None:
        pass

    def onQueryProgress(self, jevent: Any) -> None:
        self._record(json.loads(jevent.progress().json()))

    def onQueryIdle(self, jevent: Any) -> None:
        pass

    def onQueryTerminated(self, jevent: Any) -> None:
        pass

    class Java:
        implements: ClassVar[list[str]] = [
            "org.apache.spark.sql.streaming.PythonStreamingQueryListener"
        ]


_RECORDERS: dict[int, _Recorder] = {}


def _recorder(spark: SparkSession) -> _Recorder:
    """One listener per SparkSession, shared by every Silver query in it."""
    from pyspark.sql.streaming import StreamingQueryListener

    key = id(spark)
    if key in _RECORDERS:
        return _RECORDERS[key]
    rec = _Recorder()

    class _Listener(StreamingQueryListener):
        """pyspark's addListener registers `_jlistener`, here `_ProgressJson`, which is
        what the JVM calls; these methods, pyspark's slower path, are never reached."""

        def onQueryStarted(self, event: Any) -> None:
            pass

        def onQueryProgress(self, event: Any) -> None:
            pass

        def onQueryTerminated(self, event: Any) -> None:
            pass

        @property
        def _jlistener(self) -> Any:
            from pyspark import SparkContext

            if not hasattr(self, "_light"):
                jvm = SparkContext._jvm
                assert jvm is not None
                self._light = jvm.PythonStreamingQueryListenerWrapper(_ProgressJson(rec.record))
            return self._light

    spark.streams.addListener(_Listener())
    _RECORDERS[key] = rec
    return rec


def query_totals(spark: SparkSession, query: StreamingQuery) -> Totals:
    """Counters of everything `query` has processed so far (all its batches)."""
    return _recorder(spark).flush(query)


def status_line(totals: Totals, query: StreamingQuery) -> str:
    """One line for the periodic status while streaming."""
    from shopstream.spark.session import unless_jvm_gone

    last = unless_jvm_gone(lambda: query.lastProgress, None)
    rate = f", {float(last['processedRowsPerSecond'] or 0):,.0f} rows/s" if last else ""
    return f"silver: {totals.batches} batches, {totals.summary()}{rate}"
