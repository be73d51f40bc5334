"""The JSON API against a real DuckDB warehouse: every number equals the warehouse's own."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from dash_data import EXPECTED, add_alerts
from fastapi.testclient import TestClient

from shopstream.config import Settings
from shopstream.dashboard import create_app
from shopstream.warehouse import Warehouse


def plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Warehouse rows as the API renders them (Decimal -> exact string, timestamps -> ISO)."""
    return [
        {
            k: str(v) if isinstance(v, Decimal) else v.isoformat() if hasattr(v, "isoformat") else v
            for k, v in r.items()
        }
        for r in rows
    ]


@pytest.fixture
def client(offline_settings: Settings, filled_wh: Warehouse) -> Iterator[TestClient]:
    with TestClient(
        create_app(offline_settings, warehouse=filled_wh), base_url="http://127.0.0.1"
    ) as c:
        yield c


def test_kpis_equal_the_kpis_view(client: TestClient, filled_wh: Warehouse) -> None:
    body = client.get("/api/kpis").json()
    assert body == plain(filled_wh.query("SELECT * FROM kpis"))[0]
    assert Decimal(body["total_revenue"]) == EXPECTED["total_revenue"]
    assert body["orders"] == EXPECTED["orders"]
    assert body["active_customers"] == EXPECTED["active_customers"]
    assert body["conversion_rate"] == round(4 / 5, 4)
    assert Decimal(body["avg_order_value"]) == Decimal(1790) / 5


def test_funnel_equals_the_view(client: TestClient, filled_wh: Warehouse) -> None:
    body = client.get("/api/funnel").json()
    assert body == plain(filled_wh.query("SELECT * FROM event_funnel ORDER BY stage"))
    assert [r["event_type"] for r in body] == ["PAGE_VIEW", "ADD_TO_CART", "PURCHASE"]
    assert [r["unique_customers"] for r in body] == [5, 2, 4]


def test_hourly_equals_the_gold_table(client: TestClient, filled_wh: Warehouse) -> None:
    body = client.get("/api/hourly").json()
    rows = filled_wh.query(
        "SELECT event_hour, events, page_views, add_to_cart_count, purchase_count, units_sold, "
        "total_revenue FROM hourly_metrics ORDER BY event_hour"
    )
    assert body == plain(rows)
    assert [r["events"] for r in body] == [8, 5]
    assert sum(Decimal(r["total_revenue"]) for r in body) == EXPECTED["total_revenue"]
    assert len(client.get("/api/hourly", params={"hours": 1}).json()) == 1


def test_top_customers_have_their_tiers(client: TestClient, filled_wh: Warehouse) -> None:
    body = client.get("/api/top-customers", params={"limit": 10}).json()
    view = filled_wh.query("SELECT * FROM top_customers ORDER BY revenue_rank, customer_id")
    assert body == plain(view)
    assert {r["customer_id"]: r["customer_tier"] for r in body} == EXPECTED["tiers"]
    assert body[0]["customer_id"] == "alice" and body[0]["revenue_rank"] == 1
    assert len(client.get("/api/top-customers", params={"limit": 2}).json()) == 2


def test_categories_equal_the_view(client: TestClient, filled_wh: Warehouse) -> None:
    body = client.get("/api/categories").json()
    view = filled_wh.query("SELECT * FROM revenue_by_category ORDER BY revenue DESC, category")
    assert body == plain(view)
    assert {r["category"]: r["revenue"] for r in body} == {
        "books": "1020.00",
        "electronics": "600.00",
        "toys": "150.00",
        "unknown": "20.00",
    }


def test_dead_letters_by_reason_with_decoded_samples(client: TestClient) -> None:
    body = client.get("/api/dead-letters", params={"samples": 2}).json()
    assert [(r["reason"], r["dead_letters"]) for r in body] == [
        ("invalid_amount", 3),
        ("malformed_json", 1),
    ]
    samples = body[0]["samples"]
    assert [s["source_offset"] for s in samples] == [3, 2]  # newest first, limited to 2
    assert samples[0]["raw_preview"] == '{"amount":"-1"}'
    assert samples[0]["detail"] == "invalid_amount at offset 3"


def test_overview_is_the_sum_of_the_panels(client: TestClient) -> None:
    o = client.get("/api/overview").json()
    assert o["kpis"] == client.get("/api/kpis").json()
    assert o["funnel"] == client.get("/api/funnel").json()
    assert o["top_customers"] == client.get("/api/top-customers").json()
    assert o["categories"] == client.get("/api/categories").json()
    assert o["tiers"] == {"VIP": 1, "Premium": 1, "Regular": 1, "New": 2}
    assert o["poll_ms"] <= 2000
    assert o["currency"] == "USD"
    assert o["warehouse_error"] is None


def test_status_counts_and_reconciliation_from_the_warehouse(client: TestClient) -> None:
    doc = client.get("/api/status").json()
    assert doc["unique"] == EXPECTED["unique"]
    assert doc["duplicates"] == EXPECTED["duplicates"]
    assert doc["warehouse"]["silver_events"] == EXPECTED["unique"]
    assert doc["warehouse"]["dead_letter_events"] == 4
    assert doc["dead_letter"]["by_reason"] == {"invalid_amount": 3, "malformed_json": 1}
    assert doc["reconciliation"]["gold"]["unique"] == EXPECTED["unique"]
    # Gold's position from pipeline_batches: 14 clean records + 4 dead letters.
    assert doc["stages"]["gold"]["processed"] == 18
    assert doc["freshness_seconds"] > 0


def test_health_is_503_with_the_reason_when_kafka_is_down(client: TestClient) -> None:
    res = client.get("/health")
    assert res.status_code == 503
    body = res.json()
    assert body["healthy"] is False
    assert body["kafka_reachable"] is False
    assert body["problems"][0].startswith("kafka unreachable")
    # Kafka being down is not a crash: the business API still answers from the warehouse.
    assert client.get("/api/kpis").status_code == 200


def test_page_and_vendored_chart_library_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "/static/vendor/chart.umd.min.js" in page.text
    assert "http" not in page.text.split("<body>")[0]  # nothing loaded from elsewhere
    js = client.get("/static/vendor/chart.umd.min.js")
    assert js.status_code == 200 and "Chart.js v4" in js.text[:200]
    assert client.get("/static/app.js").status_code == 200


def test_openapi_documents_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for p in (
        "/api/kpis",
        "/api/funnel",
        "/api/hourly",
        "/api/top-customers",
        "/api/categories",
        "/api/sessions",
        "/api/top-products",
        "/api/dead-letters",
        "/api/alerts",
        "/api/status",
        "/api/overview",
        "/health",
        "/metrics",
    ):
        assert p in paths, p
    assert "503" in paths["/health"]["get"]["responses"]


def test_missing_warehouse_is_a_503_not_a_crash(offline_settings: Settings) -> None:
    with TestClient(create_app(offline_settings), base_url="http://127.0.0.1") as c:
        res = c.get("/api/kpis")
        assert res.status_code == 503
        assert "no warehouse" in res.json()["detail"]
        assert c.get("/").status_code == 200
        o = c.get("/api/overview").json()
        assert o["kpis"] is None and "no warehouse" in o["warehouse_error"]
        assert c.get("/health").status_code == 503


def test_standalone_app_reads_the_file_read_only(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    filled_wh.close()  # the writer is gone: a standalone dashboard opens the file itself
    with TestClient(create_app(offline_settings), base_url="http://127.0.0.1") as c:
        assert c.get("/api/kpis").json()["orders"] == EXPECTED["orders"]


def test_health_says_since_when_the_warehouse_is_unavailable(
    client: TestClient, offline_settings: Settings
) -> None:
    from shopstream.warehouse.outage import OutageLog

    log = OutageLog.for_settings(offline_settings)  # as the waiting writer (this process) does
    log.failed(RuntimeError("cannot reach Snowflake"), attempts=3, retry_in=4.0)
    assert log.since is not None

    body = client.get("/health").json()

    since = f"{log.since:%Y-%m-%d %H:%M:%S} UTC"
    assert body["problems"][0].startswith(f"warehouse unavailable since {since}: cannot reach")
    assert body["healthy"] is False
    log.recovered()
    app_status = client.app.state.status  # type: ignore[attr-defined]
    app_status.ttl = 0.0  # rebuild the document now instead of after its cache time
    assert not any("warehouse unavailable" in p for p in client.get("/health").json()["problems"])


def test_sessions_by_device_come_from_the_sessions_table(client: TestClient) -> None:
    # Five sessions (one per customer, all desktop): alice, bob, carol and dave bought;
    # alice and carol carted and then bought, so no cart was abandoned; erin only looked.
    assert client.get("/api/sessions").json() == [
        {
            "device": "desktop",
            "sessions": 5,
            "with_cart": 2,
            "converted": 4,
            "abandoned_carts": 0,
            "revenue": "1790.00",
            "conversion_rate": 0.8,
            "cart_abandonment_rate": 0.0,
        }
    ]


def test_top_products_equal_the_view(client: TestClient, filled_wh: Warehouse) -> None:
    body = client.get("/api/top-products", params={"limit": 3}).json()
    view = filled_wh.query("SELECT * FROM top_products ORDER BY revenue_rank, product_id LIMIT 3")
    assert body == plain(view)
    # p-books: bob's 520 + alice's 500, from 2 views and 2 purchases; e05's re-send is not sold.
    assert [(r["product_id"], r["total_revenue"]) for r in body] == [
        ("p-books", "1020.00"),
        ("p-electronics", "600.00"),
        ("p-toys", "150.00"),
    ]
    assert body[0]["view_to_purchase_rate"] == 1.0


def test_overview_carries_the_session_and_product_panels(client: TestClient) -> None:
    o = client.get("/api/overview").json()
    assert o["sessions"] == client.get("/api/sessions").json()
    assert o["top_products"] == client.get("/api/top-products").json()


def test_alerts_open_first_then_the_most_recently_resolved(
    client: TestClient, filled_wh: Warehouse
) -> None:
    assert client.get("/api/alerts").json() == []
    add_alerts(filled_wh)
    body = client.get("/api/alerts").json()
    assert [(r["rule"], r["open"]) for r in body] == [
        ("TrafficDrop", True),
        ("CheckoutOutage", True),
        ("PaymentFailures", False),
        ("BadRelease", False),
    ]
    outage = body[1]
    assert outage == {
        "rule": "CheckoutOutage",
        "severity": "critical",
        "summary": "purchases per (views + carts) far below the trailing ratio",
        "started_at": "2026-11-24T11:00:00",
        "resolved_at": None,
        "expected": 512.0,
        "observed": 0.0,
        "p_value": 1e-30,
        "detected_at": "2026-11-24T11:01:00",
        "open": True,
    }
    assert body[3]["resolved_at"] == "2026-11-24T09:30:00"
    assert client.get("/api/overview").json()["alerts"] == body


def test_alerts_are_bounded(client: TestClient, filled_wh: Warehouse) -> None:
    add_alerts(filled_wh)
    limited = client.get("/api/alerts", params={"limit": 2}).json()
    assert [r["rule"] for r in limited] == ["TrafficDrop", "CheckoutOutage"]
    for bad in (0, 1001):
        assert client.get("/api/alerts", params={"limit": bad}).status_code == 422


def test_alerts_are_protected_like_the_other_routes(client: TestClient) -> None:
    """A DNS-rebinding page names its own host: refused before the route reads anything."""
    assert client.get("/api/alerts", headers={"Host": "attacker.example"}).status_code == 400
    res = client.get("/api/alerts")
    assert res.status_code == 200
    assert "frame-ancestors 'none'" in res.headers["content-security-policy"]
