"""A Gold table is declared once: a measure added to the declaration reaches the schema, the
commit (DuckDB and Snowflake on fakesnow) and the ground truth, with nothing else edited."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from wh_data import T0, events_table, make_event

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.truth import TruthBuilder, read_truth, write_truth
from shopstream.contract import EVENT_TYPES
from shopstream.gold_tables.model import GoldTable, Measure, units_sold
from shopstream.gold_tables.render import truth_query
from shopstream.gold_tables.tables import CUSTOMER_DAILY, GOLD_TABLES
from shopstream.gold_tables.truth import GoldTruth, comparable
from shopstream.warehouse import BatchMeta, Warehouse
from shopstream.warehouse.dialect import commit_statements, expected_columns, schema_statements

# customer_daily_metrics with one more measure, declared in the test only (named so that a
# real measure added to the released declaration never collides with it).
WITH_UNITS = CUSTOMER_DAILY.with_measures(units_sold("test_units"))
# A measure merged by max, not sum: the largest quantity of any one event.
BIGGEST = Measure("test_biggest", "BIGINT", "MAX(quantity)", "max", "int", lambda r: r["quantity"])
MODIFIED = CUSTOMER_DAILY.with_measures(units_sold("test_units"), BIGGEST)
TABLES = tuple(MODIFIED if t.name == CUSTOMER_DAILY.name else t for t in GOLD_TABLES)


def _events(n: int, seed: int) -> list[dict[str, Any]]:
    """n events over 3 days, 5 customers, 4 products (some none), quantities 1-4."""
    rng = random.Random(seed)
    kinds = ("PAGE_VIEW", "ADD_TO_CART", "PURCHASE")
    return [
        make_event(
            f"e{i}",
            kind := rng.choice(kinds),
            f"c{rng.randint(1, 5)}",
            T0 + timedelta(minutes=rng.randint(0, 3 * 24 * 60)),
            Decimal(rng.randint(1, 99999)) / 100 if kind == "PURCHASE" else None,
            product_id=rng.choice([None, "p1", "p2", "p3", "p4"]),
            quantity=rng.randint(1, 4),
        )
        for i in range(n)
    ]


def _meta(batch_id: int) -> BatchMeta:
    return BatchMeta(query_name="gold", query_id="q-1", batch_id=batch_id, started_at=T0)


def _rows(events: list[dict[str, Any]], customers: list[str], products: list[str]) -> dict:
    """The events as the truth's arrays (model.Rows)."""

    def ms(ts: datetime) -> int:
        return int(ts.replace(tzinfo=UTC).timestamp() * 1000)

    purchase = [e["event_type"] == "PURCHASE" for e in events]
    return {
        "event_type": np.array([EVENT_TYPES.index(e["event_type"]) for e in events]),
        "ts_ms": np.array([ms(e["event_timestamp"]) for e in events], dtype=np.int64),
        "customer": np.array([customers.index(e["customer_id"]) for e in events]),
        "product": np.array(
            [products.index(e["product_id"]) if e["product_id"] else -1 for e in events]
        ),
        "session": np.array([1 for _ in events]),
        "quantity": np.array([e["quantity"] for e in events], dtype=np.int64),
        "revenue_cents": np.array(
            [
                int(e["reporting_amount"] * 100) if p and e["reporting_amount"] else 0
                for e, p in zip(events, purchase, strict=True)
            ],
            dtype=np.int64,
        ),
    }


def _truth(table: GoldTable, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    customers = sorted({e["customer_id"] for e in events})
    truth = GoldTruth(table)
    # In two parts, as batches arrive: the merge of partial groups is exercised too.
    half = len(events) // 2
    for part in (events[:half], events[half:]):
        truth.add(_rows(part, customers, ["p1", "p2", "p3", "p4"]))
    return truth.rows({"customer": lambda ids: [customers[i] for i in ids.tolist()]})


def test_schema_and_commit_sql_follow_the_declaration() -> None:
    assert "test_units" not in expected_columns()["customer_daily_metrics"]
    assert {"test_units", "test_biggest"} <= expected_columns(TABLES)["customer_daily_metrics"]
    for dialect in ("duckdb", "snowflake"):
        (ddl,) = [
            s
            for s in schema_statements(dialect, TABLES)
            if s.startswith("CREATE TABLE IF NOT EXISTS customer_daily_metrics")
        ]
        assert "test_units BIGINT NOT NULL" in ddl and "test_biggest BIGINT NOT NULL" in ddl
        sql = commit_statements(dialect, TABLES)
        update = sql["update_customer_daily_metrics"]
        assert "test_units = t.test_units + s.test_units" in update
        # Merged by max (Snowflake's rendering is GREATEST_IGNORE_NULLS; nothing is NULL here).
        assert "test_biggest = GREATEST" in update
        assert "test_units" in sql["insert_customer_daily_metrics"]
        # The other tables' statements are the declared ones, unchanged.
        assert sql["update_hourly_metrics"] == commit_statements(dialect)["update_hourly_metrics"]


def test_an_added_measure_is_committed_exactly_and_equals_its_truth(any_wh: Warehouse) -> None:
    # The fixture made the released schema; this warehouse is declared with the new measure.
    any_wh.execute("DROP TABLE customer_daily_metrics")
    any_wh.gold_tables = TABLES
    any_wh.init()
    events = _events(300, seed=5)
    # A late event (a day before the rest) and a re-sent copy in a later batch.
    late = make_event("late", "PURCHASE", "c1", T0 - timedelta(days=1), "9.99", quantity=7)
    any_wh.commit_batch(events_table(events[:150]), None, _meta(0))
    any_wh.commit_batch(events_table([*events[150:], events[3]]), None, _meta(1))
    any_wh.commit_batch(events_table([late, events[200]]), None, _meta(2))
    want = _truth(MODIFIED, [*events, late])
    assert {"test_units", "test_biggest"} <= set(want[0])
    # Every stored column but updated_at, written as the truth writes them.
    stored = any_wh.query("SELECT * FROM customer_daily_metrics ORDER BY customer_id, event_date")

    def written(v: Any) -> Any:
        if isinstance(v, Decimal | date):
            return str(v)
        return v if isinstance(v, str) else int(v)

    got = [{k: written(v) for k, v in r.items() if k != "updated_at"} for r in stored]
    assert got == want
    # The comparison the pipeline's own checks use (bench gold), derived from the declaration.
    derived = any_wh.query(truth_query(MODIFIED))
    assert comparable(MODIFIED, derived) == comparable(MODIFIED, want)
    assert sum(r["test_units"] for r in want) == sum(
        e["quantity"] for e in [*events, late] if e["event_type"] == "PURCHASE"
    )
    assert any(r["test_biggest"] == 7 for r in want)


def test_the_generator_truth_follows_the_declaration(tmp_path: Path) -> None:
    gen = EventGenerator(GeneratorConfig(seed=3, customers=50, backfill_days=1), 3000)
    plain, extended = TruthBuilder(gen), TruthBuilder(gen, customer_daily=WITH_UNITS)
    purchased_units = 0
    for a in gen.batches(3000, 1000):
        plain.add(a)
        extended.add(a)
        unique = (a.reason < 0) & ~a.duplicate
        purchased_units += int(
            a.quantity[unique & (a.event_type == EVENT_TYPES.index("PURCHASE"))].sum()
        )
    rows, more = (
        plain.result()["customer_daily_metrics"],
        extended.result()["customer_daily_metrics"],
    )
    assert [{k: v for k, v in r.items() if k != "test_units"} for r in more] == rows
    assert purchased_units > 0
    assert sum(r["test_units"] for r in more) == purchased_units
    # Written as Parquet and read back, the added measure is kept.
    doc = extended.result()
    write_truth(doc, tmp_path / "truth.parquet", customer_daily=WITH_UNITS)
    back = read_truth(tmp_path / "truth.parquet")
    assert back["customer_daily_metrics"] == more


def test_the_sessions_declaration_agrees_with_the_generators_session_model() -> None:
    """The declaration's own truth (numpy, per measure) equals truth_shop.SessionTruth."""
    from shopstream.bronze.encoding import session_hex
    from shopstream.bronze.truth_shop import session_rows
    from shopstream.gold_tables.tables import SESSIONS

    gen = EventGenerator(GeneratorConfig(seed=8, customers=80, backfill_days=1), 4000)
    builder = TruthBuilder(gen, also=(SESSIONS,))
    for batch in gen.batches(4000, 1000):
        builder.add(batch)
    names = {"session": lambda ids: session_hex(ids).view("S16").ravel().astype(str).tolist()}
    got = builder.gold["sessions"].rows(names)
    model = session_rows(builder.result()["sessions"])
    assert len(got) == len(model) > 100
    assert got == [{k: r[k] for k in got[0]} for r in model]
