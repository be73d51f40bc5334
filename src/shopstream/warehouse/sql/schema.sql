-- Tables of the warehouse, DuckDB dialect; rendered for Snowflake by sqlglot.
-- Column lists marked with a dollar sign come from contract.py; every statement is idempotent.
-- All TIMESTAMP columns hold naive UTC.

-- event_id is unique by construction, not by a constraint: the commit inserts only event_ids
-- absent from the table, in one transaction, one writer at a time (Snowflake never enforces
-- keys anyway). On DuckDB a PRIMARY KEY index made each 480k-row commit ~3x slower (index
-- inserts, and a COMMIT that checkpoints the index). Files created earlier keep their key.
CREATE TABLE IF NOT EXISTS silver_events (
    $silver_events_columns,
    loaded_at TIMESTAMP NOT NULL,
    batch_id BIGINT NOT NULL
);

-- Every raw record Silver accepted, once, by its source partition and offset. Silver's Kafka
-- sink is at-least-once: after a crash clean_events holds some records twice, and counting
-- this table instead of the topic counts each raw record once (see warehouse/dedup.py).
-- No key, as silver_events: the commit inserts only sources not stored yet.
CREATE TABLE IF NOT EXISTS clean_sources (
    source_partition INTEGER NOT NULL,
    source_offset BIGINT NOT NULL,
    batch_id BIGINT NOT NULL
);

-- A warehouse from before clean_sources: its stored events are its known clean sources
-- (the duplicates it dropped then left no trace, so its history counts none).
INSERT INTO clean_sources (source_partition, source_offset, batch_id)
SELECT source_partition, source_offset, batch_id FROM silver_events
WHERE NOT EXISTS (SELECT 1 FROM clean_sources);

-- The Gold tables, rendered from their declarations (shopstream/gold_tables/tables.py).
-- product_daily_metrics: files created earlier named its counters views/carts/purchases/
-- revenue; init renames them (dialect.COLUMN_RENAMES) without touching the rows.
$gold_tables

CREATE TABLE IF NOT EXISTS dead_letter_events (
    $dead_letter_columns,
    loaded_at TIMESTAMP NOT NULL,
    batch_id BIGINT NOT NULL,
    PRIMARY KEY (source_topic, source_partition, source_offset)
);

-- Dead letters per reason, kept by the commit beside dead_letter_events, so the dashboard
-- and dead_letter_counts read a row per reason, not every dead letter.
CREATE TABLE IF NOT EXISTS dead_letter_reasons (
    reason VARCHAR NOT NULL,
    dead_letters BIGINT NOT NULL,
    last_processed_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (reason)
);

-- The latest dead letters of each reason (at most DEAD_LETTER_SAMPLES, the most the
-- dashboard's /api/dead-letters shows), by processed_at then source_offset, newest first.
CREATE TABLE IF NOT EXISTS dead_letter_samples (
    $dead_letter_columns,
    PRIMARY KEY (source_topic, source_partition, source_offset)
);

-- A warehouse from before these two tables: both start from its stored dead letters.
INSERT INTO dead_letter_reasons (reason, dead_letters, last_processed_at, updated_at)
SELECT reason, COUNT(*), MAX(processed_at), MAX(loaded_at) FROM dead_letter_events
WHERE NOT EXISTS (SELECT 1 FROM dead_letter_reasons)
GROUP BY reason;

INSERT INTO dead_letter_samples
SELECT $dead_letter_names FROM (
    SELECT *, ROW_NUMBER() OVER (
        PARTITION BY reason ORDER BY processed_at DESC, source_offset DESC
    ) AS rn
    FROM dead_letter_events
    WHERE NOT EXISTS (SELECT 1 FROM dead_letter_samples)
) AS d
WHERE rn <= $dead_letter_samples;

-- Dead letters per reason and minute of Silver's clock (processed_at: a bad timestamp has
-- no event time), the business alerts' input beside minute_metrics (docs/alerts.md).
CREATE TABLE IF NOT EXISTS dead_letter_minutes (
    processed_minute TIMESTAMP NOT NULL,
    reason VARCHAR NOT NULL,
    dead_letters BIGINT NOT NULL,
    PRIMARY KEY (processed_minute, reason)
);

INSERT INTO dead_letter_minutes (processed_minute, reason, dead_letters)
SELECT DATE_TRUNC('minute', processed_at), reason, COUNT(*) FROM dead_letter_events
WHERE NOT EXISTS (SELECT 1 FROM dead_letter_minutes)
GROUP BY DATE_TRUNC('minute', processed_at), reason;

-- Business alerts (shopstream.alerts): one row per episode of a rule, opened and resolved by
-- the monitor that runs beside the writer. started_at is the first abnormal event minute,
-- resolved_at the first of the normal minutes that resolved it (NULL while open); expected,
-- observed and p_value are those of the most significant minute so far.
CREATE TABLE IF NOT EXISTS alerts (
    rule VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    summary VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    expected DOUBLE NOT NULL,
    observed DOUBLE NOT NULL,
    p_value DOUBLE NOT NULL,
    detected_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (rule, started_at)
);

-- One row per (query_id, batch_id); a replayed batch bumps `replays` and adds nothing else.
-- Invariant: input_rows = new_events + duplicates.
-- A loss accepted with --accept-data-loss is a row of its own (query_id 'data-loss:<query
-- id>', no input): `lost_records` records retention deleted before the stage read them,
-- `data_loss` the JSON list of partitions (checkpointed vs earliest offset). NULL otherwise.
CREATE TABLE IF NOT EXISTS pipeline_batches (
    query_name VARCHAR NOT NULL,
    query_id VARCHAR NOT NULL,
    batch_id BIGINT NOT NULL,
    start_offsets VARCHAR,
    end_offsets VARCHAR,
    input_rows BIGINT NOT NULL,
    staged_rows BIGINT NOT NULL,
    new_events BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    dead_letters BIGINT NOT NULL,
    new_dead_letters BIGINT NOT NULL,
    replays BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    committed_at TIMESTAMP NOT NULL,
    duration_ms DOUBLE NOT NULL,
    commit_ms DOUBLE NOT NULL,
    last_replayed_at TIMESTAMP,
    lost_records BIGINT,
    data_loss VARCHAR,
    PRIMARY KEY (query_id, batch_id)
);

-- One writer per warehouse (warehouse/lease.py): the holder of each named lease, renewed
-- by the running writer and taken over only once expired. Not one of TABLES: bookkeeping.
CREATE TABLE IF NOT EXISTS writer_lease (
    name VARCHAR NOT NULL,
    holder VARCHAR,
    host VARCHAR,
    pid BIGINT,
    command VARCHAR,
    acquired_at TIMESTAMP,
    renewed_at TIMESTAMP,
    expires_at TIMESTAMP,
    PRIMARY KEY (name)
);
