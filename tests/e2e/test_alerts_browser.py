"""The business alerts panel in a real browser: open alerts, resolved ones, and the change
when the monitor resolves one (an UPDATE of the `alerts` table), without a reload.

The dashboard is served in-process from the writer's DuckDB warehouse, as `shopstream up`
does; Kafka is unreachable (the panel reads the warehouse alone).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_wait import wait_until
from dash_data import insert_alert, resolve_alert

from shopstream.config import Settings
from shopstream.dashboard.app import DashboardServer, create_app
from shopstream.warehouse import Warehouse

OPEN_COUNT = "document.querySelector('#business-alerts').dataset.openCount"


@pytest.fixture
def server(offline_settings: Settings, filled_wh: Warehouse) -> Iterator[DashboardServer]:
    app = create_app(offline_settings, warehouse=filled_wh)
    srv = DashboardServer(app, offline_settings, port=0)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def now_minute() -> datetime:
    """This minute, naive UTC, as the alerts table stores event minutes."""
    return datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)


def test_alerts_panel_shows_open_and_resolved_alerts_and_follows_a_resolve(
    page: Any, server: DashboardServer, filled_wh: Warehouse, artifacts: Path
) -> None:
    page.goto(server.url)
    wait_until(page, f"{OPEN_COUNT} === '0'", timeout=30_000)
    assert "no business alerts" in page.inner_text("#alerts-none")

    started = now_minute() - timedelta(minutes=5)
    insert_alert(filled_wh, "CheckoutOutage", started, expected=512.0, observed=0.0)
    earlier = started - timedelta(hours=1)
    insert_alert(filled_wh, "BadRelease", earlier, resolved_at=earlier + timedelta(minutes=7))
    wait_until(page, f"{OPEN_COUNT} === '1'", timeout=30_000)

    card = page.locator("#alerts-open [data-rule=CheckoutOutage][data-open=true]")
    assert card.is_visible()
    text = card.inner_text()
    assert "CheckoutOutage" in text and "critical" in text.lower()
    assert "expected 512 / min" in text and "observed 0 / min" in text
    assert "p = 1.0e-30" in text
    assert f"since {started:%Y-%m-%d %H:%M} UTC" in text
    assert page.locator("#alerts-none").count() == 0
    resolved = page.locator("#alerts-resolved tbody tr[data-rule=BadRelease]")
    assert resolved.is_visible()
    assert "7.0 min" in resolved.inner_text()
    page.screenshot(path=str(artifacts / "dashboard-alert-open.png"), full_page=True)

    # The monitor resolves the episode: the page moves it to the resolved list by itself.
    resolve_alert(filled_wh, "CheckoutOutage", started, resolved_at=now_minute())
    wait_until(page, f"{OPEN_COUNT} === '0'", timeout=30_000)
    assert page.locator("#alerts-open [data-open=true]").count() == 0
    assert "no business alerts" in page.inner_text("#alerts-none")
    rules = page.locator("#alerts-resolved tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.rule)"
    )
    assert rules == ["CheckoutOutage", "BadRelease"]  # the most recently resolved first
    page.screenshot(path=str(artifacts / "dashboard-alert-resolved.png"), full_page=True)
