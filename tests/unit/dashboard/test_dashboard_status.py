"""Status assembly and the stall rule, from synthetic inputs and a real warehouse."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from dash_data import EXPECTED

from shopstream.config import Settings
from shopstream.status import (
    KafkaSnapshot,
    LiveState,
    RateTracker,
    StageFacts,
    build_status,
    judge_stage,
    parse_offsets,
    read_checkpoint,
)
from shopstream.warehouse import Warehouse

STALL = 30.0


@pytest.mark.parametrize(
    ("facts", "state", "words"),
    [
        (StageFacts(lag=0, last_progress_age=1.0), "ok", "caught up"),
        (StageFacts(lag=0, last_progress_age=300.0), "idle", "no new input"),
        (StageFacts(lag=0), "idle", "no new input"),
        (StageFacts(lag=50, last_progress_age=2.0), "ok", "50 records behind"),
        (StageFacts(lag=50, last_progress_age=31.0), "stalled", "no commit for 31s"),
        (StageFacts(lag=50, last_progress_age=30.0), "stalled", "limit 30s"),
        (StageFacts(lag=7), "stalled", "ever committed"),
        (StageFacts(lag=7, running_for=5.0), "ok", "7 records behind"),
        (StageFacts(lag=7, running_for=45.0), "stalled", "no commit for 45s"),
        (StageFacts(lag=7, last_progress_age=600.0, running_for=5.0), "ok", "7 records behind"),
        (StageFacts(lag=0, active=False), "dead", "not running"),
        (StageFacts(lag=0, active=False, error="boom"), "dead", "boom"),
        (StageFacts(lag=None, last_progress_age=1.0), "unknown", "Kafka unreachable"),
    ],
)
def test_stall_rule(facts: StageFacts, state: str, words: str) -> None:
    verdict = judge_stage(facts, STALL)
    assert verdict.state == state
    assert words in verdict.reason
    assert verdict.healthy == (state in ("ok", "idle"))


def write_checkpoint(
    path: Path, batches: dict[int, dict[str, dict[str, int]]], committed: int
) -> None:
    """A checkpoint laid out as Structured Streaming writes it (offsets/N, commits/N)."""
    (path / "offsets").mkdir(parents=True)
    (path / "commits").mkdir(parents=True)
    for batch_id, offsets in batches.items():
        meta = {"batchWatermarkMs": 0, "batchTimestampMs": 1, "conf": {}}
        lines = ["v1", json.dumps(meta), json.dumps(offsets)]
        (path / "offsets" / str(batch_id)).write_text("\n".join(lines))
        if batch_id <= committed:
            (path / "commits" / str(batch_id)).write_text('v1\n{"nextBatchWatermarkMs":0}')
    (path / "offsets" / ".1.crc").write_text("junk")  # Hadoop leaves these around


def test_read_checkpoint_takes_the_newest_committed_batch(tmp_path: Path) -> None:
    write_checkpoint(
        tmp_path,
        {0: {"raw": {"0": 5, "1": 3}}, 1: {"raw": {"0": 9, "1": 4}}, 2: {"raw": {"0": 20}}},
        committed=1,
    )
    progress = read_checkpoint(tmp_path)
    assert progress is not None
    assert progress.batch_id == 1
    assert progress.offsets == {"raw": {0: 9, 1: 4}}
    assert progress.committed_at == pytest.approx((tmp_path / "commits" / "1").stat().st_mtime)
    assert read_checkpoint(tmp_path / "absent") is None


def test_parse_offsets_accepts_json_and_dicts() -> None:
    assert parse_offsets('{"t":{"0":3,"2":5}}') == {"t": {0: 3, 2: 5}}
    assert parse_offsets({"t": {"1": 2}}) == {"t": {1: 2}}
    assert parse_offsets("not json") == {} and parse_offsets(None) == {}


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
    ckpt = settings.checkpoint_dir / "silver"
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
        "pending": 0,
        "holds": True,
    }
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
    assert doc["reconciliation"]["gold"]["pending"] == 2
    assert doc["reconciliation"]["gold"]["holds"] is False


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


def test_rate_tracker_measures_growth_over_its_window() -> None:
    t = RateTracker(window=10)
    for i, n in enumerate((0, 100, 300, 300)):
        t.observe({"silver": n, "gold": None}, now=float(i))
    assert t.rate("silver") == pytest.approx(100.0)
    assert t.rate("gold") is None
    assert t.changed_at("silver") == 2.0
