"""The foundation against real processes: local broker lifecycle and Kafka -> Spark."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from shopstream.config import Settings, load_settings
from shopstream.kafka.clients import admin
from shopstream.kafka.cluster import LocalCluster
from shopstream.kafka.connection import client_config, spark_options
from shopstream.kafka.offsets import message_count
from shopstream.kafka.topics import create_topics, delete_topics
from shopstream.procinfo import pid_alive


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopstream", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_kafka_cli_start_twice_status_stop_leaves_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _cli("kafka", "start", home=home)
    assert first.returncode == 0, first.stderr
    state = LocalCluster(load_settings(home=home)).state()
    assert state is not None
    pids = [b.pid for b in state.brokers]
    try:
        second = _cli("kafka", "start", home=home)  # harmless: same broker, same pid
        assert second.returncode == 0, second.stderr
        again = LocalCluster(load_settings(home=home)).state()
        assert again is not None and [b.pid for b in again.brokers] == pids

        status = _cli("kafka", "status", "--json", home=home)
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        assert doc["bootstrap"] == state.bootstrap
        assert doc["topics"]["raw_events"]["partitions"] == 3
        assert {"clean_events", "dead_letter"} <= set(doc["topics"])
        assert len(doc["brokers"]) == 1
    finally:
        stop = _cli("kafka", "stop", home=home)
    assert stop.returncode == 0, stop.stderr
    assert not any(pid_alive(p) for p in pids)
    assert LocalCluster(load_settings(home=home)).running() is None


def test_status_without_broker_is_one_line_error(tmp_path: Path) -> None:
    res = _cli("kafka", "status", home=tmp_path / "empty")
    assert res.returncode == 2
    assert "shopstream kafka start" in res.stderr
    assert "Traceback" not in res.stderr


def test_topics_created_with_partitions(settings: Settings) -> None:
    from shopstream.kafka.offsets import watermarks

    assert len(watermarks(settings, settings.kafka.raw_topic)) == 3
    assert len(watermarks(settings, settings.kafka.clean_topic)) == 3
    assert len(watermarks(settings, settings.kafka.dead_letter_topic)) == 1


def test_topics_created_and_deleted_idempotently(settings: Settings) -> None:
    tag = uuid.uuid4().hex[:8]
    wanted = {f"extra_a_{tag}": 2, f"extra_b_{tag}": 1}
    create_topics(settings, wanted)
    create_topics(settings, wanted)  # existing topics are left alone
    listed = admin(settings).list_topics(timeout=10).topics
    assert {name: len(listed[name].partitions) for name in wanted} == wanted

    delete_topics(settings, list(wanted))
    delete_topics(settings, list(wanted))  # already gone is fine
    # The controller has confirmed; the broker's metadata cache follows a moment later.
    deadline = time.monotonic() + 30
    while set(wanted) & set(admin(settings).list_topics(timeout=10).topics):
        assert time.monotonic() < deadline, "deleted topics still listed after 30 s"
        time.sleep(0.2)


def test_confluent_message_read_back_by_spark_stream(settings: Settings, spark: Any) -> None:
    topic = settings.kafka.raw_topic
    marker = uuid.uuid4().hex
    producer = Producer(client_config(settings) | {"acks": "all", "enable.idempotence": True})
    for i in range(5):
        producer.produce(topic, key=f"c{i}".encode(), value=f'{{"m":"{marker}","i":{i}}}'.encode())
    assert producer.flush(30) == 0
    assert message_count(settings, topic) == 5

    stream = (
        spark.readStream.format("kafka")
        .options(**spark_options(settings))
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value", "partition")
    )
    name = f"t_{uuid.uuid4().hex[:8]}"
    query = (
        stream.writeStream.format("memory")
        .queryName(name)
        .option("checkpointLocation", str(settings.checkpoint_dir / name))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)
    rows = spark.sql(f"SELECT * FROM {name}").collect()
    assert sorted(r.key for r in rows) == [f"c{i}" for i in range(5)]
    assert all(marker in r.value for r in rows)


def test_data_dir_flag_keeps_broker_state_there(tmp_path: Path) -> None:
    data = tmp_path / "broker-data"
    home = tmp_path / "home"
    start = _cli("kafka", "start", "--data-dir", str(data), home=home)
    assert start.returncode == 0, start.stderr
    try:
        assert (data / "cluster.json").is_file()
        assert (data / "node-1" / "data" / "meta.properties").is_file()
        assert not (home / "kafka").exists()
        status = _cli("kafka", "status", "--json", "--data-dir", str(data), home=home)
        assert json.loads(status.stdout)["topics"]["raw_events"]["partitions"] == 3
    finally:
        stop = _cli("kafka", "stop", "--data-dir", str(data), home=home)
    assert "stopped 1 broker" in stop.stdout
