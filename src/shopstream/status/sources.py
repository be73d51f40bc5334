"""What status reads: Kafka watermarks, the warehouse, the live queries, and rates.

Each source is read into a plain snapshot that never raises: a broker or a warehouse that
does not answer is a state to report (`reachable=False`, `ok=False` with the error), not
an exception. The checkpoints and progress logs are read through `spark.checkpoints`.

Examples:
    >>> snapshot = KafkaSnapshot(True, "127.0.0.1:9092", topics={"raw": {0: (2, 10), 1: (0, 5)}})
    >>> snapshot.messages("raw"), snapshot.ends("raw")
    (13, {0: 10, 1: 5})
    >>> KafkaSnapshot(False, error="no broker answers").messages("raw") is None
    True
    >>> parse_offsets('{"raw": {"0": 42}}')
    {'raw': {0: 42}}
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from shopstream.config import Settings
    from shopstream.warehouse.base import Warehouse

_KAFKA_TIMEOUT_S = 2.0


# --------------------------------------------------------------------------- live queries


@runtime_checkable
class QueryLike(Protocol):
    """The part of pyspark's StreamingQuery that health needs."""

    @property
    def isActive(self) -> bool: ...  # pyspark spells it so

    @property
    def lastProgress(self) -> dict[str, Any] | None: ...

    def exception(self) -> Any: ...


@dataclass
class LiveState:
    """What the process running the pipeline knows that files cannot tell.

    `queries` maps stage name ("silver", "gold") to its StreamingQuery; the runner may add
    them after the dashboard started. `started_at` (epoch seconds) is when the queries were
    started: until a stage committed once, the stall clock runs from there. `producer`
    returns the generator's counters, e.g. `{"sent": N, "rate": r, "error": None}`.
    """

    queries: dict[str, QueryLike] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    producer: Callable[[], Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class QueryFacts:
    """A live query as status sees it; all None when there is no live query."""

    active: bool | None = None
    error: str | None = None
    progress: Mapping[str, Any] | None = None


def query_facts(live: LiveState | None, stage: str) -> QueryFacts:
    """Whether the stage's live query runs, why it stopped, and its last progress."""
    query = live.queries.get(stage) if live else None
    if query is None:
        return QueryFacts()
    try:
        active = bool(query.isActive)
        exception = None if active else query.exception()
        progress = query.lastProgress
    except Exception as err:  # the JVM gateway itself failing is a dead query too
        return QueryFacts(False, f"cannot reach the query: {err}")
    error = None
    if exception is not None:
        error = str(getattr(exception, "desc", exception)).strip().splitlines()[0][:300]
    return QueryFacts(active, error, progress)


# --------------------------------------------------------------------------- kafka


@dataclass
class KafkaSnapshot:
    """Watermarks of the pipeline topics, or why they could not be read."""

    reachable: bool
    bootstrap: str | None = None
    error: str | None = None
    topics: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)
    # Serving, but a broker is down or partitions are under-replicated (one sentence).
    degraded: str | None = None

    def messages(self, topic: str) -> int | None:
        """Messages retained in a topic (None when unknown)."""
        if not self.reachable or topic not in self.topics:
            return None
        return sum(high - low for low, high in self.topics[topic].values())

    def ends(self, topic: str) -> dict[int, int] | None:
        """Partition -> end offset (None when unknown)."""
        if not self.reachable or topic not in self.topics:
            return None
        return {partition: high for partition, (_, high) in self.topics[topic].items()}


def _pipeline_topics(settings: Settings) -> tuple[str, str, str]:
    kafka = settings.kafka
    return (kafka.raw_topic, kafka.clean_topic, kafka.dead_letter_topic)


def _answering_bootstrap(settings: Settings) -> tuple[str | None, KafkaSnapshot | None]:
    """(bootstrap, None) when a broker answers there, else (None, the unreachable snapshot)."""
    from shopstream.errors import ShopstreamError
    from shopstream.kafka.connection import bootstrap_servers

    try:
        bootstrap = bootstrap_servers(settings)
    except ShopstreamError as err:
        return None, KafkaSnapshot(False, error=str(err))
    if not _any_listening(bootstrap):
        return None, KafkaSnapshot(False, bootstrap, f"no broker answers at {bootstrap}")
    return bootstrap, None


def kafka_snapshot(settings: Settings) -> KafkaSnapshot:
    """Read the three topics' watermarks; an unreachable broker is a state, not an error."""
    from shopstream.errors import ShopstreamError
    from shopstream.kafka.clients import admin, check_connection
    from shopstream.kafka.offsets import watermarks

    bootstrap, unreachable = _answering_bootstrap(settings)
    if bootstrap is None:
        assert unreachable is not None
        return unreachable
    try:
        # A rejected password or an untrusted certificate is named, not a read timeout.
        check_connection(settings, bootstrap)
    except ShopstreamError as err:
        return KafkaSnapshot(False, bootstrap, str(err))
    snapshot = KafkaSnapshot(True, bootstrap)
    try:
        for topic in _pipeline_topics(settings):
            snapshot.topics[topic] = watermarks(settings, topic, bootstrap)
        metadata = admin(settings, bootstrap).list_topics(timeout=_KAFKA_TIMEOUT_S)
    except Exception as err:  # a broker dying mid-read is a state too
        return KafkaSnapshot(False, bootstrap, f"reading offsets failed: {err}")
    snapshot.degraded = _degradation(settings, metadata.topics)
    return snapshot


def _degradation(settings: Settings, topics: Any) -> str | None:
    """Dead local brokers and under-replicated partitions, as one sentence (None: neither)."""
    from shopstream.kafka.status import degraded_reason, down_brokers, under_replicated

    return degraded_reason(down_brokers(settings), under_replicated(topics))


class KafkaProbe:
    """Watermarks through one long-lived consumer, for callers that ask every second.

    `kafka_snapshot` builds a client per topic (about 80 ms each); the dashboard polls, so
    it keeps one consumer and drops it on any error (the next call reconnects).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer: Any = None
        self._bootstrap: str | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> KafkaSnapshot:
        """Watermarks of the three topics now, or why they could not be read."""
        with self._lock:
            bootstrap, unreachable = _answering_bootstrap(self.settings)
            if bootstrap is None:
                assert unreachable is not None
                self.close()
                return unreachable
            try:
                return self._read(bootstrap)
            except Exception as err:  # a broker dying mid-read is a state too
                self.close()
                return KafkaSnapshot(False, bootstrap, f"reading offsets failed: {err}")

    def _read(self, bootstrap: str) -> KafkaSnapshot:
        from confluent_kafka import Consumer, TopicPartition

        from shopstream.kafka.connection import client_config

        if self._consumer is None or self._bootstrap != bootstrap:
            self.close()
            conf = client_config(self.settings, bootstrap) | {
                "group.id": "shopstream-status-probe",
                "enable.auto.commit": False,
                "log_level": 3,
            }
            self._consumer, self._bootstrap = Consumer(conf), bootstrap
        snapshot = KafkaSnapshot(True, bootstrap)
        seen: dict[str, Any] = {}
        for topic in _pipeline_topics(self.settings):
            metadata = self._consumer.list_topics(topic, timeout=_KAFKA_TIMEOUT_S).topics.get(topic)
            if metadata is None or metadata.error is not None:
                snapshot.topics[topic] = {}
                continue
            seen[topic] = metadata
            snapshot.topics[topic] = {
                partition: tuple(
                    self._consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=_KAFKA_TIMEOUT_S, cached=False
                    )
                )
                for partition in sorted(metadata.partitions)
            }
        snapshot.degraded = _degradation(self.settings, seen)
        return snapshot

    def close(self) -> None:
        """Drop the consumer (idempotent)."""
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._consumer.close()
            self._consumer = None


def _any_listening(bootstrap: str) -> bool:
    """A TCP probe: librdkafka would wait out its whole timeout on a dead address."""
    from shopstream.ports import is_listening

    hosts = [server.rsplit(":", 1) for server in bootstrap.split(",") if ":" in server]
    return not hosts or any(
        is_listening(host, int(port), timeout=_KAFKA_TIMEOUT_S) for host, port in hosts
    )


# --------------------------------------------------------------------------- warehouse


@dataclass
class WarehouseSnapshot:
    """Figures read from the warehouse in one go."""

    ok: bool
    kind: str | None = None
    target: str | None = None
    error: str | None = None
    tables: dict[str, int] = field(default_factory=dict)
    # Each raw record once, by its source offset (view pipeline_counts): Silver's re-sent
    # copies are only in `redelivered`.
    clean: int = 0
    unique: int = 0
    duplicates: int = 0
    dead_letter: int = 0
    redelivered: dict[str, int] = field(default_factory=dict)
    gold_input: int = 0
    batches: int = 0
    batch_seconds: float = 0.0
    last_batch: dict[str, Any] | None = None
    last_commit_at: datetime | None = None
    dead_letters_by_reason: dict[str, int] = field(default_factory=dict)
    newest_event: datetime | None = None
    # Per rule of alerts.rules.RULES: severity, open episodes, episodes ever opened; None
    # while the warehouse does not answer (unknown, which /metrics must not report as 0).
    business_alerts: dict[str, dict[str, Any]] | None = None


def open_status_warehouse(settings: Settings) -> tuple[Warehouse | None, str | None]:
    """Open the warehouse read-only for a one-shot status; (None, why) when it can't."""
    from shopstream.errors import ShopstreamError
    from shopstream.sqlendpoint.reader import open_reader

    try:
        return open_reader(settings), None
    except ShopstreamError as err:
        return None, str(err)


def warehouse_snapshot(warehouse: Warehouse | None, error: str | None = None) -> WarehouseSnapshot:
    """Counts, Gold's batch log and freshness from the warehouse; never raises."""
    from shopstream.errors import ShopstreamError

    if warehouse is None:
        return WarehouseSnapshot(False, error=error or "no warehouse")
    snapshot = WarehouseSnapshot(True, warehouse.kind, warehouse.target())
    try:
        snapshot.tables = warehouse.table_counts()
        (counts,) = warehouse.query("SELECT * FROM pipeline_counts")
        snapshot.clean = int(counts["clean"])
        snapshot.unique = int(counts["unique_events"])
        snapshot.duplicates = int(counts["duplicates"])
        snapshot.dead_letter = int(counts["dead_letter"])
        snapshot.redelivered = {
            "clean": int(counts["redelivered_clean"]),
            "dead_letter": int(counts["redelivered_dead_letter"]),
        }
        (batch_log,) = warehouse.query(
            "SELECT COUNT(*) AS batches, COALESCE(SUM(input_rows), 0) AS input_rows, "
            "COALESCE(SUM(duration_ms), 0) AS duration_ms, "
            "MAX(COALESCE(last_replayed_at, committed_at)) AS last_commit_at "
            "FROM pipeline_batches"
        )
        snapshot.batches = int(batch_log["batches"])
        snapshot.gold_input = int(batch_log["input_rows"])
        snapshot.batch_seconds = float(batch_log["duration_ms"]) / 1000.0
        snapshot.last_commit_at = batch_log["last_commit_at"]
        # More columns than `Warehouse.last_batch` (durations, end offsets, dead letters):
        # the status document shows them.
        last = warehouse.query(
            "SELECT query_name, batch_id, input_rows, new_events, duplicates, dead_letters, "
            "new_dead_letters, committed_at, duration_ms, commit_ms, end_offsets "
            "FROM pipeline_batches ORDER BY committed_at DESC, batch_id DESC LIMIT 1"
        )
        snapshot.last_batch = last[0] if last else None
        snapshot.dead_letters_by_reason = {
            row["reason"]: int(row["dead_letters"])
            for row in warehouse.query("SELECT reason, dead_letters FROM dead_letter_counts")
        }
        (newest,) = warehouse.query("SELECT MAX(event_timestamp) AS newest FROM silver_events")
        snapshot.newest_event = newest["newest"]
        snapshot.business_alerts = business_alerts(warehouse)
    except ShopstreamError as err:
        snapshot.ok, snapshot.error = False, str(err)
    return snapshot


def business_alerts(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    """Severity, open and ever-opened episodes of every rule in RULES from the alerts table,
    in one query of at most len(RULES) rows (rows of rules no longer declared are left out)."""
    from shopstream.alerts.rules import RULES

    names = [rule.name for rule in RULES]
    # Literals, not parameters: the SQL endpoint (another process's DuckDB) takes none.
    listed = ", ".join("'" + name.replace("'", "''") + "'" for name in names)
    rows = warehouse.query(
        "SELECT rule, COUNT(*) AS opened, "
        "SUM(CASE WHEN resolved_at IS NULL THEN 1 ELSE 0 END) AS open_now "
        f"FROM alerts WHERE rule IN ({listed}) GROUP BY rule"
    )
    found = {r["rule"]: (int(r["open_now"] or 0), int(r["opened"])) for r in rows}
    return {
        rule.name: dict(
            zip(("open", "opened"), found.get(rule.name, (0, 0)), strict=True),
            severity=rule.severity,
        )
        for rule in RULES
    }


def gold_offsets_from_batches(warehouse: Warehouse) -> dict[str, dict[int, int]]:
    """Gold's position per topic/partition from `pipeline_batches` (no checkpoint at hand)."""
    positions: dict[str, dict[int, int]] = {}
    rows = warehouse.query("SELECT end_offsets FROM pipeline_batches WHERE end_offsets IS NOT NULL")
    for row in rows:
        for topic, partitions in parse_offsets(row["end_offsets"]).items():
            topic_positions = positions.setdefault(topic, {})
            for partition, offset in partitions.items():
                topic_positions[partition] = max(topic_positions.get(partition, 0), offset)
    return positions


def parse_offsets(value: Any) -> dict[str, dict[int, int]]:
    """Offsets as `{topic: {partition: offset}}` from a JSON string or dict; {} if unusable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, dict):
        return {}
    offsets: dict[str, dict[int, int]] = {}
    for topic, partitions in value.items():
        if isinstance(partitions, dict):
            with contextlib.suppress(ValueError, TypeError):
                offsets[topic] = {
                    int(partition): int(offset) for partition, offset in partitions.items()
                }
    return offsets


# --------------------------------------------------------------------------- rates


class RateTracker:
    """Events/s of monotonically growing counters, over a sliding window of samples."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, dict[str, int]]] = deque()
        self._lock = threading.Lock()

    def observe(self, counters: Mapping[str, int | None], now: float | None = None) -> None:
        """Record the counters' current values."""
        now = time.monotonic() if now is None else now
        known = {name: int(value) for name, value in counters.items() if value is not None}
        with self._lock:
            self._samples.append((now, known))
            # Keep one sample older than the window so the rate spans the whole window.
            while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
                self._samples.popleft()

    def _series(self, name: str) -> list[tuple[float, int]]:
        with self._lock:
            return [(at, counters[name]) for at, counters in self._samples if name in counters]

    def rate(self, name: str) -> float | None:
        """Growth per second of `name` over the window; None without two samples."""
        series = self._series(name)
        if len(series) < 2 or series[-1][0] <= series[0][0]:
            return None
        (first_at, first), (last_at, last) = series[0], series[-1]
        return max(0.0, (last - first) / (last_at - first_at))

    def changed_at(self, name: str) -> float | None:
        """Monotonic time of the newest sample in which `name` grew, if seen in the window."""
        series = self._series(name)
        for (_, before), (at, after) in zip(
            reversed(series[:-1]), reversed(series[1:]), strict=True
        ):
            if after > before:
                return at
        return None
