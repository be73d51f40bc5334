"""Gold: clean_events (+ dead_letter) -> one exactly-once warehouse commit per micro-batch.

Spark only reads and parses; each micro-batch crosses to Python once, as Arrow, and
`Warehouse.commit_batch` does the rest in one transaction (dedup against the stored events,
aggregates, the batch log). Spark keeps no state, so nothing grows with time.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from shopstream.config import Settings
from shopstream.contract import CLEAN_FIELDS, DEAD_LETTER_FIELDS, Field
from shopstream.errors import ShopstreamError, Terminal
from shopstream.faults import pause_at
from shopstream.kafka.connection import spark_options
from shopstream.spark.checkpoints import checkpoint
from shopstream.warehouse.base import Warehouse
from shopstream.warehouse.batch import BatchMeta, BatchResult, arrow_type
from shopstream.warehouse.outage import Backoff, OutageLog, RetryAbandoned, retry_transient

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)

QUERY_NAME = "gold"
MAX_COMMIT_TIMES = 100_000


class GoldInputError(Terminal):
    """A record on clean_events / dead_letter does not follow the contract."""


def gold_source(
    spark: SparkSession, settings: Settings, skip_lost: bool = False, streaming: bool = True
) -> DataFrame:
    """The input: clean events and dead letters from one Kafka source, as raw bytes.

    `skip_lost` only for a retention gap the operator accepted and recorded. `streaming`
    (not `available_now`) lets small batches wait for more records (`gold_min_records`).
    """
    k = settings.kafka
    s = settings.spark
    reader = (
        spark.readStream.format("kafka")
        .options(**spark_options(settings))
        .option("subscribe", f"{k.clean_topic},{k.dead_letter_topic}")
        .option("startingOffsets", "earliest")
        # Retention deleting unread data must stop the pipeline, not silently skip it.
        .option("failOnDataLoss", "false" if skip_lost else "true")
        # 16 MiB instead of the consumer's 1 MiB per partition and fetch: a 500k-record
        # batch is ~230 MB, and fewer, larger fetches read it faster (3 of 4 A/B runs).
        .option("kafka.max.partition.fetch.bytes", str(16 << 20))
    )
    if s.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", s.max_offsets_per_trigger)
    if streaming:
        delay_ms = max(int(s.gold_max_delay_seconds * 1000), 1)
        # Spark refuses a minimum above the maximum; a capped batch is full at the cap.
        least = min(s.gold_min_records, s.max_offsets_per_trigger or s.gold_min_records)
        reader = reader.option("minOffsetsPerTrigger", least).option(
            "maxTriggerDelay", f"{delay_ms}ms"
        )
    # No parsing in Spark: Arrow's C++ JSON reader parses a whole batch ~5x faster than
    # from_json + toArrow on this machine, and exactly (decimals are read from the text).
    return reader.load().select("topic", "partition", "offset", "value")


def _read_schema(fields: tuple[Field, ...]) -> pa.Schema:
    """What Arrow's JSON reader can produce for a field table: dates arrive as text."""
    types = {"TIMESTAMP": pa.timestamp("ms", tz="UTC"), "DATE": pa.string()}
    return pa.schema(
        [pa.field(f.name, types.get(f.sql_type) or arrow_type(f.sql_type)) for f in fields]
    )


_CLEAN_READ = _read_schema(CLEAN_FIELDS)
_DEAD_READ = _read_schema(DEAD_LETTER_FIELDS)


def parse_values(values: pa.ChunkedArray | pa.Array, schema: pa.Schema) -> pa.Table:
    """Parse one JSON object per value into `schema` (dates cast from text) (pure)."""
    if len(values) == 0:
        return schema.empty_table()
    if values.null_count:
        raise GoldInputError(
            "a record in the batch has no value; only Silver should write to the clean and "
            "dead-letter topics."
        )
    try:
        table = pa_json.read_json(
            io.BytesIO(_ndjson(values)),
            read_options=pa_json.ReadOptions(block_size=_block_size(values)),
            parse_options=pa_json.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    except pa.ArrowInvalid as err:
        raise GoldInputError(
            f"a record in the batch does not follow the contract ({err}); only Silver should "
            "write to the clean and dead-letter topics."
        ) from None
    dates = [i for i, f in enumerate(schema) if f.type == pa.string() and f.name.endswith("_date")]
    for i in dates:
        table = table.set_column(i, schema[i].name, pc.cast(table.column(i), pa.date32()))
    return table


def _block_size(values: pa.ChunkedArray | pa.Array) -> int:
    """Arrow's block size (1 MiB), or more when a record is longer: a record must fit in
    one block, or the reader fails ("straddling object"), and Gold with it on every restart.
    A dead letter is its raw record in base64: a 800 kB raw record makes a 1.07 MB one.
    """
    longest = pc.max(pc.binary_length(values)).as_py() or 0
    return max(_ARROW_BLOCK_BYTES, longest + 1)


_ARROW_BLOCK_BYTES = 1 << 20  # pyarrow.json.ReadOptions' default


def _ndjson(values: pa.ChunkedArray | pa.Array) -> bytes:
    """The values as one newline-delimited body, joined in Arrow (pure)."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    # Per chunk, in C++: a Python bytes object per record cost more than the join itself,
    # and chunk-sized joins keep 32-bit binary offsets far from overflowing.
    parts = [
        pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(c)], pa.int32()), c), b"\n")
        for c in chunks
        if len(c)
    ]
    return b"\n".join(part[0].as_buffer() for part in parts)


@dataclass
class GoldBatch:
    """One micro-batch split into what the warehouse commit needs."""

    events: pa.Table
    dead_letters: pa.Table
    start_offsets: dict[str, dict[str, int]]
    end_offsets: dict[str, dict[str, int]]
    input_rows: int


def split_batch(table: pa.Table, clean_topic: str) -> GoldBatch:
    """Split the raw Arrow batch by topic, parse it, and compute its offset ranges (pure)."""
    is_clean = pc.equal(table["topic"], clean_topic)
    events = parse_values(table.filter(is_clean)["value"], _CLEAN_READ)
    dead = parse_values(table.filter(pc.invert(is_clean))["value"], _DEAD_READ)
    start: dict[str, dict[str, int]] = {}
    end: dict[str, dict[str, int]] = {}
    if table.num_rows:
        ranges = table.group_by(["topic", "partition"]).aggregate(
            [("offset", "min"), ("offset", "max")]
        )
        for row in ranges.to_pylist():
            t, p = row["topic"], str(row["partition"])
            start.setdefault(t, {})[p] = row["offset_min"]
            end.setdefault(t, {})[p] = row["offset_max"] + 1
    return GoldBatch(events, dead, start, end, events.num_rows)


@dataclass
class GoldProgress:
    """Counters of the running Gold query, for status lines, metrics and the dashboard."""

    batches: int = 0
    input_rows: int = 0
    new_events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    last_result: BatchResult | None = None
    last_commit_at: float | None = None
    last_batch_seconds: float | None = None
    # batch_id -> epoch seconds when its commit returned (= when its rows became visible);
    # bounded, for latency measurements over recent batches.
    committed_at: dict[int, float] = field(default_factory=dict, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Set before the queries are stopped: a commit waiting out an outage gives up then.
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    # A terminal warehouse error that stopped the query (its message names the fix).
    fatal: ShopstreamError | None = None
    # When the current warehouse outage began (None while the warehouse answers).
    unavailable_since: datetime | None = None

    def record(self, result: BatchResult, seconds: float) -> None:
        with self.lock:
            self.batches += 1
            self.input_rows += result.input_rows
            self.new_events += result.new_events
            self.duplicates += result.duplicates
            self.dead_letters += result.new_dead_letters
            self.last_result = result
            self.last_commit_at = time.time()
            self.last_batch_seconds = seconds
            self.committed_at[result.batch_id] = self.last_commit_at
            if len(self.committed_at) > MAX_COMMIT_TIMES:
                del self.committed_at[min(self.committed_at)]


def _query_id(ckpt: Path) -> str:
    """The query's stable id, which Spark writes to `<checkpoint>/metadata` at start."""
    return str(json.loads((ckpt / "metadata").read_text().splitlines()[0])["id"])


def make_batch_writer(
    warehouse: Warehouse, settings: Settings, progress: GoldProgress
) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function: Arrow out of Spark, one transaction into the warehouse."""
    ckpt = checkpoint(settings, QUERY_NAME)
    clean_topic = settings.kafka.clean_topic
    horizon = timedelta(days=settings.pipeline.lateness_horizon_days)
    backoff = Backoff.from_settings(settings)
    outage = OutageLog.for_settings(settings)
    query_id: list[str] = []  # read once, on the first batch (the file exists by then)

    def write(batch_df: DataFrame, batch_id: int) -> None:
        t0 = time.perf_counter()
        started = datetime.now(UTC)
        if not query_id:
            query_id.append(_query_id(ckpt))
        pause_at(settings.faults.pause_before_read)
        with interruption_kept_short():
            table = batch_df.toArrow()
        batch = split_batch(table, clean_topic)
        meta = BatchMeta(
            query_name=QUERY_NAME,
            query_id=query_id[0],
            batch_id=batch_id,
            start_offsets=batch.start_offsets,
            end_offsets=batch.end_offsets,
            input_rows=batch.input_rows,
            started_at=started,
        )

        def commit() -> BatchResult:
            return warehouse.commit_batch(batch.events, batch.dead_letters, meta, horizon=horizon)

        def waiting(err: BaseException, delay: float) -> None:
            progress.unavailable_since = outage.since
            log.warning("warehouse unavailable (retrying in %.1f s): %s", delay, err)

        # Until the commit succeeds this function does not return, so Spark does not record
        # the batch as done and Gold's Kafka offsets stay where they are.
        try:
            result = retry_transient(
                commit, backoff=backoff, stop=progress.stopping, log=outage, on_retry=waiting
            )
        except RetryAbandoned:
            raise
        except ShopstreamError as err:
            progress.fatal = err
            raise
        progress.unavailable_since = None
        progress.record(result, time.perf_counter() - t0)

    return write


# Spark's StreamExecution.PROXY_ERROR, which tells a stop from a failure of foreachBatch.
_PY4J_PREFIX = "py4j.protocol.Py4JJavaError: An error occurred while calling"
_INTERRUPTIONS = (
    "java.lang.InterruptedException",
    "java.io.InterruptedIOException",
    "java.nio.channels.ClosedByInterruptException",
)


class BatchInterrupted(Exception):
    """The query was stopped while this batch read from Spark; Spark re-runs the batch."""


@contextlib.contextmanager
def interruption_kept_short() -> Iterator[None]:
    """Re-raise an interrupted Spark call as one short line Spark still reads as a stop.

    `query.stop()` interrupts the stream thread; a batch reading from Spark then fails with
    a Py4JJavaError whose text holds the whole JVM stack trace. Spark tells that from a real
    failure with the regex `Py4JJavaError: An error occurred while calling((.|\\r\\n|...)*)
    (InterruptedException|...)`, which recurses once per character after the prefix: on a
    stack trace of a few thousand characters it threw a StackOverflowError, and its ~1,000
    java.util.regex frames reached the terminal on Ctrl-C. The same words in one short line
    keep the match, and the stop, quiet.
    """
    from py4j.protocol import Py4JJavaError

    try:
        yield
    except Py4JJavaError as err:
        try:
            text = str(err)
        except Exception:  # the JVM is going away: the call was interrupted all the same
            text = _INTERRUPTIONS[0]
        interruption = next((name for name in _INTERRUPTIONS if name in text), None)
        if interruption is None:
            raise
        raise BatchInterrupted(f"{_PY4J_PREFIX} Spark: {interruption}") from None


def start_gold(
    spark: SparkSession,
    settings: Settings,
    warehouse: Warehouse,
    *,
    available_now: bool = False,
    progress: GoldProgress | None = None,
    skip_lost: bool = False,
) -> tuple[StreamingQuery, GoldProgress]:
    """Start the Gold query (the warehouse must be initialized); returns it and its counters."""
    progress = progress or GoldProgress()
    ckpt = checkpoint(settings, QUERY_NAME)
    writer = (
        gold_source(spark, settings, skip_lost, streaming=not available_now)
        .writeStream.queryName(QUERY_NAME)
        .option("checkpointLocation", str(ckpt))
        .foreachBatch(make_batch_writer(warehouse, settings, progress))
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    else:
        interval = f"{int(settings.spark.trigger_seconds * 1000)} milliseconds"
        writer = writer.trigger(processingTime=interval)
    return writer.start(), progress


def counters(progress: GoldProgress) -> dict[str, Any]:
    """Plain-dict view of the counters."""
    with progress.lock:
        return {
            "batches": progress.batches,
            "input_rows": progress.input_rows,
            "new_events": progress.new_events,
            "duplicates": progress.duplicates,
            "dead_letters": progress.dead_letters,
            "last_batch_seconds": progress.last_batch_seconds,
            "last_commit_at": progress.last_commit_at,
            "unavailable_since": progress.unavailable_since,
        }
