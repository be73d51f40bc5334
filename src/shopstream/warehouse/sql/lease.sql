-- The writer lease, DuckDB dialect; rendered for Snowflake by sqlglot. One row per lease
-- name in writer_lease (created by schema.sql). Taking it is ONE conditional UPDATE (free,
-- expired, already ours, or forced), then a read-back: DML on one table is serialized by
-- both warehouses, so of two writers racing, exactly one reads its own holder id back.
-- Times are naive UTC from the writer's clock (keep hosts on NTP; the TTL dwarfs skew).

-- name: seed
INSERT INTO writer_lease (name)
SELECT ? WHERE NOT EXISTS (SELECT 1 FROM writer_lease WHERE name = ?);

-- name: take
UPDATE writer_lease SET
    holder = ?, host = ?, pid = ?, command = ?, acquired_at = ?, renewed_at = ?, expires_at = ?
WHERE name = ? AND (holder IS NULL OR holder = ? OR expires_at < ? OR ?);

-- name: read
SELECT holder, host, pid, command, acquired_at, renewed_at, expires_at
FROM writer_lease WHERE name = ?;

-- name: renew
UPDATE writer_lease SET renewed_at = ?, expires_at = ? WHERE name = ? AND holder = ?;

-- name: held
SELECT COUNT(*) FROM writer_lease WHERE name = ? AND holder = ?;

-- name: release
UPDATE writer_lease SET holder = NULL, expires_at = NULL WHERE name = ? AND holder = ?;
