"""`/metrics` parses as Prometheus text and carries the status figures; `shopstream dashboard`."""

from __future__ import annotations

import pytest
from dash_data import EXPECTED
from fastapi.testclient import TestClient
from prometheus_text import samples

from shopstream.config import Settings
from shopstream.dashboard import create_app
from shopstream.warehouse import Warehouse


def test_metrics_endpoint_parses_and_matches_the_warehouse(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    with TestClient(
        create_app(offline_settings, warehouse=filled_wh), base_url="http://127.0.0.1"
    ) as c:
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


def test_dashboard_command_serves_the_warehouse_alone(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from shopstream.ports import free_port

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
