"""How far back a batch's new-event check looks, so its cost does not grow with history.

A commit marks each staged event whose `event_id` is already in `silver_events`. Scanning
all of `silver_events` made every commit slower than the one before; the check instead
looks only at stored rows with `event_timestamp >= since`, where (per batch)

    since = min(min(event_timestamp), min(validated_at) - horizon - DEDUP_TOLERANCE)

and `validated_at` is Silver's processing time, carried in every clean record. The
storage does the rest: rows are appended roughly in event-time order, so DuckDB skips
whole row groups by their min/max (zone maps) and Snowflake prunes micro-partitions the
same way; the rows read are those of about one lateness horizon, whatever the history.

Why this is exact. A duplicate is a copy of a stored event with the same `event_id` and
the same `event_timestamp`: producer re-sends carry the original bytes, replayed Kafka
records keep their derived id (uuid5 of topic/partition/offset) and their timestamp, and
a replayed Gold batch or a Silver that lost its checkpoint re-sends records unchanged
but for `validated_at`. Its stored original then has `event_timestamp` = the copy's
`event_timestamp` >= min(event_timestamp) of the batch >= since, so the check finds it.
This needs no clock and no setting: it holds for a replay minutes later, for a Gold that
catches up on a backlog validated days ago, and whatever the horizon was.

The horizon only bounds the cost. Silver dead-letters (`too_late`) any event older than
its processing time minus the horizon, so every staged event has `event_timestamp >=
validated_at - horizon`, and `since` is at most about one horizon (plus the time Silver
took to validate the batch's records) before the batch. A duplicate of an event just
outside the horizon never reaches Gold: Silver dead-letters it. Measured from the
records' own `validated_at`, not Gold's clock, a backlog days old costs no more.

An `event_id` re-used with a different `event_timestamp` (a producer bug, or an id
collision) is a duplicate when its stored copy lies at or after `since`, which includes
every stored event within horizon + DEDUP_TOLERANCE of the new copy's validation; one
older than that is stored as a new event, so the id then appears twice in
`silver_events`. Deduplication is by `event_id` within the lateness horizon, as Spark's
`dropDuplicatesWithinWatermark`; nothing older is looked at.

Dead letters are keyed by (source_topic, source_partition, source_offset); a re-sent
dead letter keeps its offset, so stored ones with a smaller offset than the batch's
smallest are skipped the same way (offsets grow with time).

Examples:
    >>> from datetime import datetime, timedelta
    >>> import pyarrow as pa
    >>> t = pa.table({
    ...     "event_timestamp": pa.array([datetime(2026, 11, 20, 9)], pa.timestamp("us")),
    ...     "validated_at": pa.array([datetime(2026, 11, 20, 12)], pa.timestamp("us")),
    ... })
    >>> events_since(t, timedelta(hours=1))
    datetime.datetime(2026, 11, 20, 9, 0)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

# Slack for re-used ids near the horizon's edge (several Silver hosts' clocks, a horizon
# changed between Silver and Gold). Exactness for real duplicates does not depend on it.
DEDUP_TOLERANCE = timedelta(hours=1)

# "No bound": a batch whose rows carry no time at all is checked against every stored row.
EARLIEST = datetime(1, 1, 1)


def events_since(events: pa.Table, horizon: timedelta) -> datetime:
    """Earliest `event_timestamp` a stored copy of any of `events` can have (pure)."""
    first_ts = pc.min(events["event_timestamp"]).as_py()
    first_validated = pc.min(events["validated_at"]).as_py()
    bounds = [first_ts] if first_ts is not None else []
    if first_validated is not None:
        bounds.append(first_validated - horizon - DEDUP_TOLERANCE)
    return min(bounds, default=EARLIEST)


def dead_letters_since(dead_letters: pa.Table) -> int:
    """Smallest `source_offset` a stored copy of any of `dead_letters` can have (pure)."""
    first = pc.min(dead_letters["source_offset"]).as_py()
    return 0 if first is None else int(first)
