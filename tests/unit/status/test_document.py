"""Status assembly from synthetic Kafka offsets, real checkpoint files and a real warehouse."""

from __future__ import annotations

import os
import time
from typing import Any

from checkpoint_files import write_checkpoint
from dash_data import EXPECTED, resend_everything

from shopstream.config import Settings
from shopstream.spark.checkpoints import checkpoint
from shopstream.status import KafkaSnapshot, LiveState, build_status
from shopstream.warehouse import Warehouse


def kafka(settings: Settings, raw: dict[int, int], clean: int, dlq: int) -> KafkaSnapshot:
    k = settings.kafka
    return KafkaSnapshot(
        True,
        "127.0.0.1:9",
        topics={
            k.raw_topic: {p: (0, hi) for p, hi in raw.items()},
            k.clean_topic: {0: (0, clean)},
            k.dead_letter_topic: {0: (0, dlq)},
        },
    )


def silver_done(settings: Settings, offsets: dict[str, int], age: float) -> None:
    ckpt = checkpoint(settings, "silver")
    write_checkpoint(ckpt, {0: {settings.kafka.raw_topic: offsets}}, committed=0)
    then = time.time() - age
    os.utime(ckpt / "commits" / "0", (then, then))


def test_caught_up_pipeline_is_healthy_and_reconciles(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    s = offline_settings
    silver_done(s, {"0": 10, "1": 8}, age=1.0)
    # 18 raw = 14 clean + 4 dead letters; Gold read all 14 clean and 4 dead letters.
    doc = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 10, 1: 8}, 14, 4))
    assert doc["healthy"], doc["problems"]
    assert doc["raw"] == 18 and doc["clean"] == 14 and doc["dead_letter"]["total"] == 4
    assert doc["stages"]["silver"]["state"] == "ok"
    assert doc["stages"]["gold"]["lag"] == 0
    rec = doc["reconciliation"]
    assert rec["silver"]["holds"] is True and rec["silver"]["pending"] == 0
    # 14 clean records = 13 unique + 1 duplicate.
    assert rec["gold"] == {
        "clean": 14,
        "unique": EXPECTED["unique"],
        "duplicates": EXPECTED["duplicates"],
        "redelivered": 0,
        "pending": 0,
        "holds": True,
        "state": "holds",
    }
    assert doc["redelivered"] == 0
    assert doc["lag"]["silver"]["topics"][s.kafka.raw_topic]["1"] == {
        "end": 8,
        "committed": 8,
        "lag": 0,
    }


def test_silver_behind_without_commits_is_stalled_and_named(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    s = offline_settings  # stall_seconds = 5
    silver_done(s, {"0": 10, "1": 8}, age=60.0)
    doc = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 25, 1: 8}, 14, 4))
    silver = doc["stages"]["silver"]
    assert silver["state"] == "stalled"
    assert "15 records waiting" in silver["reason"] and "limit 5s" in silver["reason"]
    assert doc["healthy"] is False
    assert doc["problems"] == [f"silver stalled: {silver['reason']}"]
    assert doc["lag"]["silver"]["topics"][s.kafka.raw_topic]["0"]["lag"] == 15
    assert doc["reconciliation"]["silver"]["pending"] == 15


def test_gold_behind_is_stalled_when_the_warehouse_stops_committing(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    s = offline_settings
    silver_done(s, {"0": 12, "1": 8}, age=0.5)
    # Two more clean records than Gold committed; its last commit is older than 5 s.
    later = time.time() + 60
    doc = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 12, 1: 8}, 16, 4), now=later)
    assert doc["stages"]["gold"]["state"] == "stalled"
    assert "2 records waiting" in doc["stages"]["gold"]["reason"]
    # Two records in flight are pending, not a failed reconciliation.
    assert doc["reconciliation"]["gold"]["pending"] == 2
    assert doc["reconciliation"]["gold"]["holds"] is None
    assert doc["reconciliation"]["gold"]["state"] == "pending"


def test_records_silver_resent_after_a_crash_count_once_and_show_as_redelivered(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    s = offline_settings
    before = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 10, 1: 8}, 14, 4))
    # Silver re-sent every record it wrote (its last batch was never committed): Gold reads
    # each clean record and dead letter a second time, in a later batch.
    resend_everything(filled_wh, batch_id=2)
    silver_done(s, {"0": 10, "1": 8}, age=1.0)
    doc = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 10, 1: 8}, 28, 8))
    for key in ("raw", "clean", "dead_letter", "duplicates", "unique"):
        assert doc[key] == before[key], key
    assert doc["warehouse"]["silver_events"] == before["warehouse"]["silver_events"]
    assert doc["redelivered"] == 14 + 4
    assert doc["reconciliation"]["silver"]["holds"] is True
    assert doc["reconciliation"]["gold"]["holds"] is True
    assert doc["reconciliation"]["gold"]["redelivered"] == 14


class FakeQuery:
    """Stands in for a pyspark StreamingQuery: the three members health reads."""

    def __init__(self, active: bool, error: str | None = None) -> None:
        self.isActive = active
        self.lastProgress: dict[str, Any] | None = {
            "batchId": 7,
            "inputRowsPerSecond": 120.0,
            "processedRowsPerSecond": 300.0,
            "durationMs": {"triggerExecution": 250},
        }
        self._error = error

    def exception(self) -> Any:
        return None if self._error is None else RuntimeError(self._error)


def test_a_dead_live_query_is_red_at_once(offline_settings: Settings, filled_wh: Warehouse) -> None:
    s = offline_settings
    silver_done(s, {"0": 10, "1": 8}, age=0.1)
    live = LiveState(
        queries={"silver": FakeQuery(False, "Kafka topic vanished"), "gold": FakeQuery(True)},
        producer=lambda: {"sent": 18, "error": None},
    )
    doc = build_status(s, warehouse=filled_wh, kafka=kafka(s, {0: 10, 1: 8}, 14, 4), live=live)
    assert doc["stages"]["silver"]["state"] == "dead"
    assert "Kafka topic vanished" in doc["stages"]["silver"]["reason"]
    assert doc["stages"]["gold"]["live"] is True
    assert doc["stages"]["silver"]["spark_processed_rate"] == 300.0
    assert doc["stages"]["producer"]["counters"]["sent"] == 18
    assert doc["problems"][0].startswith("silver dead")


def test_live_stage_gets_a_grace_period_before_its_first_commit(offline_settings: Settings) -> None:
    s = offline_settings
    snap = kafka(s, {0: 10}, 0, 0)
    live = LiveState(queries={"silver": FakeQuery(True)}, started_at=time.time())
    fresh = build_status(s, kafka=snap, live=live)
    assert fresh["stages"]["silver"]["state"] == "ok"
    live.started_at -= 60
    assert build_status(s, kafka=snap, live=live)["stages"]["silver"]["state"] == "stalled"


def test_a_degraded_cluster_is_a_problem_although_every_stage_is_fine(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    s = offline_settings
    silver_done(s, {"0": 10, "1": 8}, age=1.0)
    snapshot = kafka(s, {0: 10, 1: 8}, 14, 4)
    snapshot.degraded = "broker 2 (127.0.0.1:9) is down; 7 partitions under-replicated"
    doc = build_status(s, warehouse=filled_wh, kafka=snapshot)
    assert not doc["healthy"]
    assert doc["problems"] == [f"kafka degraded: {snapshot.degraded}"]
    assert doc["kafka"]["degraded"] == snapshot.degraded
    assert all(stage["healthy"] for stage in doc["stages"].values())
