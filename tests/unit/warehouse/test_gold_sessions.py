"""The `sessions` Gold table: exact through out-of-order batches, late events, re-sent copies
and replays, on DuckDB and Snowflake (fakesnow); backfilled from history when it is new."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from wh_data import T0, events_table, make_event

from shopstream.gold_tables.tables import GOLD_TABLES, SESSIONS
from shopstream.warehouse import BatchMeta, Warehouse

SESSION_SQL = (
    "SELECT session_id, customer_id, device, first_event_at, last_event_at, page_views, "
    "add_to_cart_count, purchase_count, units, revenue, converted, abandoned_cart "
    "FROM sessions ORDER BY session_id"
)


def _meta(batch_id: int) -> BatchMeta:
    return BatchMeta(query_name="gold", query_id="q-s", batch_id=batch_id, started_at=T0)


def _events(n: int, seed: int, sessions: int = 40) -> list[dict[str, Any]]:
    """n events in `sessions` sessions of 8 customers over two days; a tenth in none."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        session = rng.randint(0, sessions - 1)
        kind = rng.choice(("PAGE_VIEW", "PAGE_VIEW", "ADD_TO_CART", "PURCHASE"))
        e = make_event(
            f"e{i}",
            kind,
            f"c{session % 8}",
            T0 + timedelta(minutes=rng.randint(0, 2 * 24 * 60)),
            Decimal(rng.randint(1, 99999)) / 100 if kind == "PURCHASE" else None,
            quantity=rng.randint(1, 3),
            product_id=rng.choice([None, *(f"p{p}" for p in range(25))]),
        )
        e["session_id"] = None if rng.random() < 0.1 else f"S{session:03d}"
        e["device"] = ("mobile", "desktop", "tablet")[session % 3]
        rows.append(e)
    return rows


def _expected(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Sessions computed in plain Python, independently of the declaration."""
    out: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["session_id"] is None:
            continue  # no session: excluded (docs/warehouse.md)
        s = out.setdefault(
            e["session_id"],
            {"c": e["customer_id"], "d": e["device"], "first": e["event_timestamp"],
             "last": e["event_timestamp"], "v": 0, "a": 0, "p": 0, "u": 0, "r": Decimal(0)},
        )  # fmt: skip
        s["first"] = min(s["first"], e["event_timestamp"])
        s["last"] = max(s["last"], e["event_timestamp"])
        s["v"] += e["event_type"] == "PAGE_VIEW"
        s["a"] += e["event_type"] == "ADD_TO_CART"
        if e["event_type"] == "PURCHASE":
            s["p"] += 1
            s["u"] += e["quantity"]
            s["r"] += e["reporting_amount"]
    return [
        (k, s["c"], s["d"], s["first"], s["last"], s["v"], s["a"], s["p"], s["u"], s["r"],
         s["p"] > 0, s["a"] > 0 and s["p"] == 0)
        for k, s in sorted(out.items())
    ]  # fmt: skip


def _stored(wh: Warehouse) -> list[tuple[Any, ...]]:
    def naive(ts: datetime) -> datetime:
        return ts.replace(tzinfo=None)

    return [
        (r["session_id"], r["customer_id"], r["device"], naive(r["first_event_at"]),
         naive(r["last_event_at"]), int(r["page_views"]), int(r["add_to_cart_count"]),
         int(r["purchase_count"]), int(r["units"]), Decimal(r["revenue"]), bool(r["converted"]),
         bool(r["abandoned_cart"]))
        for r in wh.query(SESSION_SQL)
    ]  # fmt: skip


def test_sessions_are_exact_through_late_events_copies_and_replays(any_wh: Warehouse) -> None:
    events = _events(600, seed=9)
    # Batches in event-time disorder: the latest events first, the earliest last (late).
    by_time = sorted(events, key=lambda e: e["event_timestamp"], reverse=True)
    batches = [by_time[i : i + 150] for i in range(0, 600, 150)]
    batches[2] = [*batches[2], *batches[0][:20]]  # copies Silver re-sent after a crash
    for n, batch in enumerate(batches):
        any_wh.commit_batch(events_table(batch), None, _meta(n))
    any_wh.commit_batch(events_table(batches[1]), None, _meta(1))  # Gold replays a batch
    want = _expected(events)
    assert len(want) == 40 and any(w[10] for w in want) and any(w[11] for w in want)
    assert _stored(any_wh) == want


def test_a_new_sessions_table_is_backfilled_from_the_stored_events(any_wh: Warehouse) -> None:
    # A warehouse from before `sessions`: its events were committed without the table.
    any_wh.execute("DROP TABLE sessions")
    any_wh.gold_tables = tuple(t for t in GOLD_TABLES if t is not SESSIONS)
    events = _events(300, seed=4)
    any_wh.commit_batch(events_table(events[:200]), None, _meta(0))
    any_wh.gold_tables = GOLD_TABLES
    any_wh.init()  # creates `sessions` and fills it from silver_events
    any_wh.init()  # once only
    any_wh.commit_batch(events_table(events[150:]), None, _meta(1))
    assert _stored(any_wh) == _expected(events)
