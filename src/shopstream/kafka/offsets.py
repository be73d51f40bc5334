"""Offsets of a topic's partitions: low and high watermarks, end offsets, retained counts."""

from __future__ import annotations

import time
import uuid
from typing import Any

from shopstream.config import Settings
from shopstream.errors import KafkaError
from shopstream.kafka.connection import client_config


def watermarks(
    settings: Settings, topic: str, bootstrap: str | None = None
) -> dict[int, tuple[int, int]]:
    """Partition -> (low, high) offsets of a topic; empty if the topic does not exist."""
    from confluent_kafka import Consumer, TopicPartition

    conf = client_config(settings, bootstrap) | {
        "group.id": f"shopstream-watermarks-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        # Closed before its group-coordinator connection finishes a SASL handshake, it logs
        # an error that is none; real failures raise below.
        "log_level": 2,
    }
    consumer = Consumer(conf)
    try:
        md = consumer.list_topics(topic, timeout=10)
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            return {}
        # One deadline for the topic: a leader that does not answer costs it once, not per
        # partition.
        deadline = time.monotonic() + 15.0
        return {
            p: _watermark(consumer, TopicPartition(topic, p), deadline)
            for p in sorted(tmd.partitions)
        }
    finally:
        consumer.close()


def _watermark(consumer: Any, tp: Any, deadline: float) -> tuple[int, int]:
    from confluent_kafka import KafkaError as CKError
    from confluent_kafka import KafkaException

    # Leadership moves (a new topic, a broker restart or death) are transient, although
    # librdkafka does not mark these retriable here; anything else is not. A broker killed
    # while we ask it fails the request with _DESTROY_BROKER or _TRANSPORT until the
    # partition's new leader is known, or times out while the cluster still names the dead
    # broker as leader (until the controller fences it, ~9 s: the soak's status failed so).
    # A new leader answers OFFSET_NOT_AVAILABLE until its high watermark has caught up.
    leadership = {
        CKError.NOT_LEADER_FOR_PARTITION,
        CKError.LEADER_NOT_AVAILABLE,
        CKError.UNKNOWN_TOPIC_OR_PART,
        CKError.OFFSET_NOT_AVAILABLE,
        CKError._DESTROY_BROKER,
        CKError._TRANSPORT,
        CKError._TIMED_OUT,
    }
    while True:
        try:
            wait = min(5.0, max(deadline - time.monotonic(), 0.5))
            lo, hi = consumer.get_watermark_offsets(tp, timeout=wait)
            return int(lo), int(hi)
        except KafkaException as err:
            kerr = err.args[0]
            transient = kerr.retriable() or kerr.code() in leadership
            if not transient or time.monotonic() > deadline:
                raise KafkaError(f"cannot read offsets of {tp.topic}: {err}") from None
            time.sleep(0.2)


def end_offsets(settings: Settings, topic: str, bootstrap: str | None = None) -> dict[int, int]:
    """Partition -> end (high-watermark) offset."""
    return {p: hi for p, (_, hi) in watermarks(settings, topic, bootstrap).items()}


def message_count(settings: Settings, topic: str, bootstrap: str | None = None) -> int:
    """Messages currently retained in a topic."""
    return sum(hi - lo for lo, hi in watermarks(settings, topic, bootstrap).values())
