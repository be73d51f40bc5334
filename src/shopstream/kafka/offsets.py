"""Offsets of a topic's partitions: low and high watermarks, end offsets, retained counts."""

from __future__ import annotations

import time
import uuid
from typing import Any

from shopstream.config import Settings
from shopstream.errors import KafkaError
from shopstream.kafka.connection import client_config
from shopstream.kafka.retry import retry


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
    """A partition's (low, high) offsets; leadership moves meanwhile are waited out."""

    def ask(remaining: float) -> tuple[int, int]:
        lo, hi = consumer.get_watermark_offsets(tp, timeout=min(5.0, max(remaining, 0.5)))
        return int(lo), int(hi)

    def give_up(last: str) -> KafkaError:
        return KafkaError(f"cannot read offsets of {tp.topic}: {last}")

    return retry(ask, deadline=deadline, pause=0.2, give_up=give_up)


def end_offsets(settings: Settings, topic: str, bootstrap: str | None = None) -> dict[int, int]:
    """Partition -> end (high-watermark) offset."""
    return {p: hi for p, (_, hi) in watermarks(settings, topic, bootstrap).items()}


def message_count(settings: Settings, topic: str, bootstrap: str | None = None) -> int:
    """Messages currently retained in a topic."""
    return sum(hi - lo for lo, hi in watermarks(settings, topic, bootstrap).values())
