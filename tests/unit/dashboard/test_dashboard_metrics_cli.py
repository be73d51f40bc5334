"""`/metrics` parses as Prometheus text and carries the status figures; the two commands."""

from __future__ import annotations

import json

import pytest
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
    (durations,) = filled_wh.query(
        "SELECT COUNT(*) AS n, SUM(duration_ms) AS ms FROM pipeline_batches"
    )
    assert got[("shopstream_gold_batch_duration_seconds_count", ())] == durations["n"] == 2
    assert got[("shopstream_gold_batch_duration_seconds_sum", ())] == pytest.approx(
        durations["ms"] / 1000.0
    )


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


def test_status_asks_the_pipeline_dashboard_while_the_writer_holds_the_file(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    from shopstream.dashboard.app import DashboardServer, create_app, endpoint_file

    app = create_app(offline_settings, warehouse=filled_wh)
    server = DashboardServer(app, offline_settings, port=0)
    server.start()
    try:
        assert endpoint_file(offline_settings).is_file()
        env = {
            "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": offline_settings.kafka.bootstrap_servers or ""
        }
        home = str(offline_settings.home)
        res = CliRunner().invoke(cli, ["status", "--json", "--home", home], env=env)
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert doc["source"] == f"{server.url}/api/status"
        assert doc["unique"] == EXPECTED["unique"]
        again = CliRunner().invoke(cli, ["dashboard", "--home", home], env=env)
        assert again.exit_code == 0
        assert server.url in again.stdout  # points to the running one instead of a second
    finally:
        server.stop()
    assert not endpoint_file(offline_settings).exists()


def test_dashboard_command_serves_the_warehouse_alone(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from shopstream.infra.ports import free_port

    filled_wh.close()
    port = free_port()
    env = os.environ | {
        "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": offline_settings.kafka.bootstrap_servers or ""
    }
    cmd = [sys.executable, "-m", "shopstream", "dashboard", "--port", str(port)]
    cmd += ["--home", str(offline_settings.home)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                kpis = httpx.get(f"{url}/api/kpis", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "dashboard did not start"
                time.sleep(0.2)
        assert kpis.json()["orders"] == EXPECTED["orders"]
        health = httpx.get(f"{url}/health", timeout=10)
        assert health.status_code == 503 and not health.json()["kafka_reachable"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"{url}" in out
