"""Prometheus metrics, derived from the status document on every scrape.

A custom collector reads the status document (`document.build_status`, through the
caller's cache) when Prometheus scrapes, so `/metrics`, `/api/status` and `shopstream
status` can never disagree: they are the same figures. Counters are the pipeline's own
totals (Kafka offsets, warehouse rows), which survive restarts of this process.

Examples:
    >>> from prometheus_client import generate_latest
    >>> document = {"healthy": True, "kafka": {"reachable": False}}
    >>> text = generate_latest(make_registry(lambda: document)).decode()
    >>> [line for line in text.splitlines() if line.startswith("shopstream_healthy ")]
    ['shopstream_healthy 1.0']
    >>> [line for line in text.splitlines() if line.startswith("shopstream_kafka_up ")]
    ['shopstream_kafka_up 0.0']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from shopstream.status.health import STATES

PREFIX = "shopstream"


class StatusCollector(Collector):
    """Turns one status document into Prometheus metric families."""

    def __init__(self, status: Callable[[], Mapping[str, Any]]) -> None:
        self._status = status

    def describe(self) -> list[Metric]:
        # Empty: describing would call collect() at registration, i.e. read Kafka then.
        return []

    def collect(self) -> Iterator[Metric]:
        """Metric families for the current status."""
        yield from status_metrics(self._status())


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels or [])


def status_metrics(doc: Mapping[str, Any]) -> list[Metric]:
    """All metric families of a status document (pure)."""
    out: list[Metric] = []
    stages: Mapping[str, Any] = doc.get("stages", {})
    kafka = doc.get("kafka", {})

    up = _gauge("kafka_up", "1 if the Kafka brokers answered")
    up.add_metric([], 1.0 if kafka.get("reachable") else 0.0)
    healthy = _gauge("healthy", "1 if every stage is ok or idle and all sources answered")
    healthy.add_metric([], 1.0 if doc.get("healthy") else 0.0)
    out += [up, healthy]

    topic_msgs = _gauge("topic_messages", "messages retained per pipeline topic", ["topic"])
    end = _gauge("topic_end_offset", "end (high-watermark) offset", ["topic", "partition"])
    for topic, t in kafka.get("topics", {}).items():
        if t.get("messages") is not None:
            topic_msgs.add_metric([topic], float(t["messages"]))
        for p, w in t.get("partitions", {}).items():
            end.add_metric([topic, p], float(w["high"]))
    out += [topic_msgs, end]

    # Events in/out per stage: in = what the stage consumed, out = what it emitted.
    events_in = CounterMetricFamily(
        f"{PREFIX}_stage_events_in", "records a stage consumed (committed)", labels=["stage"]
    )
    events_out = CounterMetricFamily(
        f"{PREFIX}_stage_events_out",
        "records a stage emitted, by output",
        labels=["stage", "output"],
    )
    if doc.get("raw") is not None:
        events_out.add_metric(["producer", "raw"], float(doc["raw"]))
    for stage in ("silver", "gold"):
        processed = stages.get(stage, {}).get("processed")
        if processed is not None:
            events_in.add_metric([stage], float(processed))
    if doc.get("clean") is not None:
        events_out.add_metric(["silver", "clean"], float(doc["clean"]))
    dlq_total = doc.get("dead_letter", {}).get("total")
    if dlq_total is not None:
        events_out.add_metric(["silver", "dead_letter"], float(dlq_total))
    events_out.add_metric(["gold", "unique"], float(doc.get("unique") or 0))
    events_out.add_metric(["gold", "duplicate_dropped"], float(doc.get("duplicates") or 0))
    out += [events_in, events_out]

    # Counted nowhere above: a non-zero rate means Silver crashed and re-sent a batch.
    redelivered = CounterMetricFamily(
        f"{PREFIX}_redelivered",
        "copies of records Silver re-sent after a crash (each record is counted once elsewhere)",
    )
    redelivered.add_metric([], float(doc.get("redelivered") or 0))
    out.append(redelivered)

    dlq = CounterMetricFamily(
        f"{PREFIX}_dead_letters",
        "dead-letter records in the warehouse by reason",
        labels=["reason"],
    )
    for reason, n in doc.get("dead_letter", {}).get("by_reason", {}).items():
        dlq.add_metric([reason], float(n))
    out.append(dlq)

    lag = _gauge(
        "consumer_lag", "records a stage has not processed yet", ["stage", "topic", "partition"]
    )
    lag_total = _gauge(
        "stage_lag", "records a stage has not processed yet, all partitions", ["stage"]
    )
    for stage, stage_lag in doc.get("lag", {}).items():
        if stage_lag.get("total") is not None:
            lag_total.add_metric([stage], float(stage_lag["total"]))
        for topic, parts in stage_lag.get("topics", {}).items():
            for p, v in parts.items():
                lag.add_metric([stage, topic, p], float(v["lag"]))
    out += [lag, lag_total]

    batch = _gauge("last_batch_duration_seconds", "duration of a stage's last batch", ["stage"])
    rate = _gauge("stage_input_rate", "records per second a stage consumes (recent)", ["stage"])
    age = _gauge(
        "stage_last_progress_age_seconds", "seconds since a stage last committed", ["stage"]
    )
    state = _gauge("stage_state", "1 for the stage's current state", ["stage", "state"])
    stage_ok = _gauge("stage_healthy", "1 if the stage is ok or idle", ["stage"])
    for name, st in stages.items():
        if st.get("last_batch_ms") is not None:
            batch.add_metric([name], float(st["last_batch_ms"]) / 1000.0)
        if st.get("input_rate") is not None:
            rate.add_metric([name], float(st["input_rate"]))
        if st.get("last_progress_age_seconds") is not None:
            age.add_metric([name], float(st["last_progress_age_seconds"]))
        for s in STATES:
            state.add_metric([name, s], 1.0 if st.get("state") == s else 0.0)
        stage_ok.add_metric([name], 1.0 if st.get("healthy") else 0.0)
    out += [batch, rate, age, state, stage_ok]

    # Every Gold batch ever committed, as a summary: rate(sum)/rate(count) = mean duration.
    info = doc.get("warehouse_info", {})
    if info.get("ok"):
        out.append(
            SummaryMetricFamily(
                f"{PREFIX}_gold_batch_duration_seconds",
                "duration of committed Gold batches (pipeline_batches)",
                count_value=float(info.get("batches") or 0),
                sum_value=float(info.get("batch_seconds_total") or 0.0),
            )
        )

    fresh = _gauge("freshness_seconds", "now minus the newest event time in the warehouse")
    if doc.get("freshness_seconds") is not None:
        fresh.add_metric([], float(doc["freshness_seconds"]))
    rows = _gauge("warehouse_rows", "rows per warehouse table", ["table"])
    for table, n in doc.get("warehouse", {}).items():
        rows.add_metric([table], float(n))
    out += [fresh, rows]
    out += business_alert_metrics(doc.get("business_alerts"))
    return out


def business_alert_metrics(alerts: Mapping[str, Mapping[str, Any]] | None) -> list[Metric]:
    """One series per rule of the alerts table (deploy/prometheus/alerts.yml fires on them);
    no series while the table is unreadable, so "unknown" never reads as "all clear"."""
    open_now = _gauge(
        "business_alert_open",
        "1 while the business alert rule has an open episode (alerts table)",
        ["alertname", "severity"],
    )
    opened = CounterMetricFamily(
        f"{PREFIX}_business_alerts_opened",
        "business alert episodes ever opened, by rule (rows of the alerts table)",
        labels=["alertname"],
    )
    for rule, figures in (alerts or {}).items():
        open_now.add_metric([rule, figures["severity"]], 1.0 if figures["open"] else 0.0)
        opened.add_metric([rule], float(figures["opened"]))
    return [open_now, opened]


def make_registry(status: Callable[[], Mapping[str, Any]]) -> CollectorRegistry:
    """A registry holding only the status collector (not the process-global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status))
    return registry
