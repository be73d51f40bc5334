"""Views over the Gold aggregates (sessions, products), on DuckDB and Snowflake (fakesnow):
equal to the same figures computed from the events, and reading no `silver_events`."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlglot
from sqlglot import exp
from test_gold_sessions import _events, _meta
from wh_data import events_table

from shopstream.warehouse import Warehouse
from shopstream.warehouse.dialect import VIEWS, schema_statements

# The tables whose size grows with every event: no reporting view may scan one (`bench
# reads` times each view on 100M events). pipeline_counts only counts their rows.
EVENT_TABLES = {"silver_events", "dead_letter_events", "clean_sources"}
GOLD_VIEWS = tuple(v for v in VIEWS if v != "pipeline_counts")


def _view(dialect: str, name: str) -> str:
    (stmt,) = [s for s in schema_statements(dialect) if f"VIEW {name} AS" in s]  # type: ignore[arg-type]
    return stmt


@pytest.mark.parametrize("dialect", ["duckdb", "snowflake"])
@pytest.mark.parametrize("name", GOLD_VIEWS)
def test_gold_views_read_aggregates_not_events(dialect: str, name: str) -> None:
    tables = {
        t.name for t in sqlglot.parse_one(_view(dialect, name), read=dialect).find_all(exp.Table)
    }
    assert tables and not tables & EVENT_TABLES


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def test_session_funnel_and_abandonment_by_hour_and_device(any_wh: Warehouse) -> None:
    events = _events(800, seed=2, sessions=400)
    for n in range(4):
        any_wh.commit_batch(events_table(events[n * 200 : (n + 1) * 200]), None, _meta(n))
    sessions: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["session_id"] is None:
            continue
        s = sessions.setdefault(
            e["session_id"],
            {
                "first": e["event_timestamp"],
                "d": e["device"],
                "v": 0,
                "a": 0,
                "p": 0,
                "r": Decimal(0),
            },
        )
        s["first"] = min(s["first"], e["event_timestamp"])
        s["v"] += e["event_type"] == "PAGE_VIEW"
        s["a"] += e["event_type"] == "ADD_TO_CART"
        s["p"] += e["event_type"] == "PURCHASE"
        s["r"] += e["reporting_amount"] or 0
    cells: dict[tuple[datetime, str], list[Any]] = defaultdict(lambda: [0, 0, 0, 0, 0, Decimal(0)])
    for s in sessions.values():
        c = cells[(s["first"].replace(minute=0, second=0, microsecond=0), s["d"])]
        c[0] += 1
        c[1] += s["v"] > 0
        c[2] += s["a"] > 0
        c[3] += s["p"] > 0
        c[4] += s["a"] > 0 and s["p"] == 0
        c[5] += s["r"]
    want = {k: (*c, _rate(c[4], c[2]), _rate(c[3], c[0])) for k, c in cells.items()}
    got = {
        (r["session_hour"].replace(tzinfo=None), r["device"]): (
            int(r["sessions"]), int(r["with_page_view"]), int(r["with_cart"]),
            int(r["converted"]), int(r["abandoned_carts"]), Decimal(r["revenue"]),
            r["cart_abandonment_rate"], r["conversion_rate"],
        )
        for r in any_wh.query("SELECT * FROM session_funnel")
    }  # fmt: skip
    assert sum(c[4] for c in cells.values()) > 0
    assert got == want


def test_product_performance_and_top_products(any_wh: Warehouse) -> None:
    events = _events(800, seed=3)
    for n in range(4):
        any_wh.commit_batch(events_table(events[n * 200 : (n + 1) * 200]), None, _meta(n))
    totals: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, 0, Decimal(0)])
    for e in events:
        if e["product_id"] is None:
            continue
        t = totals[e["product_id"]]
        t[0] += e["event_type"] == "PAGE_VIEW"
        t[1] += e["event_type"] == "ADD_TO_CART"
        if e["event_type"] == "PURCHASE":
            t[2] += 1
            t[3] += e["quantity"]
            t[4] += e["reporting_amount"]
    want = {
        p: (*t, _rate(t[2], t[0]), _rate(t[1], t[0]), _rate(t[2], t[1])) for p, t in totals.items()
    }
    rows = any_wh.query("SELECT * FROM product_performance")
    got = {
        r["product_id"]: (
            int(r["page_views"]), int(r["add_to_cart_count"]), int(r["purchase_count"]),
            int(r["units_sold"]), Decimal(r["total_revenue"]), r["view_to_purchase_rate"],
            r["view_to_cart_rate"], r["cart_to_purchase_rate"],
        )
        for r in rows
    }  # fmt: skip
    assert got == want
    top = sorted(
        any_wh.query("SELECT product_id, revenue_rank FROM top_products"),
        key=lambda r: (int(r["revenue_rank"]), r["product_id"]),
    )
    by_revenue = sorted(totals, key=lambda p: (-totals[p][4], p))
    assert [r["product_id"] for r in top] == by_revenue[:20]
    assert int(top[0]["revenue_rank"]) == 1
