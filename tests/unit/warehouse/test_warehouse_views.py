"""Reporting views on a small hand-checked dataset, identical on DuckDB and Snowflake."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from wh_data import T0, day, events_table, make_event

from shopstream.warehouse import VIEWS, BatchMeta, Warehouse

D1 = T0 + timedelta(days=1, minutes=45)  # 11:00 the next day


def dataset() -> list[dict[str, Any]]:
    """Six customers whose revenues sit exactly on and just below the tier boundaries."""
    spec: list[tuple[str, str, str | None, str | None, int]] = [
        # customer, type, amount, category, quantity
        ("vip", "PAGE_VIEW", None, "books", 1),
        ("vip", "PAGE_VIEW", None, "books", 1),
        ("vip", "ADD_TO_CART", None, "books", 1),
        ("vip", "PURCHASE", "600.00", "books", 2),
        ("almost_vip", "PAGE_VIEW", None, "books", 1),
        ("almost_vip", "PURCHASE", "999.99", "books", 1),
        ("premium", "PAGE_VIEW", None, "books", 1),
        ("premium", "PURCHASE", "500.00", "books", 1),
        ("regular", "PURCHASE", "100.00", None, 1),
        ("almost_regular", "PAGE_VIEW", None, "toys", 1),
        ("almost_regular", "ADD_TO_CART", None, "toys", 1),
        ("almost_regular", "PURCHASE", "99.99", "toys", 1),
        ("browser", "PAGE_VIEW", None, "toys", 1),
        ("browser", "PAGE_VIEW", None, "toys", 1),
        ("browser", "PAGE_VIEW", None, "toys", 1),
    ]
    rows = [
        make_event(f"v{i}", kind, cust, T0 + timedelta(minutes=i), amount, category=cat, quantity=q)
        for i, (cust, kind, amount, cat, q) in enumerate(spec)
    ]
    rows.append(make_event("v-next-day", "PURCHASE", "vip", D1, "400.00", category="toys"))
    return rows


@pytest.fixture
def loaded(any_wh: Warehouse) -> Warehouse:
    rows = dataset()
    any_wh.commit_batch(events_table(rows[:7]), None, BatchMeta("gold", "q", 0))
    any_wh.commit_batch(events_table(rows[7:]), None, BatchMeta("gold", "q", 1))
    return any_wh


def by(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in rows}


def test_every_view_answers(loaded: Warehouse) -> None:
    for view in VIEWS:
        names, _ = loaded.query_rows(f"SELECT * FROM {view}")
        assert names and all(n == n.lower() for n in names), view


def test_top_customers_tiers_at_exact_boundaries(loaded: Warehouse) -> None:
    rows = by(loaded.query("SELECT * FROM top_customers"), "customer_id")
    assert {c: (r["total_revenue"], r["customer_tier"]) for c, r in rows.items()} == {
        "vip": (Decimal("1000.00"), "VIP"),
        "almost_vip": (Decimal("999.99"), "Premium"),
        "premium": (Decimal("500.00"), "Premium"),
        "regular": (Decimal("100.00"), "Regular"),
        "almost_regular": (Decimal("99.99"), "New"),
        "browser": (Decimal("0.00"), "New"),
    }
    assert rows["vip"]["revenue_rank"] == 1 and rows["browser"]["revenue_rank"] == 6


def test_kpis(loaded: Warehouse) -> None:
    (k,) = loaded.query("SELECT * FROM kpis")
    assert k["total_revenue"] == Decimal("2699.98")
    assert (k["orders"], k["page_views"], k["add_to_cart_count"], k["events"]) == (6, 8, 2, 16)
    assert (k["active_customers"], k["purchasing_customers"]) == (6, 5)
    assert k["avg_order_value"] == Decimal("450.00")  # 2699.98 / 6 = 449.9966...
    assert k["conversion_rate"] == pytest.approx(0.8333)
    assert k["purchase_to_view_rate"] == pytest.approx(0.75)


def test_event_funnel(loaded: Warehouse) -> None:
    rows = loaded.query("SELECT * FROM event_funnel ORDER BY stage")
    got = [(r["event_type"], r["events"], r["unique_customers"]) for r in rows]
    assert got == [("PAGE_VIEW", 8, 5), ("ADD_TO_CART", 2, 2), ("PURCHASE", 6, 5)]
    rates = [r["conversion_from_views"] for r in rows]
    assert rates == pytest.approx([1.0, 0.4, 1.0])


def test_daily_customer_revenue(loaded: Warehouse) -> None:
    rows = by(loaded.query("SELECT * FROM daily_customer_revenue"), "event_date")
    assert rows[day(0)] == {
        "event_date": day(0),
        "revenue": Decimal("2299.98"),
        "orders": 5,
        "customers": 5,
        "active_customers": 6,
        "avg_order_value": Decimal("460.00"),
    }
    assert rows[day(1)]["revenue"] == Decimal("400.00")
    assert (rows[day(1)]["orders"], rows[day(1)]["avg_order_value"]) == (1, Decimal("400.00"))


def test_real_time_customer_metrics(loaded: Warehouse) -> None:
    rows = by(loaded.query("SELECT * FROM real_time_customer_metrics"), "customer_id")
    vip = rows["vip"]
    assert (vip["page_views"], vip["add_to_cart_count"], vip["purchase_count"]) == (2, 1, 2)
    assert vip["engagement_score"] == 2 * 1 + 1 * 3 + 2 * 10
    assert vip["conversion_rate"] == pytest.approx(1.0)
    assert (vip["first_event_date"], vip["last_event_date"]) == (day(0), day(1))
    assert rows["browser"]["engagement_score"] == 3
    assert rows["browser"]["conversion_rate"] == 0
    assert rows["regular"]["conversion_rate"] is None  # bought without a page view


def test_hourly_trends(loaded: Warehouse) -> None:
    rows = loaded.query("SELECT * FROM hourly_trends")
    got = {
        (r["event_hour"], r["event_type"]): (r["events"], r["unique_customers"], r["revenue"])
        for r in rows
    }
    h10 = T0.replace(minute=0)
    assert got == {
        (h10, "PAGE_VIEW"): (8, 5, Decimal("0.00")),
        (h10, "ADD_TO_CART"): (2, 2, Decimal("0.00")),
        (h10, "PURCHASE"): (5, 5, Decimal("2299.98")),
        (D1.replace(minute=0), "PURCHASE"): (1, 1, Decimal("400.00")),
    }


def test_revenue_by_category(loaded: Warehouse) -> None:
    rows = by(loaded.query("SELECT * FROM revenue_by_category"), "category")
    got = {c: (r["revenue"], r["orders"], r["units_sold"], r["customers"]) for c, r in rows.items()}
    assert got == {
        "books": (Decimal("2099.99"), 3, 4, 3),
        "toys": (Decimal("499.99"), 2, 2, 2),
        "unknown": (Decimal("100.00"), 1, 1, 1),
    }
