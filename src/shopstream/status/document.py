"""The status document: counts, lag, freshness, reconciliation and stage health.

`build_status` assembles the `status --json` document (shape in docs/design.md,
"Machine-readable output"; extend, don't rename) from real sources only (`sources.py`,
`spark.checkpoints`):

- Kafka watermarks of the raw, clean and dead-letter topics (messages and end offsets);
- each stage's Spark checkpoint (`<home>/checkpoints/<stage>`): the newest *committed*
  batch's offsets say how far the stage got, the commit file's mtime says when;
- Silver's progress log (`<home>/metrics/silver.jsonl`, one Spark progress line per
  batch) for its rates and batch duration when no live query is at hand;
- the warehouse: table counts, `pipeline_batches` (duplicates, durations, last commit,
  and Gold's position when its checkpoint is gone), dead letters by reason, the newest
  event (freshness);
- optionally a `LiveState`: the StreamingQuery objects of the process that runs them
  (`shopstream up`), so a query that died is reported at once, not after a stall timeout.

Each stage's state comes from `health.judge_stage`. The stall clock starts at the stage's
last commit, or at the live queries' start if that is later (a pipeline resuming over a
backlog is starting, not stalled). Between commits, growth of what a stage writes (clean +
dead-letter end offsets for Silver) also counts as progress when the caller keeps a
`RateTracker` (the dashboard does): Real-time Mode commits its checkpoint rarely while
records flow. Silver's lag itself is what it has not written yet, capped by its
checkpoint's (`status/silver.py`); a reconciliation with records in flight is "pending".

Added to the original shape (docs/design.md lists them all): `healthy`, `problems` (one
sentence per unhealthy stage or source), `stages` (state ok/idle/stalled/dead/unknown,
reason, lag, rates, last batch), `reconciliation`, `kafka` (watermarks per partition),
`warehouse_info`, `last_batch`.
`lag` is `{stage: {"total": N, "topics": {topic: {partition: {end, committed, lag}}}}}`.

Raw is what the raw topic holds; clean, unique, duplicates and dead letters are the
warehouse's counts of distinct source records (view `pipeline_counts`), so Silver's re-sent
copies after a crash inflate none of them: they are reported apart as `redelivered`. Thus
`raw = clean + dead_letter` holds exactly once Silver and Gold have caught up, and
`clean = unique + duplicates` always (the reconciliation says what is still pending).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shopstream.spark.checkpoints import (
    checkpoint,
    last_progress,
    progress_log,
    query_id,
    read_checkpoint,
)
from shopstream.status.health import StageFacts, State, judge_stage
from shopstream.status.silver import (
    SOURCE as SILVER_PROGRESS,
)
from shopstream.status.silver import (
    SilverProgressCounts,
    silver_progress_counts,
    written_lag,
)
from shopstream.status.sources import (
    KafkaSnapshot,
    LiveState,
    RateTracker,
    WarehouseSnapshot,
    gold_offsets_from_batches,
    kafka_snapshot,
    query_facts,
    warehouse_snapshot,
)
from shopstream.warehouse.outage import read_outage

if TYPE_CHECKING:
    from shopstream.config import Settings
    from shopstream.warehouse.base import Warehouse

STAGES = ("silver", "gold")
# The counter whose growth is a stage's input arriving (`arrival_rate`).
_ARRIVALS = {"silver": "producer", "gold": "silver_out"}

Offsets = dict[str, dict[int, int]]


@dataclass(frozen=True)
class _Readings:
    """Everything read from the sources for one document, and the lag derived from it."""

    settings: Settings
    now: float
    kafka: KafkaSnapshot
    warehouse: WarehouseSnapshot
    input_topics: dict[str, tuple[str, ...]]
    committed_at: dict[str, float | None]  # from the checkpoint's newest commit file
    progress: dict[str, Mapping[str, Any] | None]  # the progress log's last line
    positions: dict[str, Offsets]  # what each stage committed, per topic and partition
    lag: dict[str, dict[str, Any]]
    # Silver's own counts, read only when the warehouse cannot count (status/silver.py).
    silver_counts: SilverProgressCounts | None


def build_status(
    settings: Settings,
    *,
    warehouse: Warehouse | None = None,
    warehouse_error: str | None = None,
    live: LiveState | None = None,
    kafka: KafkaSnapshot | None = None,
    tracker: RateTracker | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The status document (see module doc); `tracker` adds rates across calls."""
    now = time.time() if now is None else now
    readings = _read_sources(settings, warehouse, warehouse_error, kafka, now)
    counters = _progress_counters(readings)
    if tracker is not None:
        tracker.observe(counters)
    stages = _stages(readings, counters, live, tracker)
    outage = read_outage(settings)
    problems = _problems(stages, readings.kafka, readings.warehouse)
    if outage is not None:
        problems.insert(0, outage_sentence(outage))
    return {
        "generated_at": _iso(now),
        "healthy": not problems,
        "problems": problems,
        **_counts(readings),
        "lag": readings.lag,
        "freshness_seconds": _freshness(readings.warehouse, now),
        "stages": stages,
        "reconciliation": _reconciliation(readings),
        "kafka": _kafka_section(readings.kafka),
        "warehouse_info": _warehouse_info(readings.warehouse),
        "business_alerts": readings.warehouse.business_alerts,
        "last_batch": _jsonable(readings.warehouse.last_batch),
        "stall_seconds": settings.pipeline.stall_seconds,
        "warehouse_outage": outage,
    }


def outage_sentence(outage: Mapping[str, Any]) -> str:
    """ "warehouse unavailable since <time>: <error> (Gold retrying, attempt n)" (pure).

    Examples:
        >>> outage_sentence({"since": "2026-12-01T04:00:00+00:00", "last_error": "down",
        ...                  "attempts": 3})[:60]
        'warehouse unavailable since 2026-12-01 04:00:00 UTC: down (t'
    """
    since = datetime.fromisoformat(str(outage["since"])).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"warehouse unavailable since {since}: {outage.get('last_error')} "
        f"(the writer retries; {outage.get('attempts')} attempts)"
    )


# --------------------------------------------------------------------------- reading


def _read_sources(
    settings: Settings,
    warehouse: Warehouse | None,
    warehouse_error: str | None,
    kafka: KafkaSnapshot | None,
    now: float,
) -> _Readings:
    """Kafka, the warehouse, the checkpoints and progress logs; then each stage's lag."""
    topics = settings.kafka
    kafka = kafka if kafka is not None else kafka_snapshot(settings)
    warehouse_figures = warehouse_snapshot(warehouse, warehouse_error)
    checkpoints = {stage: read_checkpoint(checkpoint(settings, stage)) for stage in STAGES}
    positions = {stage: cp.offsets if cp else {} for stage, cp in checkpoints.items()}
    # No Gold checkpoint here (lost, or Gold runs elsewhere): its batch log says how far.
    gold_logged = warehouse_figures.ok and warehouse_figures.batches
    if not positions["gold"] and warehouse is not None and gold_logged:
        positions["gold"] = gold_offsets_from_batches(warehouse)
    input_topics = {
        "silver": (topics.raw_topic,),
        "gold": (topics.clean_topic, topics.dead_letter_topic),
    }
    lag = {
        stage: _stage_lag(
            {topic: kafka.ends(topic) for topic in input_topics[stage]}, positions[stage]
        )
        for stage in STAGES
    }
    copies = sum(warehouse_figures.redelivered.values()) if warehouse_figures.ok else 0
    lag["silver"] = written_lag(lag["silver"], kafka, _pipeline_topics(settings), copies)
    silver_counts = None
    if not warehouse_figures.ok or not warehouse_figures.batches:
        silver_counts = silver_progress_counts(
            progress_log(settings, "silver"), query_id(checkpoint(settings, "silver"))
        )
    return _Readings(
        settings=settings,
        now=now,
        kafka=kafka,
        warehouse=warehouse_figures,
        input_topics=input_topics,
        committed_at={stage: cp.committed_at if cp else None for stage, cp in checkpoints.items()},
        # Only Silver writes a progress log; Gold's batch log is `pipeline_batches`.
        progress={"silver": last_progress(progress_log(settings, "silver")), "gold": None},
        positions=positions,
        lag=lag,
        silver_counts=silver_counts,
    )


def _pipeline_topics(settings: Settings) -> tuple[str, str, str]:
    k = settings.kafka
    return (k.raw_topic, k.clean_topic, k.dead_letter_topic)


def _stage_lag(ends: Mapping[str, Mapping[int, int] | None], positions: Offsets) -> dict[str, Any]:
    """Per topic/partition end, committed and lag; total None if any end is unknown."""
    topics: dict[str, Any] = {}
    total: int | None = 0
    for topic, topic_ends in ends.items():
        if topic_ends is None:
            total = None
            continue
        committed_offsets = positions.get(topic, {})
        partitions = {}
        for partition, end in sorted(topic_ends.items()):
            committed = committed_offsets.get(partition, 0)
            behind = max(end - committed, 0)
            partitions[str(partition)] = {"end": end, "committed": committed, "lag": behind}
            if total is not None:
                total += behind
        topics[topic] = partitions
    return {"total": total, "topics": topics}


def _progress_counters(readings: _Readings) -> dict[str, int | None]:
    """Growing totals: what arrived, what each stage committed, and what each wrote."""
    kafka, topics = readings.kafka, readings.settings.kafka

    def end_total(topic: str) -> int:
        return sum((kafka.ends(topic) or {}).values())

    def committed_total(stage: str) -> int | None:
        positions = readings.positions[stage]
        if not positions:
            return None
        return sum(sum(positions.get(topic, {}).values()) for topic in readings.input_topics[stage])

    silver = committed = committed_total("silver")
    if readings.lag["silver"]["basis"] == "written":
        # Its rate from how far it wrote: Real-time Mode's commits come in 30 s steps. The
        # committed figure stays the stage's `processed` (a Prometheus counter must never
        # fall, and the written one does while Gold counts re-sent copies).
        silver = end_total(topics.raw_topic) - readings.lag["silver"]["total"]
    return {
        "producer": end_total(topics.raw_topic) if kafka.reachable else None,
        "silver": silver,
        "silver_committed": committed,
        "gold": committed_total("gold"),
        # What each stage wrote: growth means it is moving even between commits.
        "silver_out": (
            end_total(topics.clean_topic) + end_total(topics.dead_letter_topic)
            if kafka.reachable
            else None
        ),
        "gold_out": readings.warehouse.gold_input if readings.warehouse.ok else None,
    }


# --------------------------------------------------------------------------- stages


def _stages(
    readings: _Readings,
    counters: Mapping[str, int | None],
    live: LiveState | None,
    tracker: RateTracker | None,
) -> dict[str, Any]:
    """One entry per stage (the in-process producer first, when there is one)."""
    stages = {stage: _stage(stage, readings, counters, live, tracker) for stage in STAGES}
    if live is not None and live.producer is not None:
        stages = {"producer": _producer_stage(live, tracker)} | stages
    return stages


def _stage(
    stage: str,
    readings: _Readings,
    counters: Mapping[str, int | None],
    live: LiveState | None,
    tracker: RateTracker | None,
) -> dict[str, Any]:
    """A stage's verdict, lag, rates and last batch."""
    query = query_facts(live, stage)
    figures = _batch_figures(stage, readings, query.progress)
    last_at = _last_progress_at(stage, readings, tracker)
    running_for = _age(live.started_at, readings.now) if live is not None else None
    facts = StageFacts(
        readings.lag[stage]["total"],
        _age(last_at, readings.now),
        running_for,
        query.active,
        query.error,
    )
    verdict = judge_stage(facts, readings.settings.pipeline.stall_seconds)
    entry = {
        "state": verdict.state,
        "healthy": verdict.healthy,
        "reason": verdict.reason,
        "input_topics": list(readings.input_topics[stage]),
        "lag": readings.lag[stage]["total"],
        "processed": counters.get(f"{stage}_committed", counters[stage]),
        "last_progress_at": _iso(last_at),
        "last_progress_age_seconds": facts.last_progress_age,
        "live": query.active is not None,
        "input_rate": tracker.rate(stage) if tracker else None,
        # How fast input arrives: above input_rate for long means the lag grows.
        "arrival_rate": tracker.rate(_ARRIVALS[stage]) if tracker else None,
    }
    return entry | {key: value for key, value in figures.items() if value is not None}


def _batch_figures(
    stage: str, readings: _Readings, live_progress: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Rates and last batch from the live query or the progress log; Gold's from its batch log."""
    figures = _progress_figures(live_progress or readings.progress[stage])
    last_batch = readings.warehouse.last_batch
    if stage == "gold" and last_batch:
        figures.setdefault("batch_id", last_batch["batch_id"])
        figures["last_batch_ms"] = last_batch["duration_ms"]
    return figures


def _progress_figures(progress: Mapping[str, Any] | None) -> dict[str, Any]:
    """Rates and batch duration from a Spark progress document."""
    if not progress:
        return {}
    duration = (progress.get("durationMs") or {}).get("triggerExecution")
    return {
        "batch_id": progress.get("batchId"),
        "spark_input_rate": progress.get("inputRowsPerSecond"),
        "spark_processed_rate": progress.get("processedRowsPerSecond"),
        "last_batch_ms": duration,
        "observed_metrics": progress.get("observedMetrics") or None,
    }


def _last_progress_at(stage: str, readings: _Readings, tracker: RateTracker | None) -> float | None:
    """Epoch seconds of the stage's newest sign of progress, None if never seen."""
    last_at = readings.committed_at[stage]
    if stage == "gold":
        last_at = _latest(last_at, _epoch(readings.warehouse.last_commit_at))
    elif (progress := readings.progress[stage]) is not None:
        last_at = _latest(last_at, progress.get("_mtime"))
    if tracker is not None and (moved := tracker.changed_at(f"{stage}_out")) is not None:
        # Real-time mode commits rarely; its position moving is progress too.
        last_at = _latest(last_at, readings.now - (time.monotonic() - moved))
    return last_at


def _producer_stage(live: LiveState, tracker: RateTracker | None) -> dict[str, Any]:
    """The in-process generator's counters as a stage entry."""
    assert live.producer is not None
    try:
        counters = dict(live.producer())
    except Exception as err:  # a broken counter callback must not break status
        counters = {"error": f"producer counters unavailable: {err}"}
    error = counters.get("error")
    state: State = "dead" if error else "ok"
    return {
        "state": state,
        "healthy": not error,
        "reason": str(error) if error else "producing",
        "input_rate": tracker.rate("producer") if tracker else None,
        "counters": _jsonable(counters),
    }


def _problems(
    stages: Mapping[str, Any], kafka: KafkaSnapshot, warehouse: WarehouseSnapshot
) -> list[str]:
    """One sentence per unhealthy stage or source."""
    # With Kafka unreachable every stage is "unknown"; one line says why.
    problems = [
        f"{name} {entry['state']}: {entry['reason']}"
        for name, entry in stages.items()
        if not entry["healthy"] and not (entry["state"] == "unknown" and not kafka.reachable)
    ]
    if not kafka.reachable:
        problems.insert(0, f"kafka unreachable: {kafka.error}")
    elif kafka.degraded:
        problems.insert(0, f"kafka degraded: {kafka.degraded}")
    if not warehouse.ok:
        problems.append(f"warehouse unavailable: {warehouse.error}")
    return problems


# --------------------------------------------------------------------------- sections


def _record_counts(readings: _Readings) -> tuple[int | None, int | None, int | None]:
    """Raw records (raw topic), and clean and dead-letter ones counted once (warehouse), or
    Silver's own counts where the warehouse has none (`_counts_source` says which)."""
    raw = readings.kafka.messages(readings.settings.kafka.raw_topic)
    if _counts_source(readings) == SILVER_PROGRESS:
        assert readings.silver_counts is not None
        return raw, readings.silver_counts.clean, readings.silver_counts.dead_letter
    if not readings.warehouse.ok:
        return raw, None, None
    return raw, readings.warehouse.clean, readings.warehouse.dead_letter


def _counts_source(readings: _Readings) -> str | None:
    """Where `clean` and `dead_letter` come from: the warehouse, or Silver's progress log
    when the warehouse cannot count them (Silver ran alone) and Silver logged the split."""
    silver = readings.silver_counts
    if silver is not None and silver.clean is not None:
        return SILVER_PROGRESS
    return "warehouse" if readings.warehouse.ok else None


def _counts(readings: _Readings) -> dict[str, Any]:
    """The contract's counts (raw, clean, dead letters by reason, duplicates, unique, tables)
    and `redelivered`, the copies Silver re-sent after a crash, counted nowhere else."""
    raw, clean, dead_letter = _record_counts(readings)
    warehouse = readings.warehouse
    source = _counts_source(readings)
    reasons = warehouse.dead_letters_by_reason
    if source == SILVER_PROGRESS and readings.silver_counts is not None:
        reasons = readings.silver_counts.by_reason
    by_reason = sorted(reasons.items(), key=lambda item: -item[1])
    silver = readings.silver_counts
    return {
        "raw": raw,
        "clean": clean,
        "dead_letter": {"total": dead_letter, "by_reason": dict(by_reason), "source": source},
        "counts_source": source,
        # Silver's own counts whenever they were read (the warehouse had none to give).
        "silver_progress": silver.as_dict() if silver is not None else None,
        "duplicates": warehouse.duplicates,
        "unique": warehouse.unique,
        "redelivered": sum(warehouse.redelivered.values()),
        "warehouse": warehouse.tables,
    }


def _freshness(warehouse: WarehouseSnapshot, now: float) -> float | None:
    """Seconds from the newest event in the warehouse to now."""
    if warehouse.newest_event is None:
        return None
    return max(now - (_epoch(warehouse.newest_event) or now), 0.0)


def _reconciliation(readings: _Readings) -> dict[str, Any]:
    """`raw = clean + dead_letter` (Silver) and `clean = unique + duplicates` (Gold)."""
    raw, clean, dead_letter = _record_counts(readings)
    warehouse = readings.warehouse
    gold_clean_lag = readings.lag["gold"]["topics"].get(readings.settings.kafka.clean_topic)
    clean_pending = (
        sum(partition["lag"] for partition in gold_clean_lag.values()) if gold_clean_lag else None
    )
    silver_lag, gold_lag = readings.lag["silver"]["total"], readings.lag["gold"]["total"]
    # Clean and dead letters are counted in the warehouse: a raw record is pending until
    # Silver and then Gold have passed it (the figure counts copies, an upper bound).
    # From Silver's own counts only Silver's lag is pending.
    pending = None if silver_lag is None or gold_lag is None else silver_lag + gold_lag
    if _counts_source(readings) == SILVER_PROGRESS:
        pending = silver_lag
    unique = warehouse.unique if warehouse.ok else None
    duplicates = warehouse.duplicates if warehouse.ok else None
    silver_holds, silver_state = _verdict(_minus(raw, clean, dead_letter or 0), pending)
    gold_holds, gold_state = _verdict(_minus(clean, unique, duplicates), clean_pending)
    return {
        "silver": {
            "raw": raw,
            "clean": clean,
            "dead_letter": dead_letter,
            # Silver's re-sent copies (clean and dead letters): a crash happened, nothing
            # was counted twice.
            "redelivered": sum(warehouse.redelivered.values()),
            "pending": pending,
            "holds": silver_holds,
            "state": silver_state,
        },
        "gold": {
            "clean": clean,
            "unique": unique,
            "duplicates": duplicates,
            "redelivered": warehouse.redelivered.get("clean"),
            "pending": clean_pending,
            "holds": gold_holds,
            "state": gold_state,
        },
    }


def _minus(total: int | None, *parts: int | None) -> int | None:
    """`total` minus `parts`, None when any is unknown."""
    if total is None or any(part is None for part in parts):
        return None
    return total - sum(part for part in parts if part is not None)


def _verdict(missing: int | None, pending: int | None) -> tuple[bool | None, str]:
    """(holds, state) of one equation: `missing` = left side minus right side.

    Records in flight (`pending` > 0) make the sides differ while nothing is wrong, so
    the verdict waits ("pending", holds None); "fails" (holds False) only once nothing
    is pending and the sides still differ.

    Examples:
        >>> _verdict(24_674, 24_674), _verdict(0, 0), _verdict(3, 0), _verdict(None, 0)
        ((None, 'pending'), (True, 'holds'), (False, 'fails'), (None, 'unknown'))
    """
    if missing is None or pending is None:
        return None, "unknown"
    if pending > 0:
        return None, "pending"
    return (True, "holds") if missing == 0 else (False, "fails")


def _kafka_section(kafka: KafkaSnapshot) -> dict[str, Any]:
    """Reachability and watermarks per topic and partition."""
    return {
        "reachable": kafka.reachable,
        "bootstrap": kafka.bootstrap,
        "error": kafka.error,
        "degraded": kafka.degraded,
        "topics": {
            topic: {
                "messages": kafka.messages(topic),
                "partitions": {
                    str(partition): {"low": low, "high": high}
                    for partition, (low, high) in watermarks.items()
                },
            }
            for topic, watermarks in kafka.topics.items()
        },
    }


def _warehouse_info(warehouse: WarehouseSnapshot) -> dict[str, Any]:
    """Which warehouse, whether it answered, and Gold's batch totals."""
    last_commit_at = warehouse.last_commit_at
    return {
        "ok": warehouse.ok,
        "kind": warehouse.kind,
        "target": warehouse.target,
        "error": warehouse.error,
        "batches": warehouse.batches,
        "batch_seconds_total": warehouse.batch_seconds,
        "last_commit_at": last_commit_at.isoformat() if last_commit_at else None,
    }


# --------------------------------------------------------------------------- values


def _latest(*times: float | None) -> float | None:
    """The newest of some epoch times, ignoring unknown ones."""
    return max(filter(None, times), default=None)


def _age(timestamp: float | None, now: float) -> float | None:
    return None if timestamp is None else max(now - timestamp, 0.0)


def _epoch(moment: datetime | None) -> float | None:
    """A naive-UTC warehouse timestamp as epoch seconds."""
    if moment is None:
        return None
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).timestamp()


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def _jsonable(value: Any) -> Any:
    """Decimals, datetimes and nested containers as plain JSON values, every digit kept.

    Examples:
        >>> _jsonable({"n": Decimal("12"), "money": Decimal("9999999999999999.99")})
        {'n': 12, 'money': '9999999999999999.99'}
    """
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        # Snowflake returns counts as NUMBER(38,0); a float would round them past 2^53.
        return int(value) if value == value.to_integral_value() else f"{value:f}"
    if isinstance(value, datetime):
        return value.isoformat()
    return value
