-- The exactly-once commit of one micro-batch, DuckDB dialect; rendered for Snowflake by sqlglot.
-- Each block is one statement, run in file order by Warehouse.commit_batch. The stage tables
-- are session-private temp tables loaded before BEGIN (Snowflake's bulk load runs DDL, which
-- would commit an open transaction); everything from mark_existing_events on runs inside ONE
-- transaction. Parameters are positional (`?`).

-- name: create_stage_events
CREATE TEMPORARY TABLE IF NOT EXISTS stage_events ($stage_event_columns, is_new BOOLEAN);

-- name: create_stage_sources
CREATE TEMPORARY TABLE IF NOT EXISTS stage_sources (
    source_partition INTEGER, source_offset BIGINT, is_new BOOLEAN
);

-- name: create_stage_dead_letters
CREATE TEMPORARY TABLE IF NOT EXISTS stage_dead_letters ($stage_dead_letter_columns, is_new BOOLEAN);

-- name: clear_stage_events
DELETE FROM stage_events;

-- name: clear_stage_sources
DELETE FROM stage_sources;

-- name: clear_stage_dead_letters
DELETE FROM stage_dead_letters;

-- name: find_batch
SELECT COUNT(*) FROM pipeline_batches WHERE query_id = ? AND batch_id = ?;

-- The batch's clean records by source (partition, offset), each once: a source already stored
-- is a copy Silver re-sent after a crash, so it is counted as redelivered, never as clean.
-- Bounded like mark_existing_dead_letters (a re-sent copy keeps its offset).
-- name: mark_existing_sources
UPDATE stage_sources SET is_new = FALSE
FROM clean_sources AS c
WHERE stage_sources.source_partition = c.source_partition
  AND stage_sources.source_offset = c.source_offset
  AND c.source_offset >= ?;

-- name: count_new_sources
SELECT COUNT(*) FROM stage_sources WHERE is_new;

-- name: insert_clean_sources
INSERT INTO clean_sources (source_partition, source_offset, batch_id)
SELECT source_partition, source_offset, ? FROM stage_sources WHERE is_new;

-- Rows arrive with is_new = TRUE; clear it for event_ids committed by earlier batches.
-- Only stored rows from the batch's dedup bound on can hold them (see warehouse/dedup.py):
-- a constant bound, so the scan skips older row groups / micro-partitions by min/max.
-- name: mark_existing_events
UPDATE stage_events SET is_new = FALSE
FROM silver_events AS e
WHERE stage_events.event_id = e.event_id
  AND e.event_timestamp >= ?;

-- name: count_new_events
SELECT COUNT(*) FROM stage_events WHERE is_new;

-- name: insert_silver_events
INSERT INTO silver_events ($event_columns, loaded_at, batch_id)
SELECT $event_columns, ?, ? FROM stage_events WHERE is_new;

-- Upserts (UPDATE matching keys, then INSERT missing keys) rather than MERGE: the same
-- effect in one transaction, and it also runs on fakesnow, whose MERGE emulation creates a
-- temp table mid-statement and so cannot run inside an explicit transaction.
-- The `fragment` blocks are the per-batch aggregates of the new rows, shared by both halves.
-- Money is cast to the total type inside SUM (as in views.sql), so every sum is exact.

-- fragment: customer_daily_source
SELECT
    customer_id,
    event_date,
    SUM(CASE WHEN event_type = 'PAGE_VIEW' THEN 1 ELSE 0 END) AS page_views,
    SUM(CASE WHEN event_type = 'ADD_TO_CART' THEN 1 ELSE 0 END) AS add_to_cart_count,
    SUM(CASE WHEN event_type = 'PURCHASE' THEN 1 ELSE 0 END) AS purchase_count,
    SUM(CAST(CASE WHEN event_type = 'PURCHASE' THEN COALESCE(reporting_amount, 0) ELSE 0 END
        AS $total_type)) AS total_revenue
FROM stage_events
WHERE is_new
GROUP BY customer_id, event_date

-- name: update_customer_daily_metrics
UPDATE customer_daily_metrics AS t SET
    page_views = t.page_views + s.page_views,
    add_to_cart_count = t.add_to_cart_count + s.add_to_cart_count,
    purchase_count = t.purchase_count + s.purchase_count,
    total_revenue = t.total_revenue + s.total_revenue,
    updated_at = ?
FROM ($customer_daily_source) AS s
WHERE t.customer_id = s.customer_id AND t.event_date = s.event_date;

-- name: insert_customer_daily_metrics
INSERT INTO customer_daily_metrics
    (customer_id, event_date, page_views, add_to_cart_count, purchase_count, total_revenue,
     updated_at)
SELECT s.customer_id, s.event_date, s.page_views, s.add_to_cart_count, s.purchase_count,
       s.total_revenue, ?
FROM ($customer_daily_source) AS s
LEFT JOIN customer_daily_metrics AS t
    ON t.customer_id = s.customer_id AND t.event_date = s.event_date
WHERE t.customer_id IS NULL;

-- fragment: hourly_source
SELECT
    DATE_TRUNC('hour', event_timestamp) AS event_hour,
    COUNT(*) AS events,
    SUM(CASE WHEN event_type = 'PAGE_VIEW' THEN 1 ELSE 0 END) AS page_views,
    SUM(CASE WHEN event_type = 'ADD_TO_CART' THEN 1 ELSE 0 END) AS add_to_cart_count,
    SUM(CASE WHEN event_type = 'PURCHASE' THEN 1 ELSE 0 END) AS purchase_count,
    SUM(CASE WHEN event_type = 'PURCHASE' THEN quantity ELSE 0 END) AS units_sold,
    SUM(CAST(CASE WHEN event_type = 'PURCHASE' THEN COALESCE(reporting_amount, 0) ELSE 0 END
        AS $total_type)) AS total_revenue
FROM stage_events
WHERE is_new
GROUP BY DATE_TRUNC('hour', event_timestamp)

-- name: update_hourly_metrics
UPDATE hourly_metrics AS t SET
    events = t.events + s.events,
    page_views = t.page_views + s.page_views,
    add_to_cart_count = t.add_to_cart_count + s.add_to_cart_count,
    purchase_count = t.purchase_count + s.purchase_count,
    units_sold = t.units_sold + s.units_sold,
    total_revenue = t.total_revenue + s.total_revenue,
    updated_at = ?
FROM ($hourly_source) AS s
WHERE t.event_hour = s.event_hour;

-- name: insert_hourly_metrics
INSERT INTO hourly_metrics
    (event_hour, events, page_views, add_to_cart_count, purchase_count, units_sold,
     total_revenue, updated_at)
SELECT s.event_hour, s.events, s.page_views, s.add_to_cart_count, s.purchase_count,
       s.units_sold, s.total_revenue, ?
FROM ($hourly_source) AS s
LEFT JOIN hourly_metrics AS t ON t.event_hour = s.event_hour
WHERE t.event_hour IS NULL;

-- Events without a product_id have no product row (they still count everywhere else).
-- fragment: product_daily_source
SELECT
    product_id,
    event_date,
    MAX(category) AS category,
    SUM(CASE WHEN event_type = 'PAGE_VIEW' THEN 1 ELSE 0 END) AS page_views,
    SUM(CASE WHEN event_type = 'ADD_TO_CART' THEN 1 ELSE 0 END) AS add_to_cart_count,
    SUM(CASE WHEN event_type = 'PURCHASE' THEN 1 ELSE 0 END) AS purchase_count,
    SUM(CASE WHEN event_type = 'PURCHASE' THEN quantity ELSE 0 END) AS units_sold,
    SUM(CAST(CASE WHEN event_type = 'PURCHASE' THEN COALESCE(reporting_amount, 0) ELSE 0 END
        AS $total_type)) AS total_revenue
FROM stage_events
WHERE is_new AND product_id IS NOT NULL
GROUP BY product_id, event_date

-- name: update_product_daily_metrics
UPDATE product_daily_metrics AS t SET
    category = COALESCE(s.category, t.category),
    page_views = t.page_views + s.page_views,
    add_to_cart_count = t.add_to_cart_count + s.add_to_cart_count,
    purchase_count = t.purchase_count + s.purchase_count,
    units_sold = t.units_sold + s.units_sold,
    total_revenue = t.total_revenue + s.total_revenue,
    updated_at = ?
FROM ($product_daily_source) AS s
WHERE t.product_id = s.product_id AND t.event_date = s.event_date;

-- name: insert_product_daily_metrics
INSERT INTO product_daily_metrics
    (product_id, event_date, category, page_views, add_to_cart_count, purchase_count, units_sold,
     total_revenue, updated_at)
SELECT s.product_id, s.event_date, s.category, s.page_views, s.add_to_cart_count,
       s.purchase_count, s.units_sold, s.total_revenue, ?
FROM ($product_daily_source) AS s
LEFT JOIN product_daily_metrics AS t
    ON t.product_id = s.product_id AND t.event_date = s.event_date
WHERE t.product_id IS NULL;

-- Bounded like mark_existing_events: a stored copy has the same offset, so >= the batch's least.
-- name: mark_existing_dead_letters
UPDATE stage_dead_letters SET is_new = FALSE
FROM dead_letter_events AS d
WHERE stage_dead_letters.source_topic = d.source_topic
  AND stage_dead_letters.source_partition = d.source_partition
  AND stage_dead_letters.source_offset = d.source_offset
  AND d.source_offset >= ?;

-- name: count_new_dead_letters
SELECT COUNT(*) FROM stage_dead_letters WHERE is_new;

-- name: insert_dead_letters
INSERT INTO dead_letter_events ($dead_letter_columns, loaded_at, batch_id)
SELECT $dead_letter_columns, ?, ? FROM stage_dead_letters WHERE is_new;

-- name: insert_batch
INSERT INTO pipeline_batches (
    query_name, query_id, batch_id, start_offsets, end_offsets, input_rows, staged_rows,
    new_events, duplicates, dead_letters, new_dead_letters, replays, started_at, committed_at,
    duration_ms, commit_ms
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?);

-- A replay normally adds nothing; should it add rows, they are credited to the original
-- batch so that sums over pipeline_batches still reconcile (input = new + duplicates).
-- name: mark_replay
UPDATE pipeline_batches SET
    replays = replays + 1,
    new_events = new_events + ?,
    duplicates = input_rows - (new_events + ?),
    new_dead_letters = new_dead_letters + ?,
    last_replayed_at = ?
WHERE query_id = ? AND batch_id = ?;

-- Not part of a batch commit: an accepted retention gap (see schema.sql), one row per gap
-- found; `find_batch` first, so finding the same gap again records nothing twice.
-- name: insert_data_loss
INSERT INTO pipeline_batches (
    query_name, query_id, batch_id, input_rows, staged_rows, new_events, duplicates,
    dead_letters, new_dead_letters, replays, started_at, committed_at, duration_ms, commit_ms,
    lost_records, data_loss
) VALUES (?, ?, ?, 0, 0, 0, 0, 0, 0, 0, ?, ?, 0, 0, ?, ?);
