"""The one-command experience in a browser: `shopstream up` runs everything, the page moves;
after Ctrl-C a standalone `shopstream dashboard` shows exactly what `shopstream sql` returns.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_wait import wait_until
from shopstream_env import cli_env

from shopstream.config import Settings
from shopstream.ports import free_port

KPI_NAMES = (
    "total_revenue",
    "orders",
    "conversion_rate",
    "avg_order_value",
    "active_customers",
    "events",
)
START_TIMEOUT_S = 300


def shopstream(settings: Settings, *args: str, log: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "shopstream", *args, "--home", str(settings.home)]
    out = log.open("w")
    return subprocess.Popen(
        cmd, env=cli_env(settings), stdout=out, stderr=subprocess.STDOUT, text=True
    )


def wait_serving(url: str, proc: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            httpx.get(f"{url}/openapi.json", timeout=5).raise_for_status()
            return
        except httpx.HTTPError:
            assert proc.poll() is None, f"exited early:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"not serving:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)


def interrupt(proc: subprocess.Popen[str], log: Path) -> None:
    """Ctrl-C, as a user stops it; it must exit cleanly."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"did not stop on Ctrl-C:\n{log.read_text()[-3000:]}")
    assert proc.returncode == 0, log.read_text()[-3000:]


def kpi_values(page: Any) -> dict[str, str]:
    return {n: page.get_attribute(f"#kpi-{n}", "data-value") for n in KPI_NAMES}


def test_up_page_moves_then_standalone_dashboard_equals_sql(
    page: Any, settings: Settings, artifacts: Path, tmp_path: Path
) -> None:
    s = settings
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    up_log = tmp_path / "up.log"
    up = shopstream(s, "up", "--rate", "200", "--port", str(port), log=up_log)
    try:
        wait_serving(url, up, up_log)
        page.goto(url)
        # Gold commits land while we watch: the events KPI becomes positive, then grows.
        wait_until(
            page,
            "Number(document.querySelector('#kpi-events').dataset.value) > 0",
            timeout=START_TIMEOUT_S * 1000,
        )
        first = page.get_attribute("#kpi-events", "data-value")
        wait_until(
            page,
            f"document.querySelector('#kpi-events').dataset.value !== {first!r}",
            timeout=120_000,
        )
        page.wait_for_selector("#health-pill[data-healthy=true]", timeout=120_000)
        for stage in ("producer", "silver", "gold"):
            state = page.get_attribute(f"#stages [data-stage={stage}]", "data-state")
            assert state == "ok", (stage, state)
        wait_until(
            page,
            "document.querySelectorAll('#top-customers tbody .badge').length > 0",
            timeout=120_000,
        )
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert "shopstream_stage_events_in_total" in metrics
        # The SQL endpoint's URL is printed with the others (BI tools connect there).
        assert "  SQL         postgresql://" in up_log.read_text()
        page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
    finally:
        if up.poll() is None:
            interrupt(up, up_log)

    # The pipeline is stopped: the warehouse alone serves the page, read-only.
    port2 = free_port()
    url2 = f"http://127.0.0.1:{port2}"
    dash_log = tmp_path / "dashboard.log"
    dash = shopstream(s, "dashboard", "--port", str(port2), log=dash_log)
    try:
        wait_serving(url2, dash, dash_log)
        page.goto(url2)
        wait_until(page, "Number(document.body.dataset.polls || 0) >= 2", timeout=60_000)
        shown = kpi_values(page)
        query = ["sql", "SELECT * FROM kpis", "--format", "json", "--home", str(s.home)]
        sql = subprocess.run(
            [sys.executable, "-m", "shopstream", *query],
            env=cli_env(s),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        (kpis,) = json.loads(sql.stdout)
        assert kpis["events"] > 0
        for name in KPI_NAMES:
            # A short run may end before its first order: avg_order_value is NULL in SQL then
            # (no orders to average), and the page must hold no number for it either.
            if kpis[name] is None:
                assert shown[name] in (None, "", "null"), name
            else:
                assert float(shown[name]) == pytest.approx(float(kpis[name]), abs=1e-9), name
        assert page.inner_text("#kpi-orders") == f"{kpis['orders']:,}"
        assert page.inner_text("#kpi-total_revenue") == f"${kpis['total_revenue']:,.2f}"
        page.screenshot(path=str(artifacts / "dashboard-standalone.png"), full_page=True)
    finally:
        interrupt(dash, dash_log)
