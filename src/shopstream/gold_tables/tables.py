"""The Gold tables, each declared once (see model.py for what a declaration means).

Adding a measure to one of them is one line here: the schema, the commit (DuckDB and
Snowflake), the ground truth and docs/warehouse.md follow. An existing warehouse gets the
new column from one `dialect.COLUMN_ADDITIONS` entry (its older rows hold NULL: the
measure was not counted before it existed).
"""

from __future__ import annotations

from shopstream.contract import EVENT_TYPES
from shopstream.gold_tables.model import (
    DAY_MS,
    HOUR_MS,
    TOTAL_TYPE,
    Derived,
    GoldTable,
    Key,
    Measure,
    Rollup,
    RollupColumn,
    count_of,
    events,
    first_time,
    last_time,
    latest_text,
    revenue,
    row_count,
    rows_where,
    units_sold,
)

CUSTOMER = Key("customer_id", "VARCHAR", "customer_id", "customer", lambda r: r["customer"])
EVENT_DATE = Key("event_date", "DATE", "event_date", "date", lambda r: r["ts_ms"] // DAY_MS)
PAGE_VIEWS = count_of("PAGE_VIEW", "page_views")
CARTS = count_of("ADD_TO_CART", "add_to_cart_count")
PURCHASES = count_of("PURCHASE", "purchase_count")

CUSTOMER_DAILY = GoldTable(
    "customer_daily_metrics",
    "per customer and UTC event date",
    (CUSTOMER, EVENT_DATE),
    (PAGE_VIEWS, CARTS, PURCHASES, revenue()),
)

EVENT_HOUR = Key(
    "event_hour",
    "TIMESTAMP",
    "DATE_TRUNC('hour', event_timestamp)",
    "hour",
    lambda r: r["ts_ms"] // HOUR_MS,
)

HOURLY = GoldTable(
    "hourly_metrics",
    "per UTC event hour",
    (EVENT_HOUR,),
    (events(), PAGE_VIEWS, CARTS, PURCHASES, units_sold(), revenue()),
)

# Events without a product_id have no product row (they still count everywhere else).
PRODUCT_DAILY = GoldTable(
    "product_daily_metrics",
    "per product and UTC event date; category is the latest non-null category seen",
    (
        Key("product_id", "VARCHAR", "product_id", "product", lambda r: r["product"]),
        EVENT_DATE,
    ),
    (
        latest_text("category", "the product's category"),
        PAGE_VIEWS,
        CARTS,
        PURCHASES,
        units_sold(),
        revenue(),
    ),
    where="product_id IS NOT NULL",
    where_truth=lambda r: r["product"] >= 0,
)

# A session is its session_id. Events without one (the seed producer's shape) belong to no
# session: they are excluded here, as in the truth (truth_shop: `events_without_session`),
# and still count in every other table. Every column merges exactly across batches, so a
# late event or one re-sent after a crash (dedup passes it once) keeps each row exact.
# Its cost: a row per session (~1 per 5 events) that both upsert halves join against.
# Measured ad hoc on a 5M-event DuckDB history, 6 batches of 40k events, best of 3 on the
# shared 2-core machine: 1275 ms for the three earlier tables, 1710 ms with sessions,
# 2062 ms with sessions and customer_category_metrics.
SESSIONS = GoldTable(
    "sessions",
    "per session_id; events without one belong to no session",
    (Key("session_id", "VARCHAR", "session_id", "session", lambda r: r["session"]),),
    (
        latest_text("customer_id", "the session's customer"),
        latest_text("device", "the session's device"),
        first_time("first_event_at"),
        last_time("last_event_at"),
        PAGE_VIEWS,
        CARTS,
        PURCHASES,
        units_sold("units"),
        revenue("revenue"),
    ),
    (
        Derived(
            "converted",
            "BOOLEAN",
            "{purchase_count} > 0",
            lambda m: m["purchase_count"] > 0,
            doc="a purchase in the session",
        ),
        Derived(
            "abandoned_cart",
            "BOOLEAN",
            "{add_to_cart_count} > 0 AND {purchase_count} = 0",
            lambda m: (m["add_to_cart_count"] > 0) & (m["purchase_count"] == 0),
            doc="an add-to-cart and no purchase",
        ),
    ),
    where="session_id IS NOT NULL",
    where_truth=lambda r: r["session"] != 0,
    # What session_funnel and the dashboard read: hours x devices rows, not a row per session
    # (on a 100M-event history, 8.3M sessions; see docs/benchmarks.md, `bench reads`).
    rollups=(
        Rollup(
            "session_hourly",
            "sessions per UTC hour of their first event and device ('unknown' without one)",
            (
                RollupColumn("session_hour", "TIMESTAMP", "DATE_TRUNC('hour', first_event_at)"),
                RollupColumn("device", "VARCHAR", "COALESCE(device, 'unknown')"),
            ),
            (
                row_count("sessions"),
                rows_where("with_page_view", "page_views > 0", "sessions with a page view"),
                rows_where("with_cart", "add_to_cart_count > 0", "sessions with a cart"),
                rows_where("converted", "converted", "sessions with a purchase"),
                rows_where("abandoned_carts", "abandoned_cart", "a cart and no purchase"),
                RollupColumn("revenue", TOTAL_TYPE, "revenue", "the sessions' revenue"),
            ),
            rows="sessions",
        ),
    ),
)

# Which customers were active per hour and event type, so hourly_trends counts distinct
# customers per hour from `hourly_customers` (a row per hour) instead of scanning
# silver_events (2.6 s at 10M events). This table is only written and joined by the commit
# (a row per active customer and hour); readers use its rollup.
CUSTOMER_HOURLY = GoldTable(
    "customer_hourly_metrics",
    "per customer and UTC event hour (the commit's record of who was active when)",
    (EVENT_HOUR, CUSTOMER),
    (PAGE_VIEWS, CARTS, PURCHASES),
    rollups=(
        Rollup(
            "hourly_customers",
            "distinct customers per UTC event hour, in all and per event type",
            (RollupColumn("event_hour", "TIMESTAMP", "event_hour"),),
            (
                row_count("customers"),
                rows_where("page_view_customers", "page_views > 0", "customers with a view"),
                rows_where("cart_customers", "add_to_cart_count > 0", "customers with a cart"),
                rows_where("purchase_customers", "purchase_count > 0", "customers who bought"),
            ),
            rows="customers",
        ),
    ),
)

# Purchases per customer and category, so revenue_by_category counts distinct customers
# without scanning silver_events (a row per pair: at most customers x categories). NULL
# categories are keyed 'unknown', as the view shows them. No generator truth (its model
# names no category per event): the views test compares it with a scan of silver_events.
CUSTOMER_CATEGORY = GoldTable(
    "customer_category_metrics",
    "purchases per customer and category ('unknown' without one)",
    (
        CUSTOMER,
        Key("category", "VARCHAR", "COALESCE(category, 'unknown')", "category", None),
    ),
    (PURCHASES, units_sold(), revenue()),
    where="event_type = 'PURCHASE'",
    where_truth=lambda r: r["event_type"] == EVENT_TYPES.index("PURCHASE"),
)

# A minute's events sent within this many seconds of their event time (Kafka timestamp
# minus event time): the stream as it flowed then, not late arrivals (docs/alerts.md).
ON_TIME_SECONDS = 60
ON_TIME_EVENTS = Measure(
    "on_time_events",
    "BIGINT",
    "SUM(CASE WHEN produced_at <= event_timestamp + INTERVAL '"
    + str(ON_TIME_SECONDS)
    + "' SECOND THEN 1 ELSE 0 END)",
    "sum",
    "int",
    None,  # the generator's truth knows no send times; tests compare with silver_events
    doc=f"events sent within {ON_TIME_SECONDS} s of their event time",
)

# Upserted in this order in the commit's one transaction.
# What the business alerts read (docs/alerts.md): one row per event minute. The key is
# exact across batches like hourly_metrics', so a late event lands in its own minute.
MINUTE = GoldTable(
    "minute_metrics",
    "per UTC event minute (the business alerts' input)",
    (
        Key(
            "event_minute",
            "TIMESTAMP",
            "DATE_TRUNC('minute', event_timestamp)",
            "minute",
            lambda r: r["ts_ms"] // 60_000,
        ),
    ),
    (events(), PAGE_VIEWS, CARTS, PURCHASES, revenue(), ON_TIME_EVENTS),
)

GOLD_TABLES: tuple[GoldTable, ...] = (
    CUSTOMER_DAILY,
    HOURLY,
    PRODUCT_DAILY,
    SESSIONS,
    CUSTOMER_CATEGORY,
    CUSTOMER_HOURLY,
    MINUTE,
)
# Every table the commit writes: each Gold table, then its rollups.
GOLD_TABLE_NAMES: tuple[str, ...] = tuple(
    name for t in GOLD_TABLES for name in (t.name, *(r.name for r in t.rollups))
)
