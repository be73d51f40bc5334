"""Generated data through the commit (DuckDB), no Spark: Gold equals the generator's truth
exactly, and the views moved onto Gold aggregates equal the same figures scanned from
silver_events."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from gen_events import clean_events

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.incidents import parse_incidents
from shopstream.bronze.truth import TruthBuilder
from shopstream.bronze.truth_shop import session_rows
from shopstream.gold_tables.render import truth_query
from shopstream.gold_tables.tables import CUSTOMER_DAILY
from shopstream.gold_tables.truth import comparable
from shopstream.warehouse import BatchMeta, Warehouse
from shopstream.warehouse.duckdb import DuckDBWarehouse

EVENTS = 12_000

# The views' figures as they were computed before they moved onto Gold: scans of the events.
SCANS = {
    "event_funnel": """
        WITH stages AS (
            SELECT * FROM (VALUES (1, 'PAGE_VIEW'), (2, 'ADD_TO_CART'), (3, 'PURCHASE'))
                AS v (stage, event_type)
        ),
        counts AS (
            SELECT event_type, COUNT(*) AS events, COUNT(DISTINCT customer_id) AS unique_customers
            FROM silver_events GROUP BY event_type
        ),
        viewers AS (
            SELECT COUNT(DISTINCT customer_id) AS n FROM silver_events
            WHERE event_type = 'PAGE_VIEW'
        )
        SELECT s.stage, s.event_type, COALESCE(c.events, 0) AS events,
            COALESCE(c.unique_customers, 0) AS unique_customers,
            ROUND(CAST(COALESCE(c.unique_customers, 0) AS DOUBLE) / NULLIF(v.n, 0), 4)
                AS conversion_from_views
        FROM stages AS s CROSS JOIN viewers AS v
        LEFT JOIN counts AS c ON c.event_type = s.event_type
        ORDER BY s.stage""",
    "revenue_by_category": """
        SELECT COALESCE(category, 'unknown') AS category,
            SUM(CAST(COALESCE(reporting_amount, 0) AS DECIMAL(38, 2))) AS revenue,
            COUNT(*) AS orders, CAST(SUM(quantity) AS BIGINT) AS units_sold,
            COUNT(DISTINCT customer_id) AS customers
        FROM silver_events WHERE event_type = 'PURCHASE'
        GROUP BY COALESCE(category, 'unknown') ORDER BY category""",
    "hourly_trends": """
        SELECT DATE_TRUNC('hour', event_timestamp) AS event_hour, event_type,
            COUNT(*) AS events, COUNT(DISTINCT customer_id) AS unique_customers,
            SUM(CAST(CASE WHEN event_type = 'PURCHASE' THEN COALESCE(reporting_amount, 0)
                ELSE 0 END AS DECIMAL(38, 2))) AS revenue
        FROM silver_events GROUP BY DATE_TRUNC('hour', event_timestamp), event_type
        ORDER BY event_hour, event_type""",
    "session_funnel": """
        WITH s AS (
            SELECT session_id, MIN(event_timestamp) AS first_at, MAX(device) AS device,
                COUNT(*) FILTER (WHERE event_type = 'PAGE_VIEW') AS v,
                COUNT(*) FILTER (WHERE event_type = 'ADD_TO_CART') AS a,
                COUNT(*) FILTER (WHERE event_type = 'PURCHASE') AS p,
                SUM(CAST(CASE WHEN event_type = 'PURCHASE' THEN COALESCE(reporting_amount, 0)
                    ELSE 0 END AS DECIMAL(38, 2))) AS r
            FROM silver_events WHERE session_id IS NOT NULL GROUP BY session_id
        )
        SELECT DATE_TRUNC('hour', first_at) AS session_hour,
            COALESCE(device, 'unknown') AS device, COUNT(*) AS sessions,
            COUNT(*) FILTER (WHERE v > 0) AS with_page_view,
            COUNT(*) FILTER (WHERE a > 0) AS with_cart,
            COUNT(*) FILTER (WHERE p > 0) AS converted,
            COUNT(*) FILTER (WHERE a > 0 AND p = 0) AS abandoned_carts,
            SUM(r) AS revenue,
            ROUND(CAST(COUNT(*) FILTER (WHERE a > 0 AND p = 0) AS DOUBLE)
                / NULLIF(COUNT(*) FILTER (WHERE a > 0), 0), 4) AS cart_abandonment_rate,
            ROUND(CAST(COUNT(*) FILTER (WHERE p > 0) AS DOUBLE) / COUNT(*), 4)
                AS conversion_rate
        FROM s GROUP BY ALL ORDER BY session_hour, device""",
}
VIEWS = {
    "event_funnel": "SELECT * FROM event_funnel ORDER BY stage",
    "revenue_by_category": "SELECT * FROM revenue_by_category ORDER BY category",
    "hourly_trends": "SELECT * FROM hourly_trends ORDER BY event_hour, event_type",
    "session_funnel": "SELECT * FROM session_funnel ORDER BY session_hour, device",
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A warehouse holding a generated run (incidents included), with its truth."""
    incidents = parse_incidents(["checkout_outage@6h+6h", "payment_failures@1d+6h:1"])
    cfg = GeneratorConfig(seed=21, customers=400, backfill_days=2, incidents=incidents)
    gen = EventGenerator(cfg, total_events=EVENTS)
    truth = TruthBuilder(gen)
    wh = DuckDBWarehouse(Path(tmp_path_factory.mktemp("gen")) / "wh.duckdb")
    wh.init()
    offset = 0
    tables = []
    for n, batch in enumerate(gen.batches(EVENTS, 1500)):
        truth.add(batch)
        events = clean_events(gen, batch, offset)
        offset += events.num_rows
        tables.append(events)
        wh.commit_batch(events, None, BatchMeta(query_name="gold", query_id="g", batch_id=n))
    # Silver re-sends two batches after a crash: nothing changes.
    for n, events in enumerate(tables[2:4], start=len(tables)):
        wh.commit_batch(events, None, BatchMeta(query_name="gold", query_id="g", batch_id=n))
    yield wh, truth.result()
    wh.close()


def test_gold_tables_equal_the_generator_truth(loaded: tuple[Warehouse, dict[str, Any]]) -> None:
    wh, truth = loaded
    daily = wh.query(truth_query(CUSTOMER_DAILY))
    want_daily = comparable(CUSTOMER_DAILY, truth["customer_daily_metrics"])
    assert len(want_daily) > 500 and comparable(CUSTOMER_DAILY, daily) == want_daily
    columns = ("session_id", "customer_id", "device", "page_views", "add_to_cart_count",
               "purchase_count", "units", "revenue", "converted", "abandoned_cart")  # fmt: skip
    stored = wh.query(
        "SELECT session_id, customer_id, device, page_views, add_to_cart_count, purchase_count, "
        "units, CAST(revenue AS VARCHAR) AS revenue, converted, abandoned_cart, "
        "STRFTIME(first_event_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS first_event_at, "
        "STRFTIME(last_event_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS last_event_at "
        "FROM sessions ORDER BY session_id"
    )
    want = [
        {k: r[k] for k in (*columns, "first_event_at", "last_event_at")}
        for r in session_rows(truth["sessions"])
    ]
    assert len(want) > 500 and sum(r["abandoned_cart"] for r in want) > 0
    assert stored == want


@pytest.mark.parametrize("view", list(VIEWS))
def test_views_on_gold_equal_a_scan_of_the_events(
    loaded: tuple[Warehouse, dict[str, Any]], view: str
) -> None:
    wh, _ = loaded
    from_gold, scanned = wh.query(VIEWS[view]), wh.query(SCANS[view])
    assert len(scanned) >= 3 and all(Decimal(str(r.get("revenue", 0))) >= 0 for r in scanned)
    assert from_gold == scanned
