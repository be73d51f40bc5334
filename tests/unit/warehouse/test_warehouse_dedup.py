"""The bounded new-event check is exact at its edges, on DuckDB and Snowflake (fakesnow).

Records go through Silver's pure-Python twin (`classify`, the same rules as the Spark job,
at a chosen processing time) and then through the real `commit_batch`, so the tests hold
the chain Silver -> Gold to what the proof in warehouse/dedup.py claims.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from wh_data import dead_letters_table, events_table, make_dead_letter, make_event

from shopstream.contract import DEFAULT_LATENESS_HORIZON
from shopstream.silver.reference import classify
from shopstream.warehouse import BatchMeta, Warehouse
from shopstream.warehouse.dedup import DEDUP_TOLERANCE, events_since
from shopstream.warehouse.dialect import commit_statements
from shopstream.warehouse.duckdb import ROW_GROUP_SIZE

H = DEFAULT_LATENESS_HORIZON
# Silver's processing time of the first batch; every test moves forward from here.
V0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_offsets = iter(range(1_000_000))


def raw(event_id: str, ts: datetime, customer: str = "c1", kind: str = "PAGE_VIEW") -> bytes:
    """A raw record as a producer sends it."""
    stamp = ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    body = {"event_id": event_id, "event_type": kind, "customer_id": customer}
    if kind == "PURCHASE":
        body |= {"amount": "10.00", "currency": "USD"}
    return json.dumps(body | {"event_timestamp": stamp}).encode()


def silver(records: list[bytes], now: datetime) -> tuple[list[dict[str, Any]], list[str]]:
    """Silver at processing time `now`: (clean records as Gold reads them, dead-letter reasons)."""
    clean, dead = [], []
    for value in records:
        r = classify(value, now=now, offset=next(_offsets), produced_at=now)
        if r.clean is None:
            dead.append(r.reason or "")
        else:
            # Gold reads millisecond timestamps (Spark's JSON) as naive UTC.
            clean.append({k: _naive_ms(v) for k, v in r.clean.items()})
    return clean, dead


def _naive_ms(v: Any) -> Any:
    if isinstance(v, datetime):
        v = v.astimezone(UTC).replace(tzinfo=None)
        return v.replace(microsecond=v.microsecond // 1000 * 1000)
    return v


def commit(wh: Warehouse, batch_id: int, clean: list[dict[str, Any]]) -> Any:
    """One Gold commit of `clean`."""
    return wh.commit_batch(events_table(clean), None, BatchMeta("gold", "q", batch_id), horizon=H)


def fresh(n: int, now: datetime, prefix: str) -> list[bytes]:
    """n on-time events, a second apart, ending at `now`."""
    return [raw(f"{prefix}{i}", now - timedelta(seconds=i)) for i in range(n)]


def stored(wh: Warehouse, event_id: str) -> int:
    """How many times `event_id` is in silver_events."""
    return int(
        wh.query("SELECT COUNT(*) AS n FROM silver_events WHERE event_id = ?", [event_id])[0]["n"]
    )


def views(wh: Warehouse, customer: str) -> dict[Any, int]:
    """page_views per event_date of one customer."""
    rows = wh.query(
        "SELECT event_date, page_views FROM customer_daily_metrics WHERE customer_id = ?",
        [customer],
    )
    return {r["event_date"]: r["page_views"] for r in rows}


def test_duplicate_exactly_at_the_horizon_is_found(any_wh: Warehouse) -> None:
    ts = V0 - timedelta(minutes=1)
    clean, _ = silver([raw("orig", ts, "edge"), *fresh(5, V0, "a")], V0)
    commit(any_wh, 0, clean)
    # The re-send reaches Silver when it is exactly as old as the horizon allows.
    v1 = ts + H
    clean, dead = silver([raw("orig", ts, "edge"), *fresh(5, v1, "b")], v1)
    assert dead == [] and len(clean) == 6
    result = commit(any_wh, 1, clean)
    assert (result.new_events, result.duplicates) == (5, 1)
    assert stored(any_wh, "orig") == 1
    assert views(any_wh, "edge") == {ts.date(): 1}


def test_duplicate_just_outside_the_horizon_is_dead_lettered_by_silver(any_wh: Warehouse) -> None:
    ts = V0 - timedelta(minutes=1)
    clean, _ = silver([raw("orig", ts, "edge")], V0)
    commit(any_wh, 0, clean)
    v1 = ts + H + timedelta(milliseconds=1)
    clean, dead = silver([raw("orig", ts, "edge"), *fresh(3, v1, "b")], v1)
    # Gold never sees it, so no stored row older than the bound can be a duplicate.
    assert dead == ["too_late"] and len(clean) == 3
    commit(any_wh, 1, clean)
    assert stored(any_wh, "orig") == 1
    assert views(any_wh, "edge") == {ts.date(): 1}


def test_replayed_batch_and_revalidated_records_add_nothing(
    any_wh: Warehouse, snapshot: Any
) -> None:
    records = [raw("late", V0 - H + timedelta(hours=1)), *fresh(20, V0, "r")]
    clean, _ = silver(records, V0)
    commit(any_wh, 0, clean)
    before = snapshot(any_wh)
    # Gold crashed before its checkpoint: the same batch again.
    assert commit(any_wh, 0, clean).new_events == 0
    # Silver lost its checkpoint: the same raw records validated again 30 minutes later.
    again, dead = silver(records, V0 + timedelta(minutes=30))
    assert dead == []
    result = commit(any_wh, 1, again)
    assert (result.new_events, result.duplicates) == (0, 21)
    after = snapshot(any_wh)
    assert after["silver_events"] == before["silver_events"]
    assert after["customer_daily_metrics"] == before["customer_daily_metrics"]


def test_late_event_lands_in_its_own_date_and_its_duplicate_is_found(any_wh: Warehouse) -> None:
    commit(any_wh, 0, silver(fresh(10, V0, "t"), V0)[0])
    late_ts = V0 - H + timedelta(minutes=10)
    v1 = V0 + timedelta(minutes=5)
    clean, _ = silver([raw("late", late_ts, "lc"), *fresh(10, v1, "u")], v1)
    assert commit(any_wh, 1, clean).new_events == 11
    v2 = v1 + timedelta(minutes=5)
    clean, _ = silver([raw("late", late_ts, "lc"), *fresh(3, v2, "w")], v2)
    assert commit(any_wh, 2, clean).duplicates == 1
    assert views(any_wh, "lc") == {late_ts.date(): 1}
    hours = {r["event_hour"] for r in any_wh.query("SELECT event_hour FROM hourly_metrics")}
    assert late_ts.replace(tzinfo=None, minute=0) in hours


def test_catching_up_on_a_backlog_days_old_is_exact(any_wh: Warehouse) -> None:
    # Silver validated this backlog ten days before Gold commits it (Gold's clock is now):
    # originals six days older than that, then their re-sends. A bound taken from Gold's
    # clock (now - horizon) would miss every original; Silver's validated_at does not.
    v_old = datetime.now(UTC) - timedelta(days=10)
    old_ts = v_old - timedelta(days=6)
    originals = [raw(f"o{i}", old_ts + timedelta(seconds=i), "bk") for i in range(5)]
    commit(any_wh, 0, silver(originals, v_old - timedelta(days=1))[0])
    clean, dead = silver([*originals, *fresh(5, v_old, "n")], v_old)
    assert dead == []
    result = commit(any_wh, 1, clean)
    assert (result.new_events, result.duplicates) == (5, 5)
    assert sum(views(any_wh, "bk").values()) == 5


def test_reused_id_with_another_timestamp_is_a_duplicate_within_the_horizon(
    any_wh: Warehouse,
) -> None:
    commit(any_wh, 0, silver([raw("x", V0 - timedelta(days=3), "ru")], V0)[0])
    v1 = V0 + timedelta(hours=1)
    clean, _ = silver([raw("x", v1 - timedelta(seconds=1), "ru")], v1)
    assert commit(any_wh, 1, clean).duplicates == 1
    assert stored(any_wh, "x") == 1


def test_reused_id_older_than_the_dedup_window_is_stored_again(any_wh: Warehouse) -> None:
    # Documented behaviour (warehouse/dedup.py): dedup looks back one horizon, no further.
    first_ts = V0 - H + timedelta(minutes=1)
    commit(any_wh, 0, silver([raw("x", first_ts, "ru")], V0)[0])
    v1 = V0 + DEDUP_TOLERANCE + timedelta(minutes=2)
    clean, _ = silver([raw("x", v1 - timedelta(seconds=1), "ru")], v1)
    assert events_since(events_table(clean), H) > first_ts.replace(tzinfo=None)
    assert commit(any_wh, 1, clean).new_events == 1
    assert stored(any_wh, "x") == 2


def test_redelivered_dead_letters_are_found_by_offset(any_wh: Warehouse) -> None:
    first = dead_letters_table([make_dead_letter(o) for o in (5, 6, 900)])
    any_wh.commit_batch(events_table([]), first, BatchMeta("gold", "q", 0))
    again = dead_letters_table([make_dead_letter(o) for o in (900, 901)])
    result = any_wh.commit_batch(events_table([]), again, BatchMeta("gold", "q", 1))
    assert result.new_dead_letters == 1
    (row,) = any_wh.query("SELECT COUNT(*) AS n FROM dead_letter_events")
    assert row["n"] == 4


def test_bound_is_the_earlier_of_event_time_and_validation_minus_horizon() -> None:
    early = make_event("a", ts=datetime(2026, 11, 1))
    early["validated_at"] = datetime(2026, 11, 20)
    late = make_event("b", ts=datetime(2026, 11, 19))
    late["validated_at"] = datetime(2026, 11, 19, 12)
    table = events_table([early, late])
    assert events_since(table, H) == datetime(2026, 11, 1)
    assert events_since(table, timedelta(days=20)) == datetime(2026, 10, 30, 12) - DEDUP_TOLERANCE
    empty = pa.Table.from_pylist([], schema=table.schema)
    assert events_since(empty, H).year == 1


def test_duckdb_skips_row_groups_older_than_the_bound(duck_wh: Warehouse) -> None:
    """The bound prunes storage: DuckDB reads only the recent row groups (zone maps)."""
    old, old_rows = datetime(2026, 9, 1), 400_000
    cur = duck_wh.cursor()  # type: ignore[attr-defined]
    cur.execute(
        "INSERT INTO silver_events SELECT uuid()::VARCHAR, 'PAGE_VIEW', 'c', ts, CAST(ts AS DATE),"
        " NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL, 0, i, ts, ts, ts, -1 FROM (SELECT i,"
        f" ? + to_microseconds(i * 1000) AS ts FROM range({old_rows}) r(i)) ORDER BY i",
        [old],
    )
    clean, _ = silver(fresh(1000, V0, "f"), V0)
    commit(duck_wh, 0, clean)
    commit(duck_wh, 1, silver(fresh(1000, V0 + timedelta(minutes=1), "g"), V0)[0])
    cur.execute("CHECKPOINT")
    sql = commit_statements("duckdb")
    since = events_since(events_table(clean), H)
    cur.execute("CREATE TEMP TABLE stage_events AS SELECT *, TRUE AS is_new FROM silver_events")
    (row,) = cur.execute(
        "EXPLAIN (ANALYZE, FORMAT json) " + sql["mark_existing_events"], [since]
    ).fetchall()
    (scan,) = [op for op in _operators(json.loads(row[1])) if _scans(op, "silver_events")]
    assert scan["total_row_groups_to_scan"] >= (old_rows + 2000) // ROW_GROUP_SIZE
    # Only the row group holding the recent rows is read; the old ones are skipped by min/max.
    assert scan["row_groups_scanned"] < scan["total_row_groups_to_scan"]
    assert scan["rows_scanned"] < old_rows


def _operators(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operator of a DuckDB JSON plan, depth first."""
    out, todo = [], list(plan["operator"])
    while todo:
        op = todo.pop()
        out.append(op)
        todo.extend(op.get("children", []))
    return out


def _scans(op: dict[str, Any], table: str) -> bool:
    return str(op.get("extra_info", {}).get("Table", "")).endswith(f".{table}")
