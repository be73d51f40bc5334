"""Hostile input at volume: Silver keeps streaming, classifies every record, stays bounded.

100,000 hostile records (`bronze/hostile.py`: random bytes, deep nesting, values near the
broker's message limit, NUL and bidi characters, BOMs, numbers beyond any decimal,
duplicate keys, invalid UTF-8, huge strings, wrong types) interleaved with generated
traffic go through a real broker into a streaming `shopstream silver`, while it runs;
then Gold stores what it wrote.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.hostile import HostileConfig, HostileGenerator
from shopstream.config import Settings
from shopstream.gold.job import start_gold
from shopstream.kafka.connection import client_config
from shopstream.kafka.offsets import end_offsets
from shopstream.kafka.topics import max_message_bytes
from shopstream.procinfo import PeakRss, tree
from shopstream.silver.reference import classify
from shopstream.spark.session import driver_memory_limit
from shopstream.warehouse import open_warehouse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from shopstream_env import cli_env

HOSTILE = 100_000
VALID = 40_000
REFERENCE_SAMPLE = 3_000
BATCH = 25_000  # records per micro-batch: the stream runs through many batches
Coord = tuple[int, int]


def _produce(settings: Settings, records: list[tuple[bytes | None, bytes | None]]) -> list[Coord]:
    """Send in order; return each record's (partition, offset)."""
    limit = max_message_bytes(settings, settings.kafka.raw_topic)
    producer = Producer(
        client_config(settings)
        | {"acks": "all", "enable.idempotence": True, "message.max.bytes": limit}
    )
    where: list[Coord] = [(-1, -1)] * len(records)
    errors: list[str] = []

    def done(index: int) -> Any:
        def callback(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                where[index] = (msg.partition(), msg.offset())

        return callback

    for index, (key, value) in enumerate(records):
        while True:
            try:
                producer.produce(
                    settings.kafka.raw_topic, value=value, key=key, on_delivery=done(index)
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(120) == 0
    assert errors == []
    return where


def _outcomes(settings: Settings) -> tuple[dict[Coord, str | None], set[str]]:
    """Source (partition, offset) -> reason (None = clean) from both output topics, and
    the distinct event ids of the clean records."""
    out: dict[Coord, str | None] = {}
    event_ids: set[str] = set()
    for topic in (settings.kafka.clean_topic, settings.kafka.dead_letter_topic):
        ends = end_offsets(settings, topic)
        consumer = Consumer(
            client_config(settings) | {"group.id": f"t-{topic}", "enable.auto.commit": False}
        )
        try:
            consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end])
            left = sum(ends.values())
            while left:
                for msg in consumer.consume(2000, timeout=5):
                    assert msg.error() is None, msg.error()
                    record = json.loads(msg.value())
                    coord = (record["source_partition"], record["source_offset"])
                    assert coord not in out, f"{coord} written twice"
                    out[coord] = record.get("reason")
                    if "event_id" in record:
                        event_ids.add(record["event_id"])
                    left -= 1
        finally:
            consumer.close()
    return out, event_ids


def _cause(err: Any) -> str:
    """The first line and the root causes of a query's failure (its trace is pages long)."""
    lines = str(err).splitlines()
    causes = [line for line in lines if "Caused by" in line or "Exception:" in line]
    return "\n".join(lines[:1] + causes[:8])


def _jvm_of(proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    """The pid of Spark's driver JVM, which `proc` starts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in tree([proc.pid]):
            with contextlib.suppress(OSError):
                # spark-class execs the driver JVM in its own process. Before that, a subshell
                # of spark-class and the launcher JVM it runs name SparkSubmit too, but exit
                # (measured, they read 0 bytes): only a java process without the launcher.
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if (
                    Path(argv[0].decode(errors="replace")).name == "java"
                    and b"org.apache.spark.deploy.SparkSubmit" in argv
                    and not any(b"org.apache.spark.launcher.Main" in a for a in argv)
                ):
                    return pid
        assert proc.poll() is None, "Silver exited before its JVM was found"
        time.sleep(0.2)
    raise AssertionError("Silver's JVM did not start")


def _written(settings: Settings, total: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Whether Silver wrote an output for all `total` raw records within `timeout` seconds."""
    k = settings.kafka
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        written = sum(end_offsets(settings, k.clean_topic).values())
        written += sum(end_offsets(settings, k.dead_letter_topic).values())
        if written >= total:
            return True
        assert proc.poll() is None, "Silver stopped (see silver.log in its home)"
        time.sleep(0.5)
    return False


def test_hostile_records_at_volume_are_classified_while_silver_streams_in_bounded_memory(
    settings: Settings, spark: Any
) -> None:
    limit = max_message_bytes(settings, settings.kafka.raw_topic)
    now = datetime.now(UTC)
    hostile = HostileGenerator(
        HostileConfig(seed=12, now_ms=int(now.timestamp() * 1000), max_message_bytes=limit)
    ).records(HOSTILE)
    valid = EventGenerator(GeneratorConfig.from_settings(settings, seed=12)).next_batch(VALID)
    # (key, value, expected reason, kind), interleaved in a seeded order.
    records = [(r.key, r.value, r.reason and r.reason.value, r.kind) for r in hostile]
    records += [
        (key, value, valid.reason_name(i), "generated")
        for i, (key, value) in enumerate(zip(valid.keys, valid.values, strict=True))
    ]
    random.Random(12).shuffle(records)
    assert sum(1 for r in records if r[3] == "near_max_size") >= 3
    assert max(len(r[1] or b"") for r in records) > limit * 0.99

    # Silver runs as `shopstream silver`, in its own JVM: the memory measured is Silver's
    # alone, not what earlier tests left in the session's JVM.
    settings.home.mkdir(parents=True, exist_ok=True)
    log = settings.home / "silver.log"
    silver = subprocess.Popen(
        [sys.executable, "-m", "shopstream", "silver"],
        env=cli_env(settings) | {"SHOPSTREAM_SPARK__MAX_OFFSETS_PER_TRIGGER": str(BATCH)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    # What the JVM allocated; the pages of files it maps (its jars, libjvm, Spark's class
    # archive of ~170 MB) are clean and dropped under a container's limit, not counted by
    # it as the process's own. Its whole RSS is printed beside it.
    rss, whole = PeakRss([], anonymous=True), PeakRss([])
    try:
        with rss, whole:
            jvm = _jvm_of(silver)
            rss.add_root(jvm)
            whole.add_root(jvm)
            half = len(records) // 2
            where = _produce(settings, [(k, v) for k, v, _, _ in records[:half]])
            where += _produce(settings, [(k, v) for k, v, _, _ in records[half:]])
            assert _written(settings, len(records), silver, timeout=240)
        assert silver.poll() is None  # the stream kept running
    finally:
        silver.send_signal(signal.SIGINT)
        try:
            silver.wait(120)
        except subprocess.TimeoutExpired:
            silver.kill()
            silver.wait(30)
    assert silver.returncode == 0, log.read_text(errors="replace")[-2000:]

    # Gold takes every output of the hostile records, huge dead letters too.
    with open_warehouse(settings) as wh:
        wh.init()
        gold, _ = start_gold(spark, settings, wh, available_now=True)
        gold.awaitTermination(240)
        assert not gold.isActive and gold.exception() is None, _cause(gold.exception())
        stored = wh.query_arrow("SELECT count(*) AS n FROM silver_events")["n"][0].as_py()
        stored_dead = wh.query_arrow("SELECT count(*) AS n FROM dead_letter_events")["n"][0]
        stored_dead = stored_dead.as_py()

    # raw = clean + dead_letter, counted by the topics' end offsets.
    raw = sum(end_offsets(settings, settings.kafka.raw_topic).values())
    clean = sum(end_offsets(settings, settings.kafka.clean_topic).values())
    dead = sum(end_offsets(settings, settings.kafka.dead_letter_topic).values())
    assert raw == len(records) == clean + dead

    # Every record has exactly the outcome its kind declares.
    got, event_ids = _outcomes(settings)
    wrong = Counter(
        (kind, expected, got.get(coord, "missing"))
        for coord, (_, _, expected, kind) in zip(where, records, strict=True)
        if got.get(coord, "missing") != expected
    )
    assert not wrong, wrong
    assert sum(1 for r in records if r[2] is None and r[3] != "generated") > 0

    # Gold stored every distinct clean event once and every dead letter, huge ones too.
    assert (stored, stored_dead) == (len(event_ids), dead)

    # The Python reference agrees on a sample of the hostile records.
    sample = random.Random(7).sample([r for r in records if r[3] != "generated"], REFERENCE_SAMPLE)
    assert [classify(v, now=now, settings=settings).reason for _, v, _, _ in sample] == [
        expected for _, _, expected, _ in sample
    ]

    # Memory: Silver's JVM never outgrew what a cluster manager would grant its driver.
    limit = driver_memory_limit(settings.spark)
    assert rss.samples and rss.peak > 0, "Silver's JVM was not measured"
    print(f"hostile: Silver's JVM peak anonymous RSS {rss.peak:,} B (all {whole.peak:,} B), "
          f"limit {limit:,} B")  # fmt: skip
    assert rss.peak <= limit, (rss.peak, limit)
