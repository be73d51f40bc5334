"""The dead-letter topic: read records back, and replay selected ones into raw_events.

A dead-letter value is JSON per `contract.DEAD_LETTER_FIELDS`; its Kafka key is the raw
record's key, and `raw_base64` holds the original bytes, so a replay re-sends exactly
what the producer sent (after a fix, e.g. a currency added to the rate table). Replays
are recorded in `<home>/dlq/replayed.jsonl`, so running the same replay twice does not
send a record twice (`again=True` overrides).

Examples:
    >>> # after adding CHF to pipeline.currency_rates:
    >>> # replay(settings, reason="unsupported_currency")
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from shopstream.config import Settings
from shopstream.contract import REASONS
from shopstream.errors import ConfigError, DeliveryError

REPLAY_HEADER = "shopstream-replay-of"
_POLL_S = 1.0
_READ_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DeadLetter:
    """One dead_letter message: where it sits in the topic, its key and its JSON record."""

    partition: int
    offset: int
    key: bytes | None
    record: dict[str, Any]

    @property
    def reason(self) -> str:
        return str(self.record.get("reason"))

    @property
    def raw(self) -> bytes | None:
        """The original raw_events value (None for a record that had no value)."""
        b64 = self.record.get("raw_base64")
        return None if b64 is None else base64.b64decode(b64)

    def as_json(self) -> dict[str, Any]:
        """The record plus its own coordinates in the dead-letter topic."""
        return {"dead_letter_partition": self.partition, "dead_letter_offset": self.offset} | (
            self.record
        )


def _check_reason(reason: str | None) -> None:
    if reason is not None and reason not in REASONS:
        raise ConfigError(f"unknown reason {reason!r}; choose one of: {', '.join(REASONS)}.")


def iter_dead_letters(settings: Settings, reason: str | None = None) -> Iterator[DeadLetter]:
    """Every dead letter in the topic (oldest first per partition), optionally of one reason."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    from shopstream.kafka.clients import check_connection
    from shopstream.kafka.connection import client_config
    from shopstream.kafka.offsets import watermarks

    _check_reason(reason)
    check_connection(settings)
    topic = settings.kafka.dead_letter_topic
    marks = {p: (lo, hi) for p, (lo, hi) in watermarks(settings, topic).items() if hi > lo}
    if not marks:
        return
    consumer = Consumer(
        client_config(settings)
        | {
            "group.id": f"shopstream-dlq-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, p, lo) for p, (lo, _) in marks.items()])
        pending = set(marks)
        deadline = time.monotonic() + _READ_TIMEOUT_S
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=_POLL_S):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        pending.discard(msg.partition())
                    continue
                p, o = msg.partition(), msg.offset()
                if o >= marks[p][1] - 1:
                    pending.discard(p)
                if o >= marks[p][1]:
                    continue
                try:
                    record = orjson.loads(msg.value() or b"null")
                except orjson.JSONDecodeError:
                    record = None
                if not isinstance(record, dict):
                    continue  # not written by Silver; nothing to show or replay
                dl = DeadLetter(p, o, msg.key(), record)
                if reason is None or dl.reason == reason:
                    yield dl
    finally:
        consumer.close()


def read_dead_letters(
    settings: Settings, reason: str | None = None, limit: int | None = None
) -> list[DeadLetter]:
    """Up to `limit` dead letters (all if None), optionally of one reason."""
    out: list[DeadLetter] = []
    for dl in iter_dead_letters(settings, reason):
        if limit is not None and len(out) >= limit:
            break
        out.append(dl)
    return out


def ledger_path(settings: Settings) -> Path:
    """Which dead letters this home has already replayed."""
    return settings.files.dlq_replayed


def _replayed(settings: Settings) -> set[tuple[str, int, int]]:
    path = ledger_path(settings)
    if not path.is_file():
        return set()
    done = set()
    for line in path.read_bytes().splitlines():
        try:
            e = orjson.loads(line)
            done.add((e["topic"], int(e["partition"]), int(e["offset"])))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return done


@dataclass
class ReplayReport:
    """What a replay selected, sent and skipped."""

    selected: list[DeadLetter] = field(default_factory=list)
    sent: int = 0
    skipped_already_replayed: int = 0
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        by_reason: dict[str, int] = {}
        for dl in self.selected:
            by_reason[dl.reason] = by_reason.get(dl.reason, 0) + 1
        return {
            "selected": len(self.selected),
            "sent": self.sent,
            "skipped_already_replayed": self.skipped_already_replayed,
            "dry_run": self.dry_run,
            "by_reason": by_reason,
        }


def replay(
    settings: Settings,
    reason: str | None = None,
    limit: int | None = None,
    *,
    dry_run: bool = False,
    again: bool = False,
) -> ReplayReport:
    """Re-send selected dead letters' original bytes and key to raw_events.

    Records this home replayed before are skipped unless `again`. Each replayed message
    carries a `shopstream-replay-of: <dead_letter topic>:<partition>:<offset>` header.
    """
    from confluent_kafka import Producer

    from shopstream.kafka.connection import client_config

    topic = settings.kafka.dead_letter_topic
    done = set() if again else _replayed(settings)
    report = ReplayReport(dry_run=dry_run)
    for dl in iter_dead_letters(settings, reason):
        if limit is not None and len(report.selected) >= limit:
            break
        if (topic, dl.partition, dl.offset) in done:
            report.skipped_already_replayed += 1
            continue
        report.selected.append(dl)
    if dry_run or not report.selected:
        return report
    producer = Producer(
        client_config(settings) | {"acks": "all", "enable.idempotence": True, "log_level": 3}
    )
    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    ledger = ledger_path(settings)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    for dl in report.selected:
        producer.produce(
            settings.kafka.raw_topic,
            value=dl.raw,
            key=dl.key,
            headers=[(REPLAY_HEADER, f"{topic}:{dl.partition}:{dl.offset}".encode())],
            on_delivery=on_delivery,
        )
        producer.poll(0)
    left = producer.flush(60)
    if failures or left:
        raise DeliveryError(
            f"{len(failures) + left} of {len(report.selected)} replayed records were not "
            f"delivered ({failures[0] if failures else 'flush timed out'}); nothing was "
            "recorded as replayed, so rerunning the replay is safe."
        )
    now = datetime.now(UTC).isoformat()
    with open(ledger, "ab") as f:
        f.write(
            b"".join(
                orjson.dumps(
                    {"topic": topic, "partition": dl.partition, "offset": dl.offset, "at": now}
                )
                + b"\n"
                for dl in report.selected
            )
        )
    report.sent = len(report.selected)
    return report
