"""`/metrics` parses as Prometheus text and carries the status figures; the two commands."""

from __future__ import annotations

import json

from dash_data import EXPECTED
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from shopstream.cli import app as cli
from shopstream.config import Settings
from shopstream.dashboard import create_app
from shopstream.metrics import make_registry
from shopstream.status import KafkaSnapshot, build_status
from shopstream.warehouse import Warehouse


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(name, sorted labels) -> value for every sample of a Prometheus text page."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_metrics_endpoint_parses_and_matches_the_warehouse(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    with TestClient(create_app(offline_settings, warehouse=filled_wh)) as c:
        res = c.get("/metrics")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/plain")
    got = samples(res.text)
    assert got[("shopstream_kafka_up", ())] == 0.0
    assert got[("shopstream_healthy", ())] == 0.0
    counts = filled_wh.table_counts()
    for table, n in counts.items():
        assert got[("shopstream_warehouse_rows", (("table", table),))] == n
    assert got[("shopstream_dead_letters_total", (("reason", "invalid_amount"),))] == 3
    assert got[("shopstream_dead_letters_total", (("reason", "malformed_json"),))] == 1
    gold_out = (
        "shopstream_stage_events_out_total",
        (("output", "duplicate_dropped"), ("stage", "gold")),
    )
    assert got[gold_out] == EXPECTED["duplicates"]
    assert got[("shopstream_stage_state", (("stage", "silver"), ("state", "unknown")))] == 1.0
    assert got[("shopstream_stage_state", (("stage", "silver"), ("state", "ok")))] == 0.0
    assert got[("shopstream_freshness_seconds", ())] > 0


def test_lag_and_offsets_per_partition_become_labelled_gauges(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    k = offline_settings.kafka
    snap = KafkaSnapshot(
        True,
        "127.0.0.1:9",
        topics={
            k.raw_topic: {0: (0, 6), 1: (0, 4)},
            k.clean_topic: {0: (0, 14)},
            k.dead_letter_topic: {0: (0, 4)},
        },
    )
    doc = build_status(offline_settings, warehouse=filled_wh, kafka=snap)
    got = samples(generate_latest(make_registry(lambda: doc)).decode())
    lag = (
        "shopstream_consumer_lag",
        (("partition", "1"), ("stage", "silver"), ("topic", k.raw_topic)),
    )
    assert got[lag] == 4.0  # no Silver checkpoint: everything is still to do
    end = ("shopstream_topic_end_offset", (("partition", "0"), ("topic", k.clean_topic)))
    assert got[end] == 14.0
    assert got[("shopstream_stage_lag", (("stage", "gold"),))] == 0.0
    assert (
        got[("shopstream_stage_events_out_total", (("output", "raw"), ("stage", "producer")))] == 10
    )


def test_status_command_json_and_check(offline_settings: Settings, filled_wh: Warehouse) -> None:
    filled_wh.close()  # the CLI opens the file read-only, as a second process would
    env = {"SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": offline_settings.kafka.bootstrap_servers or ""}
    home = str(offline_settings.home)
    res = CliRunner().invoke(cli, ["status", "--json", "--home", home], env=env)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    for key in ("raw", "clean", "dead_letter", "duplicates", "unique", "warehouse", "lag"):
        assert key in doc
    assert doc["unique"] == EXPECTED["unique"]
    assert doc["duplicates"] == EXPECTED["duplicates"]
    assert doc["kafka"]["reachable"] is False
    assert doc["raw"] is None  # unknown, not zero
    human = CliRunner().invoke(cli, ["status", "--check", "--home", home], env=env)
    assert human.exit_code == 1
    assert "NOT HEALTHY" in human.stdout and "kafka unreachable" in human.stdout
