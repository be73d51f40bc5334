-- Reporting views, DuckDB dialect; rendered for Snowflake by sqlglot. The dashboard and BI
-- read these: column names are snake_case and stable (extend, don't rename).
-- Money is DECIMAL(38,2) (contract.TOTAL_SQL_TYPE) in the reporting currency, cast inside
-- each SUM: an uncast argument is summed as DOUBLE by fakesnow (1e16-sized totals lost their
-- cents in a test); rates are fractions in [0, 1] rounded
-- to 4 places (DOUBLE); counts are BIGINT (some drivers return wide sums as floats);
-- timestamps are naive UTC.

-- The three funnel stages, always all three rows (zeros before any data).
-- conversion_from_views = unique customers at this stage / unique customers who viewed.
-- From customer_daily_metrics, not silver_events: a customer has an event of a type iff
-- one of its days counts one, so the distinct counts are exact.
CREATE OR REPLACE VIEW event_funnel AS
WITH stages AS (
    SELECT * FROM (VALUES (1, 'PAGE_VIEW'), (2, 'ADD_TO_CART'), (3, 'PURCHASE'))
        AS v (stage, event_type)
),
counts AS (
    SELECT
        CAST(COALESCE(SUM(page_views), 0) AS BIGINT) AS page_views,
        CAST(COALESCE(SUM(add_to_cart_count), 0) AS BIGINT) AS add_to_cart_count,
        CAST(COALESCE(SUM(purchase_count), 0) AS BIGINT) AS purchase_count,
        COUNT(DISTINCT CASE WHEN page_views > 0 THEN customer_id END) AS viewers,
        COUNT(DISTINCT CASE WHEN add_to_cart_count > 0 THEN customer_id END) AS carters,
        COUNT(DISTINCT CASE WHEN purchase_count > 0 THEN customer_id END) AS buyers
    FROM customer_daily_metrics
),
by_stage AS (
    SELECT
        s.stage,
        s.event_type,
        CASE s.stage WHEN 1 THEN c.page_views WHEN 2 THEN c.add_to_cart_count
            ELSE c.purchase_count END AS events,
        CASE s.stage WHEN 1 THEN c.viewers WHEN 2 THEN c.carters ELSE c.buyers END
            AS unique_customers,
        c.viewers
    FROM stages AS s CROSS JOIN counts AS c
)
SELECT
    stage,
    event_type,
    events,
    unique_customers,
    ROUND(CAST(unique_customers AS DOUBLE) / NULLIF(viewers, 0), 4) AS conversion_from_views
FROM by_stage;

-- One row per event_date; customers = customers with at least one purchase that day.
CREATE OR REPLACE VIEW daily_customer_revenue AS
SELECT
    event_date,
    SUM(CAST(total_revenue AS $total_type)) AS revenue,
    CAST(SUM(purchase_count) AS BIGINT) AS orders,
    CAST(SUM(CASE WHEN purchase_count > 0 THEN 1 ELSE 0 END) AS BIGINT) AS customers,
    COUNT(*) AS active_customers,
    CAST(ROUND(SUM(total_revenue) / NULLIF(SUM(purchase_count), 0), 2) AS $total_type)
        AS avg_order_value
FROM customer_daily_metrics
GROUP BY event_date;

-- Per event hour (UTC) and event type, a row for each type the hour has events of; from
-- Gold's hourly_metrics and hourly_customers (distinct customers per hour and type), two
-- rows per hour, so it no longer scans silver_events (2.6 s at 10M events).
CREATE OR REPLACE VIEW hourly_trends AS
WITH types AS (
    SELECT * FROM (VALUES ('PAGE_VIEW'), ('ADD_TO_CART'), ('PURCHASE')) AS v (event_type)
),
by_type AS (
    SELECT
        h.event_hour,
        ty.event_type,
        CAST(CASE ty.event_type WHEN 'PAGE_VIEW' THEN h.page_views
            WHEN 'ADD_TO_CART' THEN h.add_to_cart_count ELSE h.purchase_count END AS BIGINT)
            AS events,
        CAST(CASE ty.event_type WHEN 'PAGE_VIEW' THEN c.page_view_customers
            WHEN 'ADD_TO_CART' THEN c.cart_customers ELSE c.purchase_customers END AS BIGINT)
            AS unique_customers,
        CAST(CASE WHEN ty.event_type = 'PURCHASE' THEN h.total_revenue ELSE 0 END
            AS $total_type) AS revenue
    FROM hourly_metrics AS h
    JOIN hourly_customers AS c ON c.event_hour = h.event_hour
    CROSS JOIN types AS ty
)
SELECT event_hour, event_type, events, unique_customers, revenue
FROM by_type
WHERE events > 0;

-- Per customer, all time. engagement_score = page_views*1 + add_to_cart_count*3 +
-- purchase_count*10; conversion_rate = purchase_count / page_views (NULL without views).
CREATE OR REPLACE VIEW real_time_customer_metrics AS
SELECT
    customer_id,
    CAST(SUM(page_views) AS BIGINT) AS page_views,
    CAST(SUM(add_to_cart_count) AS BIGINT) AS add_to_cart_count,
    CAST(SUM(purchase_count) AS BIGINT) AS purchase_count,
    SUM(CAST(total_revenue AS $total_type)) AS total_revenue,
    CAST(SUM(page_views) * 1 + SUM(add_to_cart_count) * 3 + SUM(purchase_count) * 10 AS BIGINT)
        AS engagement_score,
    ROUND(CAST(SUM(purchase_count) AS DOUBLE) / NULLIF(SUM(page_views), 0), 4)
        AS conversion_rate,
    MIN(event_date) AS first_event_date,
    MAX(event_date) AS last_event_date,
    MAX(updated_at) AS updated_at
FROM customer_daily_metrics
GROUP BY customer_id;

-- Every customer with its all-time revenue and tier (a CASE rendered from the contract's
-- TIER_MIN_REVENUE: VIP, Premium, Regular, New); revenue_rank 1 = highest revenue.
CREATE OR REPLACE VIEW top_customers AS
WITH totals AS (
    SELECT
        customer_id,
        SUM(CAST(total_revenue AS $total_type)) AS total_revenue,
        CAST(SUM(purchase_count) AS BIGINT) AS purchase_count
    FROM customer_daily_metrics
    GROUP BY customer_id
)
SELECT
    customer_id,
    total_revenue,
    purchase_count,
    $customer_tier AS customer_tier,
    RANK() OVER (ORDER BY total_revenue DESC) AS revenue_rank
FROM totals;

-- One row of headline figures. conversion_rate = purchasing customers / active customers;
-- purchase_to_view_rate = purchases / page views; avg_order_value = revenue / orders.
CREATE OR REPLACE VIEW kpis AS
WITH totals AS (
    SELECT
        COALESCE(SUM(CAST(total_revenue AS $total_type)), 0) AS total_revenue,
        CAST(COALESCE(SUM(purchase_count), 0) AS BIGINT) AS orders,
        CAST(COALESCE(SUM(page_views), 0) AS BIGINT) AS page_views,
        CAST(COALESCE(SUM(add_to_cart_count), 0) AS BIGINT) AS add_to_cart_count,
        COUNT(DISTINCT customer_id) AS active_customers,
        COUNT(DISTINCT CASE WHEN purchase_count > 0 THEN customer_id END) AS purchasing_customers,
        MAX(updated_at) AS updated_at
    FROM customer_daily_metrics
)
SELECT
    total_revenue,
    orders,
    CAST(ROUND(total_revenue / NULLIF(orders, 0), 2) AS $total_type) AS avg_order_value,
    page_views,
    add_to_cart_count,
    page_views + add_to_cart_count + orders AS events,
    active_customers,
    purchasing_customers,
    ROUND(CAST(purchasing_customers AS DOUBLE) / NULLIF(active_customers, 0), 4)
        AS conversion_rate,
    ROUND(CAST(orders AS DOUBLE) / NULLIF(page_views, 0), 4) AS purchase_to_view_rate,
    updated_at
FROM totals;

-- Purchases by product category (NULL category shown as 'unknown'), from the Gold
-- customer_category_metrics (one row per customer and category, so customers = rows).
CREATE OR REPLACE VIEW revenue_by_category AS
SELECT
    category,
    SUM(CAST(total_revenue AS $total_type)) AS revenue,
    CAST(SUM(purchase_count) AS BIGINT) AS orders,
    CAST(SUM(units_sold) AS BIGINT) AS units_sold,
    COUNT(*) AS customers
FROM customer_category_metrics
GROUP BY category;

-- Dead letters per reason (the commit's dead_letter_reasons, a row per reason).
CREATE OR REPLACE VIEW dead_letter_counts AS
SELECT reason, dead_letters, last_processed_at
FROM dead_letter_reasons;

-- The pipeline's counts, each raw record once whatever Silver re-sent after a crash:
-- clean = unique + duplicates (Gold), dead letters by source offset, and `redelivered`, the
-- copies Gold read beyond those (pipeline_batches counts every record a batch read; a
-- replayed batch is logged once, so Gold's own replays are not in it).
CREATE OR REPLACE VIEW pipeline_counts AS
WITH read_counts AS (
    SELECT
        CAST(COALESCE(SUM(input_rows), 0) AS BIGINT) AS clean_read,
        CAST(COALESCE(SUM(dead_letters), 0) AS BIGINT) AS dead_letters_read
    FROM pipeline_batches
),
stored AS (
    SELECT
        (SELECT COUNT(*) FROM clean_sources) AS clean,
        (SELECT COUNT(*) FROM silver_events) AS unique_events,
        (SELECT COUNT(*) FROM dead_letter_events) AS dead_letter
)
SELECT
    s.clean,
    s.unique_events,
    s.clean - s.unique_events AS duplicates,
    s.dead_letter,
    GREATEST(r.clean_read - s.clean, 0) AS redelivered_clean,
    GREATEST(r.dead_letters_read - s.dead_letter, 0) AS redelivered_dead_letter
FROM stored AS s CROSS JOIN read_counts AS r;

-- Sessions by the UTC hour they started and device (Gold `session_hourly`, the rollup of
-- `sessions` kept in the same commit; events without a session_id are in no session).
-- The funnel: sessions, those with a page view, a cart, a purchase; abandoned_carts =
-- sessions with a cart and no purchase.
-- cart_abandonment_rate = abandoned_carts / sessions with a cart;
-- conversion_rate = converted sessions / sessions.
CREATE OR REPLACE VIEW session_funnel AS
SELECT
    session_hour,
    device,
    sessions,
    with_page_view,
    with_cart,
    converted,
    abandoned_carts,
    CAST(revenue AS $total_type) AS revenue,
    ROUND(CAST(abandoned_carts AS DOUBLE) / NULLIF(with_cart, 0), 4) AS cart_abandonment_rate,
    ROUND(CAST(converted AS DOUBLE) / sessions, 4) AS conversion_rate
FROM session_hourly;

-- Per product, all time (Gold `product_daily_metrics`); category is the product's (one per
-- product in the catalog: MAX over its days). revenue_rank 1 = highest revenue.
-- view_to_purchase_rate = purchases / page views (NULL without views);
-- view_to_cart_rate = carts / page views; cart_to_purchase_rate = purchases / carts.
CREATE OR REPLACE VIEW product_performance AS
WITH totals AS (
    SELECT
        product_id,
        MAX(category) AS category,
        CAST(SUM(page_views) AS BIGINT) AS page_views,
        CAST(SUM(add_to_cart_count) AS BIGINT) AS add_to_cart_count,
        CAST(SUM(purchase_count) AS BIGINT) AS purchase_count,
        CAST(SUM(units_sold) AS BIGINT) AS units_sold,
        SUM(CAST(total_revenue AS $total_type)) AS total_revenue
    FROM product_daily_metrics
    GROUP BY product_id
)
SELECT
    product_id,
    category,
    page_views,
    add_to_cart_count,
    purchase_count,
    units_sold,
    total_revenue,
    ROUND(CAST(purchase_count AS DOUBLE) / NULLIF(page_views, 0), 4) AS view_to_purchase_rate,
    ROUND(CAST(add_to_cart_count AS DOUBLE) / NULLIF(page_views, 0), 4) AS view_to_cart_rate,
    ROUND(CAST(purchase_count AS DOUBLE) / NULLIF(add_to_cart_count, 0), 4)
        AS cart_to_purchase_rate,
    RANK() OVER (ORDER BY total_revenue DESC) AS revenue_rank
FROM totals;

-- The 20 products with the highest revenue (ties broken by product_id), from
-- product_performance.
CREATE OR REPLACE VIEW top_products AS
SELECT product_id, category, total_revenue, purchase_count, units_sold, page_views,
       view_to_purchase_rate, revenue_rank
FROM product_performance
ORDER BY total_revenue DESC, product_id
LIMIT 20;
