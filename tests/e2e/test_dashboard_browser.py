"""The live page in a real browser: numbers move, equal the warehouse, and health turns red.

The dashboard is served in-process from the writer's warehouse (as `shopstream up` does)
while a Gold-like committer keeps adding micro-batches; Kafka is the real session broker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_wait import wait_until
from shop_sim import ShopSimulator

from shopstream.config import Settings
from shopstream.dashboard.app import DashboardServer, create_app
from shopstream.warehouse import Warehouse, open_warehouse

KPI_NAMES = (
    "total_revenue",
    "orders",
    "conversion_rate",
    "avg_order_value",
    "active_customers",
    "events",
)


@pytest.fixture
def live_settings(settings_factory: Callable[..., Settings]) -> Settings:
    """Real broker and fresh topics; a short stall limit so the red state comes quickly."""
    return settings_factory(pipeline={"stall_seconds": 3})


@pytest.fixture
def warehouse(live_settings: Settings) -> Iterator[Warehouse]:
    wh = open_warehouse(live_settings)
    try:
        wh.init()
        yield wh
    finally:
        wh.close()


@pytest.fixture
def shop(warehouse: Warehouse) -> Iterator[ShopSimulator]:
    sim = ShopSimulator(warehouse)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
    assert sim.error is None, sim.error


@pytest.fixture
def server(live_settings: Settings, warehouse: Warehouse) -> Iterator[DashboardServer]:
    srv = DashboardServer(create_app(live_settings, warehouse=warehouse), live_settings, port=0)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def kpi_values(page: Any) -> dict[str, str]:
    """The raw numbers behind the KPI tiles (data-value) as the page holds them."""
    return {n: page.get_attribute(f"#kpi-{n}", "data-value") for n in KPI_NAMES}


def wait_polls(page: Any, n: int) -> None:
    """Wait until the page completed `n` more refreshes."""
    start = int(page.get_attribute("body", "data-polls") or 0)
    wait_until(page, f"Number(document.body.dataset.polls || 0) >= {start + n}", timeout=30_000)


def test_live_page_matches_the_warehouse_and_shows_a_stall(
    page: Any,
    server: DashboardServer,
    shop: ShopSimulator,
    warehouse: Warehouse,
    live_settings: Settings,
    artifacts: Path,
) -> None:
    page.goto(server.url)
    wait_polls(page, 1)
    before = kpi_values(page)

    # Numbers change without a reload while batches keep committing.
    wait_until(
        page,
        f"document.querySelector('#kpi-orders').dataset.value !== {before['orders']!r}",
        timeout=30_000,
    )
    wait_until(
        page,
        f"document.querySelector('#kpi-events').dataset.value !== {before['events']!r}",
        timeout=30_000,
    )
    assert page.get_attribute("#health-pill", "data-healthy") == "true"
    assert page.locator("#stages [data-stage=gold]").get_attribute("data-state") == "ok"

    # Hold the writer still, let the page refresh twice, then compare with the warehouse.
    shop.pause()
    wait_polls(page, 2)
    (kpis,) = warehouse.query("SELECT * FROM kpis")
    shown = kpi_values(page)
    for name in KPI_NAMES:
        assert float(shown[name]) == pytest.approx(float(kpis[name]), abs=1e-9), name
    assert page.inner_text("#kpi-orders") == f"{kpis['orders']:,}"
    assert page.inner_text("#kpi-active_customers") == f"{kpis['active_customers']:,}"
    assert page.inner_text("#kpi-total_revenue") == f"${kpis['total_revenue']:,.2f}"
    assert page.inner_text("#kpi-conversion_rate") == f"{kpis['conversion_rate'] * 100:.2f}%"

    top = warehouse.query("SELECT * FROM top_customers ORDER BY revenue_rank, customer_id LIMIT 10")
    rows = page.locator("#top-customers tbody tr")
    assert rows.count() == len(top)
    first = rows.nth(0).locator("td").all_inner_texts()
    assert first[1] == top[0]["customer_id"]
    assert first[2] == top[0]["customer_tier"]
    funnel = warehouse.query("SELECT event_type, unique_customers FROM event_funnel ORDER BY stage")
    for row in funnel:
        step = page.locator(f"#funnel [data-stage={row['event_type']}] b")
        assert step.inner_text() == f"{row['unique_customers']:,}"
    devices = warehouse.query(
        "SELECT device, SUM(sessions) AS sessions, SUM(abandoned_carts) AS abandoned, "
        "SUM(with_cart) AS carted FROM session_funnel GROUP BY device"
    )
    assert page.locator("#sessions tbody tr[data-device]").count() == len(devices) > 0
    for row in devices:
        cells = page.locator(f"#sessions tr[data-device={row['device']}] td")
        assert cells.nth(1).get_attribute("data-value") == str(row["sessions"])
        rate = row["abandoned"] / row["carted"] if row["carted"] else None
        shown_rate = cells.nth(5).get_attribute("data-value")
        assert (float(shown_rate) if shown_rate else None) == pytest.approx(rate, abs=1e-4)
    products = warehouse.query(
        "SELECT product_id, total_revenue FROM top_products ORDER BY revenue_rank, product_id "
        "LIMIT 10"
    )
    shown_products = page.locator("#top-products tbody tr[data-product]")
    assert shown_products.count() == len(products) > 0
    for i, row in enumerate(products):
        assert shown_products.nth(i).get_attribute("data-product") == row["product_id"]
        revenue = shown_products.nth(i).locator("td").nth(5).get_attribute("data-value")
        assert Decimal(revenue) == row["total_revenue"]
    for row in warehouse.query("SELECT reason, dead_letters FROM dead_letter_counts"):
        head = page.locator(f"#dead-letters [data-reason={row['reason']}] b")
        assert head.inner_text() == f"{row['dead_letters']:,}"
    page.screenshot(path=str(artifacts / "dashboard-inprocess.png"), full_page=True)

    # Records arrive on raw_events and nothing consumes them: after stall_seconds the
    # page turns red, names the stage, and /health answers 503 with the reason.
    from confluent_kafka import Producer

    from shopstream.kafka.connection import client_config

    producer = Producer(client_config(live_settings))
    for i in range(25):
        producer.produce(live_settings.kafka.raw_topic, key=b"c1", value=b'{"n":%d}' % i)
    assert producer.flush(30) == 0
    page.wait_for_selector("#stages [data-stage=silver][data-state=stalled]", timeout=30_000)
    assert page.get_attribute("#health-pill", "data-healthy") == "false"
    assert "25 records waiting" in page.inner_text("#stages [data-stage=silver] .reason")
    health = httpx.get(f"{server.url}/health", timeout=10)
    assert health.status_code == 503
    assert any(p.startswith("silver stalled") for p in health.json()["problems"])
    page.screenshot(path=str(artifacts / "dashboard-stalled.png"), full_page=True)
