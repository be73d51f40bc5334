"""`shopstream status --json` against a real broker, before and after a real Spark run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

from confluent_kafka import Producer
from fastapi.testclient import TestClient
from shopstream_env import cli_env

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.config import Settings
from shopstream.kafka.connection import client_config
from shopstream.kafka.offsets import watermarks
from shopstream.runtime.stages import process_available_now
from shopstream.warehouse import open_warehouse

EVENTS = 2_000


def produce(settings: Settings, n: int, seed: int = 11) -> None:
    """Generator events (with its default noise: bad records and duplicates) to raw_events."""
    cfg = GeneratorConfig.from_settings(settings, seed=seed, customers=150, backfill_days=1)
    gen = EventGenerator(cfg, total_events=n)
    producer = Producer(client_config(settings) | {"acks": "all", "enable.idempotence": True})
    for batch in gen.batches(n, batch_size=500):
        for key, value in zip(batch.keys, batch.values, strict=True):
            producer.produce(settings.kafka.raw_topic, key=key, value=value)
        producer.poll(0)
    assert producer.flush(60) == 0


def status_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `shopstream status` as a user would, configured through the environment."""
    env = cli_env(settings)
    cmd = [sys.executable, "-m", "shopstream", "status", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


def status_json(settings: Settings) -> dict[str, Any]:
    res = status_cli(settings, "--json")
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def test_topic_counts_and_lag_before_any_processing(settings: Settings) -> None:
    produce(settings, EVENTS)
    doc = status_json(settings)
    marks = watermarks(settings, settings.kafka.raw_topic)
    assert doc["kafka"]["reachable"] is True
    assert doc["raw"] == sum(hi - lo for lo, hi in marks.values()) == EVENTS
    # Clean records and dead letters are counted in the warehouse, once per source offset;
    # before Gold made one there is nothing to count from, and status invents no figure.
    assert doc["clean"] is None and doc["dead_letter"]["total"] is None
    parts = doc["lag"]["silver"]["topics"][settings.kafka.raw_topic]
    assert {int(p): v["end"] for p, v in parts.items()} == {p: hi for p, (_, hi) in marks.items()}
    assert all(v["committed"] == 0 and v["lag"] == v["end"] for v in parts.values())
    assert doc["lag"]["silver"]["total"] == EVENTS
    # Input is waiting and no Silver ever committed: that is a stall, named as such.
    assert doc["stages"]["silver"]["state"] == "stalled"
    assert f"{EVENTS:,} records waiting" in doc["stages"]["silver"]["reason"]
    assert doc["healthy"] is False
    check = status_cli(settings, "--check")
    assert check.returncode == 1
    assert "silver stalled" in check.stdout


def test_after_a_real_run_everything_reconciles(settings: Settings, spark: Any) -> None:
    produce(settings, EVENTS)
    with open_warehouse(settings) as wh:
        wh.init()
        process_available_now(spark, settings, wh, threading.Event())
    doc = status_json(settings)

    assert doc["raw"] == EVENTS
    assert doc["lag"]["silver"]["total"] == 0
    assert doc["lag"]["gold"]["total"] == 0
    rec = doc["reconciliation"]
    assert rec["silver"]["holds"] is True, rec
    assert doc["raw"] == doc["clean"] + doc["dead_letter"]["total"]
    assert rec["gold"]["holds"] is True, rec
    assert doc["clean"] == doc["unique"] + doc["duplicates"]
    assert doc["duplicates"] > 0  # the generator's default noise includes duplicates
    assert sum(doc["dead_letter"]["by_reason"].values()) == doc["dead_letter"]["total"] > 0
    assert doc["warehouse"]["silver_events"] == doc["unique"]
    assert doc["stages"]["silver"]["state"] in ("ok", "idle")
    assert doc["stages"]["gold"]["state"] in ("ok", "idle")
    assert doc["stages"]["silver"]["last_batch_ms"] is not None  # from silver.jsonl
    assert doc["healthy"] is True, doc["problems"]
    assert doc["freshness_seconds"] is not None
    assert status_cli(settings, "--check").returncode == 0

    # The dashboard reading the same warehouse agrees, and /health is 200.
    from shopstream.dashboard import create_app

    with TestClient(create_app(settings), base_url="http://127.0.0.1") as c:
        assert c.get("/health").status_code == 200
        api = c.get("/api/status").json()
    for key in ("raw", "clean", "duplicates", "unique", "warehouse", "reconciliation"):
        assert api[key] == doc[key], key


def test_after_silver_alone_status_shows_silvers_own_counts(settings: Settings, spark: Any) -> None:
    from shopstream.silver.job import query_totals, start_silver

    produce(settings, EVENTS)
    query = start_silver(spark, settings, available_now=True)
    query.awaitTermination()
    totals = query_totals(spark, query)  # every progress logged before status reads it
    doc = status_json(settings)

    def messages(topic: str) -> int:
        return sum(hi - lo for lo, hi in watermarks(settings, topic).values())

    # No warehouse yet: the counts are Silver's own, labelled so, and equal to what it wrote.
    assert doc["warehouse_info"]["ok"] is False
    assert doc["counts_source"] == doc["dead_letter"]["source"] == "silver progress"
    assert doc["clean"] == totals.clean == messages(settings.kafka.clean_topic) > 0
    assert doc["dead_letter"]["total"] == messages(settings.kafka.dead_letter_topic) > 0
    assert doc["dead_letter"]["by_reason"] == totals.by_reason
    assert doc["raw"] == EVENTS == doc["clean"] + doc["dead_letter"]["total"]
    rec = doc["reconciliation"]["silver"]
    assert (rec["holds"], rec["state"], rec["pending"]) == (True, "holds", 0), rec
    assert doc["lag"]["silver"]["total"] == 0
