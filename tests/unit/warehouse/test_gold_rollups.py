"""Rollups (session_hourly, hourly_customers) and the dead-letter summaries, on DuckDB and
Snowflake (fakesnow): through out-of-order batches, late events, re-sent copies and replays
they equal a GROUP BY over what they summarize, and the views over them equal the scans of
silver_events / dead_letter_events they replaced (the definitions before `bench reads`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from test_gold_sessions import _events, _meta
from wh_data import T0, dead_letters_table, events_table, make_dead_letter, make_event

from shopstream.warehouse import Warehouse
from shopstream.warehouse.dialect import DEAD_LETTER_SAMPLES, render

# The reporting views as they were defined over the event tables (DuckDB dialect).
SCANNED = {
    "hourly_trends": """
        SELECT DATE_TRUNC('hour', event_timestamp) AS event_hour, event_type,
            COUNT(*) AS events, COUNT(DISTINCT customer_id) AS unique_customers,
            SUM(CAST(CASE WHEN event_type = 'PURCHASE' THEN COALESCE(reporting_amount, 0)
                ELSE 0 END AS DECIMAL(38, 2))) AS revenue
        FROM silver_events GROUP BY DATE_TRUNC('hour', event_timestamp), event_type""",
    "session_funnel": """
        SELECT DATE_TRUNC('hour', first_event_at) AS session_hour,
            COALESCE(device, 'unknown') AS device, COUNT(*) AS sessions,
            SUM(CASE WHEN page_views > 0 THEN 1 ELSE 0 END) AS with_page_view,
            SUM(CASE WHEN add_to_cart_count > 0 THEN 1 ELSE 0 END) AS with_cart,
            SUM(CASE WHEN converted THEN 1 ELSE 0 END) AS converted,
            SUM(CASE WHEN abandoned_cart THEN 1 ELSE 0 END) AS abandoned_carts,
            SUM(CAST(revenue AS DECIMAL(38, 2))) AS revenue,
            ROUND(CAST(SUM(CASE WHEN abandoned_cart THEN 1 ELSE 0 END) AS DOUBLE)
                / NULLIF(SUM(CASE WHEN add_to_cart_count > 0 THEN 1 ELSE 0 END), 0), 4)
                AS cart_abandonment_rate,
            ROUND(CAST(SUM(CASE WHEN converted THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*), 4)
                AS conversion_rate
        FROM sessions
        GROUP BY DATE_TRUNC('hour', first_event_at), COALESCE(device, 'unknown')""",
    "dead_letter_counts": """
        SELECT reason, COUNT(*) AS dead_letters, MAX(processed_at) AS last_processed_at
        FROM dead_letter_events GROUP BY reason""",
}
HOURLY_CUSTOMERS = """
    SELECT event_hour, COUNT(*) AS customers,
        SUM(CASE WHEN page_views > 0 THEN 1 ELSE 0 END) AS page_view_customers,
        SUM(CASE WHEN add_to_cart_count > 0 THEN 1 ELSE 0 END) AS cart_customers,
        SUM(CASE WHEN purchase_count > 0 THEN 1 ELSE 0 END) AS purchase_customers
    FROM customer_hourly_metrics GROUP BY event_hour"""
DEAD_LETTER_MINUTES = """
    SELECT DATE_TRUNC('minute', processed_at) AS processed_minute, reason,
        COUNT(*) AS dead_letters
    FROM dead_letter_events GROUP BY DATE_TRUNC('minute', processed_at), reason"""
SAMPLE_KEY = "source_topic, source_partition, source_offset"
NEWEST = f"""
    SELECT {SAMPLE_KEY} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY reason
        ORDER BY processed_at DESC, source_offset DESC) AS rn FROM dead_letter_events) AS d
    WHERE rn <= {DEAD_LETTER_SAMPLES}"""


def _norm(v: Any) -> Any:
    """Comparable across the two sides' types (counts may come back as int or Decimal)."""
    if isinstance(v, datetime):
        return v.replace(tzinfo=None)
    if isinstance(v, int | Decimal) and not isinstance(v, bool):
        return Decimal(v).normalize()
    return v


def _rows(wh: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    (stmt,) = render(sql, wh.kind)  # type: ignore[arg-type]
    rows = wh.query(stmt)
    return sorted((tuple(_norm(v) for v in r.values()) for r in rows), key=repr)


def _view(wh: Warehouse, name: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(wh.query(f"SELECT * FROM {name} LIMIT 1")[0])
    return _rows(wh, f"SELECT {columns} FROM {name}")


def _dead_letters(n: int, first: int) -> list[dict[str, Any]]:
    """n dead letters, mostly one reason (more than the samples kept), processed over time."""
    out = []
    for i in range(first, first + n):
        d = make_dead_letter(i, "invalid_amount" if i % 5 else "missing_field")
        d["processed_at"] = T0 + timedelta(seconds=i * 7 % 500)
        out.append(d)
    return out


def test_rollups_equal_a_group_by_and_views_equal_the_scans(any_wh: Warehouse) -> None:
    events = _events(900, seed=21, sessions=120)
    # Latest events first (every later batch is late), copies re-sent, and a replayed batch.
    by_time = sorted(events, key=lambda e: e["event_timestamp"], reverse=True)
    batches = [by_time[i : i + 150] for i in range(0, 900, 150)]
    batches[3] = [*batches[3], *batches[1][:30]]
    for n, batch in enumerate(batches):
        dl = _dead_letters(40, n * 40)
        any_wh.commit_batch(events_table(batch), dead_letters_table(dl), _meta(n))
    any_wh.commit_batch(
        events_table(batches[2]), dead_letters_table(_dead_letters(40, 80)), _meta(2)
    )
    for name, scan in SCANNED.items():
        assert _view(any_wh, name) == _rows(any_wh, scan), name
    assert _rows(any_wh, "SELECT * EXCLUDE (updated_at) FROM hourly_customers") == _rows(
        any_wh, HOURLY_CUSTOMERS
    )
    minutes = _rows(any_wh, "SELECT * FROM dead_letter_minutes")
    assert minutes == _rows(any_wh, DEAD_LETTER_MINUTES) and len(minutes) > 8
    samples = _rows(any_wh, f"SELECT {SAMPLE_KEY} FROM dead_letter_samples")
    assert samples == _rows(any_wh, NEWEST)
    assert len(samples) == DEAD_LETTER_SAMPLES + 240 // 5  # every missing_field is kept


def test_a_late_event_moves_its_session_to_an_earlier_hour(any_wh: Warehouse) -> None:
    later = make_event("a", "ADD_TO_CART", "c1", T0 + timedelta(hours=2))
    any_wh.commit_batch(events_table([later]), None, _meta(0))
    hour = "SELECT session_hour, sessions, with_cart, abandoned_carts FROM session_hourly"
    before = _rows(any_wh, hour)
    assert [r[1:] for r in before] == [(1, 1, 1)]
    earlier = make_event("b", "PURCHASE", "c1", T0, "5.00")
    any_wh.commit_batch(events_table([earlier]), None, _meta(1))
    after = _rows(any_wh, hour)
    # The session now starts at T0's hour, bought (no longer abandoned); its old hour is gone.
    assert [r[1:] for r in after] == [(1, 1, 0)]
    assert after[0][0] == T0.replace(minute=0) and before[0][0] != after[0][0]
    assert _view(any_wh, "session_funnel") == _rows(any_wh, SCANNED["session_funnel"])


def test_new_rollups_and_summaries_start_from_the_stored_history(any_wh: Warehouse) -> None:
    events = _events(300, seed=5)
    any_wh.commit_batch(events_table(events), dead_letters_table(_dead_letters(90, 0)), _meta(0))
    # A warehouse from before them: empty tables are filled from what they summarize.
    for table in (
        "session_hourly",
        "hourly_customers",
        "dead_letter_reasons",
        "dead_letter_samples",
        "dead_letter_minutes",
    ):
        any_wh.execute(f"DELETE FROM {table}")
    any_wh.init()
    minutes = _rows(any_wh, "SELECT * FROM dead_letter_minutes")
    assert minutes == _rows(any_wh, DEAD_LETTER_MINUTES) and minutes
    for name, scan in SCANNED.items():
        assert _view(any_wh, name) == _rows(any_wh, scan), name
    assert _rows(any_wh, f"SELECT {SAMPLE_KEY} FROM dead_letter_samples") == _rows(any_wh, NEWEST)


def test_on_time_events_count_what_was_sent_within_a_minute_of_its_event_time(
    any_wh: Warehouse,
) -> None:
    """minute_metrics.on_time_events (the traffic alert's count) equals a scan of
    silver_events, through two batches hitting the same minutes."""
    lags = [0, 30, 59, 60, 61, 600, 3600, -5]  # seconds from event time to send time
    batches = []
    for n in range(2):
        rows = []
        for i, lag in enumerate(lags):
            e = make_event(f"e{n}-{i}", "PAGE_VIEW", f"c{i}", T0 + timedelta(seconds=20 * i))
            e["produced_at"] = e["event_timestamp"] + timedelta(seconds=lag)
            rows.append(e)
        batches.append(rows)
    for n, rows in enumerate(batches):
        any_wh.commit_batch(events_table(rows), None, _meta(n))
    scan = """
        SELECT DATE_TRUNC('minute', event_timestamp) AS m, SUM(CASE WHEN produced_at
            <= event_timestamp + INTERVAL '60' SECOND THEN 1 ELSE 0 END) AS on_time
        FROM silver_events GROUP BY DATE_TRUNC('minute', event_timestamp)"""
    stored = _rows(any_wh, "SELECT event_minute, on_time_events FROM minute_metrics")
    assert stored == _rows(any_wh, scan)
    assert sum(r[1] for r in stored) == 2 * 5  # 0, 30, 59, 60 s and -5 s are on time
