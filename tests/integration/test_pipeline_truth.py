"""The whole chain against the generator's ground truth, exactly, on DuckDB and fakesnow.

generator -> real Kafka -> Silver (real Spark) -> Kafka -> Gold -> warehouse. Totals must
equal the truth after the first run, after Silver's checkpoint is lost (everything is
re-validated and re-sent to clean_events), and after Gold's checkpoint is lost.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.incidents import parse_incidents
from shopstream.bronze.truth import TruthBuilder
from shopstream.bronze.truth_shop import session_rows
from shopstream.config import Settings
from shopstream.gold_tables.render import truth_query
from shopstream.gold_tables.tables import CUSTOMER_DAILY
from shopstream.gold_tables.truth import comparable
from shopstream.kafka.connection import client_config
from shopstream.kafka.offsets import message_count
from shopstream.runtime.stages import process_available_now
from shopstream.spark.checkpoints import checkpoint
from shopstream.warehouse import open_warehouse
from shopstream.warehouse.keys import generate_keypair

EVENTS = 6_000
DAY_MS = 86_400_000


def _produce_with_truth(settings: Settings, seed: int) -> dict[str, Any]:
    # Incidents too: their rows (locale timestamps, purchases without amount, checkouts
    # turned into views) must meet real Silver's rules as the truth classified them.
    incidents = parse_incidents(
        ["checkout_outage@6h+12h", "payment_failures@1d+12h:1", "bad_release@2d+12h"]
    )
    # The backfill ends at the last UTC midnight, not now: the day/night curve then puts the
    # same traffic in each incident window at any hour the test runs (ending at "now", a
    # window could fall in a quiet night and touch no event).
    midnight_ms = time.time_ns() // 1_000_000 // DAY_MS * DAY_MS
    cfg = GeneratorConfig.from_settings(
        settings,
        seed=seed,
        customers=300,
        backfill_days=3,
        incidents=incidents,
        now_ms=midnight_ms,
    )
    gen = EventGenerator(cfg, total_events=EVENTS)
    truth = TruthBuilder(gen)
    producer = Producer(client_config(settings) | {"acks": "all", "enable.idempotence": True})
    for batch in gen.batches(EVENTS, batch_size=1_000):
        for key, value in zip(batch.keys, batch.values, strict=True):
            producer.produce(settings.kafka.raw_topic, key=key, value=value)
        producer.poll(0)
        truth.add(batch)
    assert producer.flush(60) == 0
    return truth.result()


def _warehouse_figures(settings: Settings) -> dict[str, Any]:
    with open_warehouse(settings, read_only=settings.warehouse.kind == "duckdb") as wh:
        rows = wh.query(truth_query(CUSTOMER_DAILY))
        dlq = wh.query("SELECT reason, COUNT(*) AS n FROM dead_letter_events GROUP BY reason")
        unique = wh.query("SELECT COUNT(*) AS n FROM silver_events")[0]["n"]
        sessions = wh.query(SESSIONS_SQL)
    return {
        "cdm": comparable(CUSTOMER_DAILY, rows),
        "dead_letter": {r["reason"]: int(r["n"]) for r in dlq},
        "unique": int(unique),
        "sessions": {
            r["session_id"]: (
                r["customer_id"],
                r["device"],
                int(r["page_views"]),
                int(r["carts"]),
                int(r["purchases"]),
                int(r["units"]),
                Decimal(r["revenue"]),
                _iso(r["first_event_at"]),
                _iso(r["last_event_at"]),
                bool(r["converted"]),
                bool(r["abandoned_cart"]),
            )
            for r in sessions
        },
    }


# The Gold `sessions` table, one row per session_id (events without one belong to none),
# against the generator's session truth (truth_shop.SessionTruth, its own model).
SESSIONS_SQL = """
SELECT session_id, customer_id, device, first_event_at, last_event_at, page_views,
       add_to_cart_count AS carts, purchase_count AS purchases, units, revenue, converted,
       abandoned_cart
FROM sessions
"""


def _iso(ts: Any) -> str:
    return ts.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _truth_figures(truth: dict[str, Any]) -> dict[str, Any]:
    return {
        "cdm": comparable(CUSTOMER_DAILY, truth["customer_daily_metrics"]),
        "dead_letter": {k: v for k, v in truth["dead_letter"]["by_reason"].items() if v},
        "unique": truth["unique"],
        "sessions": {
            r["session_id"]: (
                r["customer_id"],
                r["device"],
                r["page_views"],
                r["add_to_cart_count"],
                r["purchase_count"],
                r["units"],
                Decimal(r["revenue"]),
                r["first_event_at"],
                r["last_event_at"],
                r["converted"],
                r["abandoned_cart"],
            )
            for r in session_rows(truth["sessions"])
        },
    }


def _process(spark: Any, settings: Settings) -> None:
    with open_warehouse(settings) as wh:
        wh.init()
        process_available_now(spark, settings, wh, threading.Event())


@contextmanager
def _warehouse_backend(kind: str, settings_factory: Any, tmp_path: Path) -> Iterator[Settings]:
    if kind == "duckdb":
        yield settings_factory()
        return
    import fakesnow

    keys = tmp_path / "keys"
    generate_keypair(keys)
    sf = {
        "account": "test-account",
        "user": "LOADER",
        "private_key_path": str(keys / "rsa_key.p8"),
    }
    with fakesnow.patch():
        yield settings_factory(warehouse={"kind": "snowflake", "snowflake": sf})


@pytest.mark.parametrize("kind", ["duckdb", "snowflake"])
def test_pipeline_equals_ground_truth_through_restarts(
    kind: str, spark: Any, settings_factory: Any, tmp_path: Path
) -> None:
    with _warehouse_backend(kind, settings_factory, tmp_path) as settings:
        truth = _produce_with_truth(settings, seed=11)
        assert truth["raw"] == message_count(settings, settings.kafka.raw_topic)
        assert truth["duplicates"] > 0 and truth["dead_letter"]["total"] > 0
        assert truth["sessions"]["sessions"] > 500 and truth["sessions"]["converted"] > 0
        assert all(i["affected_events"] > 0 for i in truth["incidents"])
        expected = _truth_figures(truth)

        _process(spark, settings)
        assert message_count(settings, settings.kafka.clean_topic) == truth["clean"]
        assert (
            message_count(settings, settings.kafka.dead_letter_topic)
            == truth["dead_letter"]["total"]
        )
        assert _warehouse_figures(settings) == expected

        # Silver loses its checkpoint: it re-validates everything and re-sends it all to
        # clean_events / dead_letter. Derived event ids are stable, so Gold adds nothing.
        shutil.rmtree(checkpoint(settings, "silver"))
        _process(spark, settings)
        assert message_count(settings, settings.kafka.clean_topic) == 2 * truth["clean"]
        assert _warehouse_figures(settings) == expected

        # Gold loses its checkpoint: every batch is replayed into the warehouse.
        shutil.rmtree(checkpoint(settings, "gold"))
        _process(spark, settings)
        assert _warehouse_figures(settings) == expected
