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

-- DuckDB drops and re-creates its stage tables instead (Warehouse.recreates_stage).
-- name: drop_stage_events
DROP TABLE IF EXISTS stage_events;

-- name: drop_stage_sources
DROP TABLE IF EXISTS stage_sources;

-- name: drop_stage_dead_letters
DROP TABLE IF EXISTS stage_dead_letters;

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

-- The Gold tables' upserts, rendered from their declarations (shopstream/gold_tables/
-- render.py): per table a `fragment` (the batch's aggregate of its new rows), then
-- `update_<table>` and `insert_<table>` (UPDATE-then-INSERT, no MERGE: see render.py).
$gold_commit

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

-- The per-reason counts and the latest samples of each reason (see schema.sql).
-- fragment: new_dead_letter_reasons
SELECT reason, COUNT(*) AS dead_letters, MAX(processed_at) AS last_processed_at
FROM stage_dead_letters WHERE is_new GROUP BY reason

-- name: update_dead_letter_reasons
UPDATE dead_letter_reasons AS t SET
    dead_letters = t.dead_letters + s.dead_letters,
    last_processed_at = GREATEST(t.last_processed_at, s.last_processed_at),
    updated_at = ?
FROM ($new_dead_letter_reasons) AS s
WHERE t.reason = s.reason;

-- name: insert_dead_letter_reasons
INSERT INTO dead_letter_reasons (reason, dead_letters, last_processed_at, updated_at)
SELECT s.reason, s.dead_letters, s.last_processed_at, ?
FROM ($new_dead_letter_reasons) AS s
LEFT JOIN dead_letter_reasons AS t ON t.reason = s.reason
WHERE t.reason IS NULL;

-- fragment: new_dead_letter_minutes
SELECT DATE_TRUNC('minute', processed_at) AS processed_minute, reason, COUNT(*) AS dead_letters
FROM stage_dead_letters WHERE is_new GROUP BY DATE_TRUNC('minute', processed_at), reason

-- name: update_dead_letter_minutes
UPDATE dead_letter_minutes AS t SET dead_letters = t.dead_letters + s.dead_letters
FROM ($new_dead_letter_minutes) AS s
WHERE t.processed_minute = s.processed_minute AND t.reason = s.reason;

-- name: insert_dead_letter_minutes
INSERT INTO dead_letter_minutes (processed_minute, reason, dead_letters)
SELECT s.processed_minute, s.reason, s.dead_letters
FROM ($new_dead_letter_minutes) AS s
LEFT JOIN dead_letter_minutes AS t
    ON t.processed_minute = s.processed_minute AND t.reason = s.reason
WHERE t.reason IS NULL;

-- name: insert_dead_letter_samples
INSERT INTO dead_letter_samples
SELECT $dead_letter_columns FROM (
    SELECT *, ROW_NUMBER() OVER (
        PARTITION BY reason ORDER BY processed_at DESC, source_offset DESC
    ) AS rn
    FROM stage_dead_letters WHERE is_new
) AS d
WHERE rn <= $dead_letter_samples;

-- name: trim_dead_letter_samples
DELETE FROM dead_letter_samples AS t
USING (
    SELECT source_topic, source_partition, source_offset FROM (
        SELECT source_topic, source_partition, source_offset, ROW_NUMBER() OVER (
            PARTITION BY reason ORDER BY processed_at DESC, source_offset DESC
        ) AS rn
        FROM dead_letter_samples
    ) AS ranked
    WHERE rn > $dead_letter_samples
) AS old
WHERE t.source_topic = old.source_topic
  AND t.source_partition = old.source_partition
  AND t.source_offset = old.source_offset;

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
