"""The dashboard's read model: one small query per panel, over the warehouse's views.

SQL is written once in DuckDB's dialect and rendered for Snowflake by sqlglot, like the
warehouse's own SQL. Values come back JSON-ready (timestamps -> ISO); money stays Decimal,
which the API models write as exact strings.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from shopstream.contract import CustomerTier

if TYPE_CHECKING:
    from shopstream.warehouse.base import Warehouse

RAW_PREVIEW_CHARS = 160

KPIS = (
    "SELECT total_revenue, orders, avg_order_value, page_views, add_to_cart_count, events, "
    "active_customers, purchasing_customers, conversion_rate, purchase_to_view_rate, "
    "updated_at FROM kpis"
)
FUNNEL = (
    "SELECT stage, event_type, events, unique_customers, conversion_from_views "
    "FROM event_funnel ORDER BY stage"
)
# The pre-aggregated gold table: one row per hour, cheap to read every second.
HOURLY = (
    "SELECT event_hour, events, page_views, add_to_cart_count, purchase_count, units_sold, "
    "total_revenue FROM hourly_metrics ORDER BY event_hour DESC LIMIT {limit}"
)
TOP_CUSTOMERS = (
    "SELECT customer_id, total_revenue, purchase_count, customer_tier, revenue_rank "
    "FROM top_customers ORDER BY revenue_rank, customer_id LIMIT {limit}"
)
TIERS = "SELECT customer_tier, COUNT(*) AS customers FROM top_customers GROUP BY customer_tier"
CATEGORIES = (
    "SELECT category, revenue, orders, units_sold, customers FROM revenue_by_category "
    "ORDER BY revenue DESC, category"
)
# Sessions by device, all hours (the `session_funnel` view over Gold's `sessions` table).
SESSIONS_BY_DEVICE = (
    "SELECT device, CAST(SUM(sessions) AS BIGINT) AS sessions, "
    "CAST(SUM(with_cart) AS BIGINT) AS with_cart, CAST(SUM(converted) AS BIGINT) AS converted, "
    "CAST(SUM(abandoned_carts) AS BIGINT) AS abandoned_carts, SUM(revenue) AS revenue "
    "FROM session_funnel GROUP BY device ORDER BY sessions DESC, device"
)
TOP_PRODUCTS = (
    "SELECT product_id, category, total_revenue, purchase_count, units_sold, page_views, "
    "view_to_purchase_rate, revenue_rank FROM top_products "
    "ORDER BY revenue_rank, product_id LIMIT {limit}"
)
DEAD_LETTER_COUNTS = (
    "SELECT reason, dead_letters, last_processed_at FROM dead_letter_counts "
    "ORDER BY dead_letters DESC, reason"
)
DEAD_LETTER_SAMPLES = (
    "SELECT reason, detail, source_topic, source_partition, source_offset, processed_at, "
    "raw_base64 FROM (SELECT reason, detail, source_topic, source_partition, source_offset, "
    "processed_at, raw_base64, ROW_NUMBER() OVER (PARTITION BY reason "
    "ORDER BY processed_at DESC, source_offset DESC) AS rn FROM dead_letter_samples) AS d "
    "WHERE rn <= {limit} ORDER BY reason, rn"
)
# Open alerts first (newest episode first), then resolved ones, most recently resolved first.
ALERTS = (
    "SELECT rule, severity, summary, started_at, resolved_at, expected, observed, p_value, "
    "detected_at FROM alerts "
    "ORDER BY CASE WHEN resolved_at IS NULL THEN 0 ELSE 1 END, "
    "COALESCE(resolved_at, started_at) DESC, started_at DESC, rule LIMIT {limit}"
)


@cache
def _render(sql: str, dialect: str) -> str:
    if dialect == "duckdb":
        return sql
    from shopstream.warehouse.dialect import render

    (stmt,) = render(sql, dialect)  # type: ignore[arg-type]
    return stmt


def run(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    """Rows of `sql` (DuckDB dialect) in JSON-ready values."""
    return [{k: jsonable(v) for k, v in row.items()} for row in wh.query(_render(sql, wh.kind))]


def jsonable(v: Any) -> Any:
    """A warehouse value as a JSON value (a Decimal is kept: never rounded through a float)."""
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def kpis(wh: Warehouse) -> dict[str, Any]:
    """The one row of the `kpis` view."""
    rows = run(wh, KPIS)
    return rows[0] if rows else {}


def funnel(wh: Warehouse) -> list[dict[str, Any]]:
    """The three funnel stages."""
    return run(wh, FUNNEL)


def hourly(wh: Warehouse, hours: int = 24) -> list[dict[str, Any]]:
    """The newest `hours` hours that have events, oldest first."""
    return list(reversed(run(wh, HOURLY.format(limit=int(hours)))))


def top_customers(wh: Warehouse, limit: int = 10) -> list[dict[str, Any]]:
    """Customers by revenue with their tier."""
    return run(wh, TOP_CUSTOMERS.format(limit=int(limit)))


def tiers(wh: Warehouse) -> dict[str, int]:
    """How many customers are in each tier."""
    counts = {r["customer_tier"]: int(r["customers"]) for r in run(wh, TIERS)}
    return {tier.value: counts.get(tier.value, 0) for tier in CustomerTier}


def categories(wh: Warehouse) -> list[dict[str, Any]]:
    """Purchases by category."""
    return run(wh, CATEGORIES)


def sessions(wh: Warehouse) -> list[dict[str, Any]]:
    """Sessions, carts, conversions and abandoned carts per device, with their rates."""
    rows = run(wh, SESSIONS_BY_DEVICE)
    for r in rows:
        r["conversion_rate"] = _ratio(r["converted"], r["sessions"])
        r["cart_abandonment_rate"] = _ratio(r["abandoned_carts"], r["with_cart"])
    return rows


def _ratio(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 places, None without a whole (as the views compute it)."""
    return round(part / whole, 4) if whole else None


def top_products(wh: Warehouse, limit: int = 10) -> list[dict[str, Any]]:
    """Products by all-time revenue, with their view-to-purchase rate."""
    return run(wh, TOP_PRODUCTS.format(limit=int(limit)))


def dead_letters(wh: Warehouse, samples: int = 3) -> list[dict[str, Any]]:
    """Dead-letter counts by reason, each with its newest `samples` records."""
    by_reason = {r["reason"]: r | {"samples": []} for r in run(wh, DEAD_LETTER_COUNTS)}
    if samples > 0 and by_reason:
        for s in run(wh, DEAD_LETTER_SAMPLES.format(limit=int(samples))):
            raw = s.pop("raw_base64") or ""
            try:
                text = base64.b64decode(raw).decode("utf-8", errors="replace")
            except ValueError:
                text = raw
            s["raw_preview"] = text[:RAW_PREVIEW_CHARS]
            if s["reason"] in by_reason:
                by_reason[s["reason"]]["samples"].append(s)
    return list(by_reason.values())


def alerts(wh: Warehouse, limit: int = 20) -> list[dict[str, Any]]:
    """Business alerts, open ones first, each with `open` (its episode has not resolved)."""
    rows = run(wh, ALERTS.format(limit=int(limit)))
    for r in rows:
        r["open"] = r["resolved_at"] is None
    return rows
