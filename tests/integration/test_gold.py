"""Gold against a real broker, real Spark and real DuckDB: exact, idempotent, replay-safe."""

from __future__ import annotations

import json
import shutil
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from confluent_kafka import Producer

from shopstream.config import Settings
from shopstream.gold.job import start_gold
from shopstream.kafka.connection import client_config
from shopstream.spark.checkpoints import checkpoint
from shopstream.warehouse import open_warehouse

NOW = datetime.now(UTC).replace(microsecond=0)


def _clean(i: int, customer: str, etype: str, when: datetime, amount: str | None) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": etype,
        "customer_id": customer,
        "event_timestamp": when.isoformat().replace("+00:00", "Z"),
        "event_date": when.date().isoformat(),
        # Silver writes amounts as JSON numbers; float() keeps these 2-decimal texts exact.
        "amount": float(amount) if amount else None,
        "currency": "USD" if amount else None,
        "reporting_amount": float(amount) if amount else None,
        "session_id": f"s{i % 7}",
        "product_id": f"p{i % 5}",
        "category": ["books", "toys"][i % 2],
        "quantity": 1,
        "device": "mobile",
        "source_partition": i % 3,
        "source_offset": i,
        "produced_at": NOW.isoformat().replace("+00:00", "Z"),
        "validated_at": NOW.isoformat().replace("+00:00", "Z"),
    }


def _dead(i: int) -> dict[str, Any]:
    return {
        "reason": "invalid_amount",
        "detail": "amount=-1",
        "source_topic": "raw",
        "source_partition": 0,
        "source_offset": 10_000 + i,
        "source_key": None,
        "processed_at": NOW.isoformat().replace("+00:00", "Z"),
        "raw_base64": "e30=",
    }


def _expected(events: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int, int, Decimal]]:
    acc: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal("0")])
    for e in {e["event_id"]: e for e in events}.values():
        row = acc[(e["customer_id"], e["event_date"])]
        row[["PAGE_VIEW", "ADD_TO_CART", "PURCHASE"].index(e["event_type"])] += 1
        if e["event_type"] == "PURCHASE":
            row[3] += Decimal(str(e["reporting_amount"]))
    return {k: tuple(v) for k, v in acc.items()}  # type: ignore[misc]


def _actual(settings: Settings) -> dict[tuple[str, str], tuple[int, int, int, Decimal]]:
    with open_warehouse(settings, read_only=True) as wh:
        rows = wh.query(
            "SELECT customer_id, CAST(event_date AS VARCHAR) AS d, page_views, "
            "add_to_cart_count, purchase_count, total_revenue FROM customer_daily_metrics"
        )
    return {
        (r["customer_id"], r["d"]): (
            r["page_views"],
            r["add_to_cart_count"],
            r["purchase_count"],
            Decimal(r["total_revenue"]),
        )
        for r in rows
    }


def _send(settings: Settings, topic: str, records: list[dict[str, Any]]) -> None:
    p = Producer(client_config(settings) | {"acks": "all", "enable.idempotence": True})
    for r in records:
        p.produce(topic, key=(r.get("customer_id") or "").encode(), value=json.dumps(r).encode())
    assert p.flush(30) == 0


def _run_gold(spark: Any, settings: Settings) -> None:
    with open_warehouse(settings) as wh:
        wh.init()
        query, _ = start_gold(spark, settings, wh, available_now=True)
        query.awaitTermination(300)
        assert query.exception() is None


def test_gold_exact_then_idempotent_after_checkpoint_loss(spark: Any, settings: Settings) -> None:
    types = ["PAGE_VIEW", "ADD_TO_CART", "PURCHASE"]
    events = []
    for i in range(300):
        etype = types[i % 3]
        # a third of the events are late (2-5 days old): they must land in their own date
        when = NOW - timedelta(days=(i % 4) + (2 if i % 3 == 0 else 0), seconds=i)
        amount = f"{(i % 97) + 0.99:.2f}" if etype == "PURCHASE" else None
        events.append(_clean(i, f"c{i % 11}", etype, when, amount))
    dupes = events[:40]  # the same event_ids again, as a re-sent duplicate would be
    _send(settings, settings.kafka.clean_topic, events + dupes)
    _send(settings, settings.kafka.dead_letter_topic, [_dead(i) for i in range(7)])

    _run_gold(spark, settings)
    expected = _expected(events)
    assert _actual(settings) == expected
    with open_warehouse(settings, read_only=True) as wh:
        assert wh.query("SELECT COUNT(*) AS n FROM silver_events")[0]["n"] == 300
        assert wh.query("SELECT SUM(duplicates) AS n FROM pipeline_batches")[0]["n"] == 40
        assert wh.query("SELECT COUNT(*) AS n FROM dead_letter_events")[0]["n"] == 7

    # Crash with the checkpoint lost: everything is replayed from the earliest offsets.
    shutil.rmtree(checkpoint(settings, "gold"))
    _run_gold(spark, settings)
    assert _actual(settings) == expected
    with open_warehouse(settings, read_only=True) as wh:
        assert wh.query("SELECT COUNT(*) AS n FROM silver_events")[0]["n"] == 300
        assert wh.query("SELECT COUNT(*) AS n FROM dead_letter_events")[0]["n"] == 7

    # New events after the replay still count, once.
    more = [_clean(1000 + i, "late-comer", "PURCHASE", NOW, "10.00") for i in range(5)]
    _send(settings, settings.kafka.clean_topic, more)
    _run_gold(spark, settings)
    assert _actual(settings) == _expected(events + more)
