"""A status document becomes labelled Prometheus metric families."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_text import samples

from shopstream.config import Settings
from shopstream.status import KafkaSnapshot, build_status
from shopstream.status.prometheus import make_registry
from shopstream.warehouse import Warehouse


def test_lag_and_offsets_per_partition_become_labelled_gauges(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    k = offline_settings.kafka
    snap = KafkaSnapshot(
        True,
        "127.0.0.1:9",
        topics={
            k.raw_topic: {0: (0, 6), 1: (0, 4)},
            k.clean_topic: {0: (0, 14)},
            k.dead_letter_topic: {0: (0, 4)},
        },
    )
    doc = build_status(offline_settings, warehouse=filled_wh, kafka=snap)
    got = samples(generate_latest(make_registry(lambda: doc)).decode())
    lag = (
        "shopstream_consumer_lag",
        (("partition", "1"), ("stage", "silver"), ("topic", k.raw_topic)),
    )
    assert got[lag] == 4.0  # no Silver checkpoint: everything is still to do
    end = ("shopstream_topic_end_offset", (("partition", "0"), ("topic", k.clean_topic)))
    assert got[end] == 14.0
    assert got[("shopstream_stage_lag", (("stage", "gold"),))] == 0.0
    assert (
        got[("shopstream_stage_events_out_total", (("output", "raw"), ("stage", "producer")))] == 10
    )
