"""Retention deleting records a stage had not read: exit 2 with the count, or, with
`--accept-data-loss`, go on and record the loss in `pipeline_batches`.

Real broker, real Spark, the `shopstream process` CLI. The deleted records come from a
second generator, so the truth of the first one (sent before and after them) is exactly
what the warehouse must hold once they are gone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from typing import Any

from confluent_kafka import Producer, TopicPartition
from shopstream_env import cli_env
from test_pipeline_truth import _process, _truth_figures, _warehouse_figures

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.truth import TruthBuilder
from shopstream.config import Settings
from shopstream.kafka.clients import admin
from shopstream.kafka.connection import client_config
from shopstream.kafka.offsets import end_offsets, watermarks
from shopstream.warehouse import open_warehouse

KEPT = 3_000  # events before and again after the deleted ones, all in the truth
DELETED = 2_000


def _send(settings: Settings, gen: EventGenerator, events: int, truth: TruthBuilder | None) -> None:
    producer = Producer(client_config(settings) | {"acks": "all", "enable.idempotence": True})
    for batch in gen.batches(gen.position + events, batch_size=1_000):
        for key, value in zip(batch.keys, batch.values, strict=True):
            producer.produce(settings.kafka.raw_topic, key=key, value=value)
        producer.poll(0)
        if truth is not None:
            truth.add(batch)
    assert producer.flush(60) == 0


def _delete_records(settings: Settings, topic: str) -> None:
    """What retention does: move every partition's earliest offset to its end."""
    client = admin(settings)
    ends = [TopicPartition(topic, p, end) for p, end in end_offsets(settings, topic).items()]
    for future in client.delete_records(ends, operation_timeout=30).values():
        future.result()


def _process_cli(settings: Settings, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopstream", "process", "--available-now", *flags],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=cli_env(settings),
    )


def test_deleted_unread_records_stop_the_run_until_the_loss_is_accepted_and_recorded(
    settings: Settings, spark: Any
) -> None:
    config = GeneratorConfig.from_settings(settings, seed=21, customers=300, backfill_days=3)
    kept = EventGenerator(config, total_events=2 * KEPT)
    truth = TruthBuilder(kept)
    lost = EventGenerator(replace(config, seed=22), total_events=DELETED)
    raw = settings.kafka.raw_topic

    _send(settings, kept, KEPT, truth)
    _process(spark, settings)
    _send(settings, lost, DELETED, None)
    _delete_records(settings, raw)
    _send(settings, kept, KEPT, truth)
    assert sum(low for low, _ in watermarks(settings, raw).values()) == KEPT + DELETED

    refused = _process_cli(settings)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "Traceback" not in refused.stderr
    (error,) = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert f"retention deleted {DELETED:,} records silver had not read yet" in error
    assert f"{raw} partition 0: checkpoint at offset" in error
    assert "--accept-data-loss" in error

    accepted = _process_cli(settings, "--accept-data-loss")
    assert accepted.returncode == 0, accepted.stderr[-2000:]
    assert f"silver skips {DELETED:,} records" in accepted.stdout + accepted.stderr
    assert _warehouse_figures(settings) == _truth_figures(truth.result())
    with open_warehouse(settings, read_only=True) as wh:
        (loss,) = wh.query(
            "SELECT query_name, input_rows, lost_records, data_loss FROM pipeline_batches "
            "WHERE lost_records IS NOT NULL"
        )
    assert (loss["query_name"], loss["input_rows"], loss["lost_records"]) == ("silver", 0, DELETED)
    partitions = json.loads(loss["data_loss"])
    assert {p["topic"] for p in partitions} == {raw}
    assert sum(p["earliest"] - p["checkpointed"] for p in partitions) == DELETED

    # The gap is behind the checkpoint now: the next run needs no flag and adds nothing.
    _process(spark, settings)
    assert _warehouse_figures(settings) == _truth_figures(truth.result())
