"""Exactly-once commits, on DuckDB and on Snowflake (fakesnow): the same tests for both."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from wh_data import T0, day, dead_letters_table, events_table, make_dead_letter, make_event

from shopstream.errors import Terminal
from shopstream.warehouse import BatchMeta, Warehouse
from shopstream.warehouse.exceptions import BatchSchemaError, CommitFailed

TYPES = ("PAGE_VIEW", "ADD_TO_CART", "PURCHASE")


def meta(batch_id: int, input_rows: int | None = None, query_id: str = "q-1") -> BatchMeta:
    """Batch bookkeeping as Gold would pass it."""
    return BatchMeta(
        query_name="gold",
        query_id=query_id,
        batch_id=batch_id,
        start_offsets={"clean_events": {"0": batch_id * 10}},
        end_offsets={"clean_events": {"0": batch_id * 10 + 9}},
        input_rows=input_rows,
        started_at=T0,
    )


def random_events(n: int, seed: int, prefix: str = "e") -> list[dict[str, Any]]:
    """n events over 4 days, 6 customers, 5 products, three currencies."""
    rng = random.Random(seed)
    rates = {"USD": Decimal("1"), "EUR": Decimal("1.08"), "JPY": Decimal("0.0067")}
    rows = []
    for i in range(n):
        kind = rng.choice(TYPES)
        currency = rng.choice(list(rates))
        amount = Decimal(rng.randint(1, 99999)) / 100 if kind == "PURCHASE" else None
        rows.append(
            make_event(
                f"{prefix}{i}",
                kind,
                f"c{rng.randint(1, 6)}",
                T0 + timedelta(minutes=rng.randint(0, 4 * 24 * 60)),
                amount,
                currency=currency,
                rate=rates[currency],
                product_id=rng.choice([None, "p1", "p2", "p3", "p4"]),
                category=rng.choice(["books", "toys", None]),
                quantity=rng.randint(1, 3),
            )
        )
    return rows


def expected(rows: list[dict[str, Any]]) -> dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]:
    """Recompute every gold table in Python with Decimal from the unique committed events."""
    unique = {r["event_id"]: r for r in reversed(rows)}.values()
    cust: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal("0")])
    hour: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, 0, 0, 0, 0, Decimal("0")])
    prod: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, 0, 0, 0, Decimal("0")])
    for r in unique:
        i = TYPES.index(r["event_type"])
        purchase = r["event_type"] == "PURCHASE"
        revenue = (r["reporting_amount"] or Decimal("0")) if purchase else Decimal("0")
        units = r["quantity"] if purchase else 0
        c = cust[(r["customer_id"], r["event_date"])]
        c[i] += 1
        c[3] += revenue
        h = hour[(r["event_timestamp"].replace(minute=0, second=0, microsecond=0),)]
        h[0] += 1
        h[1 + i] += 1
        h[4] += units
        h[5] += revenue
        if r["product_id"] is not None:
            p = prod[(r["product_id"], r["event_date"])]
            p[i] += 1
            p[3] += units
            p[4] += revenue
    return {
        "customer": {k: tuple(v) for k, v in cust.items()},
        "hourly": {k: tuple(v) for k, v in hour.items()},
        "product": {k: tuple(v) for k, v in prod.items()},
    }


def actual(wh: Warehouse) -> dict[str, dict[tuple[Any, ...], tuple[Any, ...]]]:
    """The gold tables as read back from the warehouse, in the shape of `expected`."""
    return {
        "customer": {
            (r["customer_id"], r["event_date"]): (
                r["page_views"],
                r["add_to_cart_count"],
                r["purchase_count"],
                r["total_revenue"],
            )
            for r in wh.query("SELECT * FROM customer_daily_metrics")
        },
        "hourly": {
            (r["event_hour"],): (
                r["events"],
                r["page_views"],
                r["add_to_cart_count"],
                r["purchase_count"],
                r["units_sold"],
                r["total_revenue"],
            )
            for r in wh.query("SELECT * FROM hourly_metrics")
        },
        "product": {
            (r["product_id"], r["event_date"]): (
                r["page_views"],
                r["add_to_cart_count"],
                r["purchase_count"],
                r["units_sold"],
                r["total_revenue"],
            )
            for r in wh.query("SELECT * FROM product_daily_metrics")
        },
    }


def silver_ids(wh: Warehouse) -> set[str]:
    return {r["event_id"] for r in wh.query("SELECT event_id FROM silver_events")}


def test_init_is_idempotent(any_wh: Warehouse) -> None:
    any_wh.init()
    any_wh.init()
    assert set(any_wh.table_counts().values()) == {0}
    funnel = any_wh.query("SELECT * FROM event_funnel ORDER BY stage")
    assert [(r["event_type"], r["events"]) for r in funnel] == [
        ("PAGE_VIEW", 0),
        ("ADD_TO_CART", 0),
        ("PURCHASE", 0),
    ]
    health = any_wh.health()
    assert health["ok"] is True and health["last_batch"] is None


def test_commit_inserts_and_aggregates_exactly(any_wh: Warehouse) -> None:
    rows = random_events(300, seed=7)
    first, second = rows[:170], rows[170:]
    r1 = any_wh.commit_batch(events_table(first), None, meta(0))
    r2 = any_wh.commit_batch(events_table(second), None, meta(1))
    assert (r1.new_events, r1.duplicates, r1.replay) == (170, 0, False)
    assert (r2.new_events, r2.duplicates) == (130, 0)
    assert silver_ids(any_wh) == {r["event_id"] for r in rows}
    assert actual(any_wh) == expected(rows)
    revenue = sum(
        (r["reporting_amount"] for r in rows if r["event_type"] == "PURCHASE"), Decimal(0)
    )
    (kpi,) = any_wh.query("SELECT total_revenue, orders, events FROM kpis")
    assert kpi["total_revenue"] == revenue
    assert kpi["events"] == 300


def test_replaying_a_batch_changes_nothing(any_wh: Warehouse, snapshot: Any) -> None:
    rows = random_events(80, seed=11)
    dls = dead_letters_table([make_dead_letter(1), make_dead_letter(2, "too_late")])
    any_wh.commit_batch(events_table(rows), dls, meta(3))
    before = snapshot(any_wh)
    again = any_wh.commit_batch(events_table(rows), dls, meta(3))
    assert again.replay is True
    assert (again.new_events, again.duplicates, again.new_dead_letters) == (0, 80, 0)
    assert snapshot(any_wh) == before
    (batch,) = any_wh.query("SELECT * FROM pipeline_batches")
    assert (batch["replays"], batch["new_events"], batch["duplicates"]) == (1, 80, 0)
    assert batch["end_offsets"] == '{"clean_events":{"0":39}}'


def test_overlapping_batch_adds_only_the_new_events(any_wh: Warehouse) -> None:
    rows = random_events(40, seed=3)
    any_wh.commit_batch(events_table(rows[:25]), None, meta(0))
    # A re-sent duplicate: same event_ids as already committed, now mixed with new ones.
    result = any_wh.commit_batch(events_table(rows[15:]), None, meta(1))
    assert (result.new_events, result.duplicates, result.replay) == (15, 10, False)
    assert actual(any_wh) == expected(rows)
    batches = any_wh.query("SELECT input_rows, new_events, duplicates FROM pipeline_batches")
    assert sum(b["input_rows"] for b in batches) == 25 + 25
    assert sum(b["new_events"] + b["duplicates"] for b in batches) == 50


def test_in_batch_duplicates_are_dropped_and_counted(any_wh: Warehouse) -> None:
    rows = [make_event("a", "PURCHASE", amount="10.00"), make_event("b")]
    dup = dict(rows[0], amount=Decimal("99.00"), reporting_amount=Decimal("99.00"))
    result = any_wh.commit_batch(events_table([*rows, dup]), None, meta(0))
    assert (result.input_rows, result.staged_rows, result.new_events) == (3, 2, 2)
    assert result.duplicates == 1
    (row,) = any_wh.query("SELECT total_revenue FROM customer_daily_metrics")
    assert row["total_revenue"] == Decimal("10.00")


def test_late_event_lands_in_its_own_date(any_wh: Warehouse) -> None:
    today = [make_event("t1", "PURCHASE", "c1", T0, "50.00"), make_event("t2", "PAGE_VIEW", "c1")]
    any_wh.commit_batch(events_table(today), None, meta(0))
    late_ts = T0 - timedelta(days=3, hours=2)
    late = make_event("late", "PURCHASE", "c1", late_ts, "7.25")
    any_wh.commit_batch(events_table([late]), None, meta(1))
    rows = any_wh.query(
        "SELECT event_date, purchase_count, page_views, total_revenue "
        "FROM customer_daily_metrics WHERE customer_id = 'c1' ORDER BY event_date"
    )
    assert [(r["event_date"], r["purchase_count"], r["total_revenue"]) for r in rows] == [
        (late_ts.date(), 1, Decimal("7.25")),
        (day(0), 1, Decimal("50.00")),
    ]
    hours = {r["event_hour"] for r in any_wh.query("SELECT event_hour FROM hourly_metrics")}
    assert late_ts.replace(minute=0) in hours


def test_timestamps_with_time_zones_are_stored_as_utc(any_wh: Warehouse) -> None:
    rows = [make_event("z1"), make_event("z2")]
    table = events_table(rows)
    plus2 = timezone(timedelta(hours=2))
    aware = [
        datetime(2026, 11, 20, 12, 30, tzinfo=plus2),  # 10:30 UTC
        datetime(2026, 11, 20, 23, 30, tzinfo=UTC),
    ]
    col = pa.array(aware, pa.timestamp("us", tz="Europe/Berlin"))
    table = table.set_column(
        table.schema.get_field_index("event_timestamp"), "event_timestamp", col
    )
    any_wh.commit_batch(table, None, meta(0))
    got = any_wh.query("SELECT event_id, event_timestamp FROM silver_events ORDER BY event_id")
    assert [r["event_timestamp"] for r in got] == [
        datetime(2026, 11, 20, 10, 30),
        datetime(2026, 11, 20, 23, 30),
    ]


def test_failed_commit_rolls_back_everything(any_wh: Warehouse, snapshot: Any) -> None:
    any_wh.commit_batch(events_table(random_events(20, seed=5)), None, meta(0))
    before = snapshot(any_wh)
    # The NULL reason violates dead_letter_events' NOT NULL after the events and their
    # aggregates were already written inside the transaction.
    new_rows = random_events(10, seed=6, prefix="n")
    bad = dead_letters_table([make_dead_letter(7, reason=None)])
    with pytest.raises(CommitFailed) as info:
        any_wh.commit_batch(events_table(new_rows), bad, meta(1))
    assert "rolled back" in str(info.value) and info.value.batch_id == 1
    assert snapshot(any_wh) == before
    # The stage is reusable and the batch commits once fixed.
    fixed = any_wh.commit_batch(
        events_table(new_rows), dead_letters_table([make_dead_letter(7)]), meta(1)
    )
    assert (fixed.new_events, fixed.new_dead_letters, fixed.replay) == (10, 1, False)


def test_dead_letters_are_idempotent(any_wh: Warehouse) -> None:
    first = [make_dead_letter(i, "invalid_amount") for i in range(3)]
    second = [make_dead_letter(i, "invalid_amount") for i in range(2, 5)] + [
        make_dead_letter(2, "too_late", topic="other_topic")
    ]
    r1 = any_wh.commit_batch(events_table([]), dead_letters_table(first), meta(0))
    r2 = any_wh.commit_batch(events_table([]), dead_letters_table(second), meta(1))
    r3 = any_wh.commit_batch(events_table([]), dead_letters_table(second), meta(2))
    assert (r1.new_dead_letters, r2.new_dead_letters, r3.new_dead_letters) == (3, 3, 0)
    counts = {
        r["reason"]: r["dead_letters"] for r in any_wh.query("SELECT * FROM dead_letter_counts")
    }
    assert counts == {"invalid_amount": 5, "too_late": 1}


def test_batch_without_contract_columns_is_rejected(any_wh: Warehouse) -> None:
    table = events_table([make_event("x")]).drop_columns(["reporting_amount"])
    with pytest.raises(BatchSchemaError, match="reporting_amount"):
        any_wh.commit_batch(table, None, meta(0))
    assert any_wh.table_counts()["silver_events"] == 0


def test_bad_sql_is_a_terminal_query_error(any_wh: Warehouse) -> None:
    with pytest.raises(Terminal) as info:
        any_wh.query("SELEC oops FROM kpis")
    assert "\n" not in str(info.value)
    with pytest.raises(Terminal, match=r"(?i)no_such_table"):
        any_wh.query("SELECT * FROM no_such_table")
