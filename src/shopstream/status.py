"""The pipeline status document: counts, lag, freshness, reconciliation and stage health.

One function, `build_status`, assembles the `status --json` document (shape in DESIGN.md;
extend, don't rename) from real sources only:

- Kafka watermarks of the raw, clean and dead-letter topics (messages and end offsets);
- each stage's Spark checkpoint (`<home>/checkpoints/<stage>`): the newest *committed*
  batch's offsets say how far the stage got, the commit file's mtime says when;
- `<home>/metrics/<stage>.jsonl` (Spark progress lines a stage may append) for rates and
  batch durations when no live query is at hand;
- the warehouse: table counts, `pipeline_batches` (duplicates, durations, last commit),
  dead letters by reason, the newest event (freshness);
- optionally a `LiveState`: the StreamingQuery objects of the process that runs them
  (`shopstream up`), so a query that died is reported at once, not after a stall timeout.

Health is a pure function of those facts (`judge_stage`): a stage is *stalled* when input
is waiting for it and it has not committed for `pipeline.stall_seconds`; *dead* when its
live query terminated. A pipeline that looks healthy while not moving is the worst failure
a user can meet, so anything unknown (Kafka unreachable) is reported as not healthy.

The stall clock starts at the stage's last commit, or at the live queries' start if that
is later (a pipeline resuming over a backlog is starting, not stalled). Between commits,
growth of what a stage writes (clean + dead-letter end offsets for Silver) also counts as
progress when the caller keeps a `RateTracker` (the dashboard does): Real-time Mode
commits its checkpoint rarely while records flow.

Added to the DESIGN.md shape: `healthy`, `problems` (one sentence per unhealthy stage or
source), `stages` (state ok/idle/stalled/dead/unknown, reason, lag, rates, last batch),
`reconciliation`, `kafka` (watermarks per partition), `warehouse_info`, `last_batch`.
`lag` is `{stage: {"total": N, "topics": {topic: {partition: {end, committed, lag}}}}}`.

Duplicates are the sum of `pipeline_batches.duplicates` (what Gold counted and dropped) and
unique is the row count of `silver_events`, so `clean = unique + duplicates` holds exactly
once Gold has caught up with the clean topic.

Examples:
    >>> judge_stage(StageFacts(lag=0, last_progress_age=3.0), stall_seconds=30).state
    'ok'
    >>> judge_stage(StageFacts(lag=10, last_progress_age=60.0), stall_seconds=30).state
    'stalled'
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from shopstream.config import Settings
    from shopstream.warehouse.base import Warehouse

State = Literal["ok", "idle", "stalled", "dead", "unknown"]
STATES: tuple[State, ...] = ("ok", "idle", "stalled", "dead", "unknown")
HEALTHY_STATES = frozenset({"ok", "idle"})
STAGES = ("silver", "gold")
_KAFKA_TIMEOUT_S = 2.0


# --------------------------------------------------------------------------- live state


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


# --------------------------------------------------------------------------- stall rule


@dataclass(frozen=True)
class StageFacts:
    """What is known about one stage at one moment; None = not known."""

    lag: int | None
    last_progress_age: float | None = None
    running_for: float | None = None
    active: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class StageHealth:
    """A stage's verdict: state and a sentence saying why."""

    state: State
    reason: str

    @property
    def healthy(self) -> bool:
        """Whether this state is fine for a user (moving, or nothing to do)."""
        return self.state in HEALTHY_STATES


def judge_stage(facts: StageFacts, stall_seconds: float) -> StageHealth:
    """The stall rule: stalled = input waiting and no commit for `stall_seconds`."""
    if facts.error:
        return StageHealth("dead", f"query terminated with an error: {facts.error}")
    if facts.active is False:
        return StageHealth("dead", "query is not running (stopped)")
    if facts.lag is None:
        return StageHealth("unknown", "input offsets unknown (Kafka unreachable)")
    age = facts.last_progress_age
    if facts.lag > 0:
        # The stall clock runs from the last commit, or from the live queries' start if
        # that is later: a pipeline resuming over a backlog is starting, not stalled.
        known = [x for x in (age, facts.running_for) if x is not None]
        quiet = min(known) if known else None
        if quiet is None:
            return StageHealth(
                "stalled", f"{facts.lag:,} records waiting and no batch was ever committed"
            )
        if quiet >= stall_seconds:
            return StageHealth(
                "stalled",
                f"{facts.lag:,} records waiting, no commit for {quiet:.0f}s "
                f"(limit {stall_seconds:g}s)",
            )
        return StageHealth("ok", f"processing, {facts.lag:,} records behind")
    if age is not None and age < stall_seconds:
        return StageHealth("ok", "caught up")
    return StageHealth("idle", "caught up, no new input")


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class CheckpointProgress:
    """The newest committed batch of a Structured Streaming checkpoint."""

    batch_id: int
    offsets: dict[str, dict[int, int]]
    committed_at: float


def read_checkpoint(path: Path) -> CheckpointProgress | None:
    """Offsets (topic -> partition -> next offset) of the newest committed batch, or None."""
    commits = _batch_files(path / "commits")
    for batch_id in sorted(commits, reverse=True):
        offsets = _read_offsets(path / "offsets" / str(batch_id))
        if offsets is not None:
            with contextlib.suppress(OSError):
                return CheckpointProgress(batch_id, offsets, commits[batch_id].stat().st_mtime)
    return None


def _batch_files(d: Path) -> dict[int, Path]:
    try:
        return {int(p.name): p for p in d.iterdir() if p.name.isdigit()}
    except OSError:
        return {}


def _read_offsets(path: Path) -> dict[str, dict[int, int]] | None:
    """Parse an `offsets/<id>` file: "v1", metadata JSON, then one JSON line per source."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    out: dict[str, dict[int, int]] = {}
    for line in lines[2:]:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            for topic, parts in json.loads(line).items():
                out.setdefault(topic, {}).update({int(p): int(o) for p, o in parts.items()})
    return out


def read_progress_log(path: Path) -> dict[str, Any] | None:
    """The last Spark progress line of `<home>/metrics/<stage>.jsonl`, with the file mtime."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65536))
            tail = f.read().splitlines()
        mtime = path.stat().st_mtime
    except OSError:
        return None
    for line in reversed(tail):
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if isinstance(doc, dict):
                return doc | {"_mtime": mtime}
    return None


def parse_offsets(value: Any) -> dict[str, dict[int, int]]:
    """Offsets as `{topic: {partition: offset}}` from a JSON string or dict; {} if unusable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, dict):
        return {}
    out: dict[str, dict[int, int]] = {}
    for topic, parts in value.items():
        if isinstance(parts, dict):
            with contextlib.suppress(ValueError, TypeError):
                out[topic] = {int(p): int(o) for p, o in parts.items()}
    return out


# --------------------------------------------------------------------------- kafka


@dataclass
class KafkaSnapshot:
    """Watermarks of the pipeline topics, or why they could not be read."""

    reachable: bool
    bootstrap: str | None = None
    error: str | None = None
    topics: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)

    def messages(self, topic: str) -> int | None:
        """Messages retained in a topic (None when unknown)."""
        if not self.reachable or topic not in self.topics:
            return None
        return sum(hi - lo for lo, hi in self.topics[topic].values())

    def ends(self, topic: str) -> dict[int, int] | None:
        """Partition -> end offset (None when unknown)."""
        if not self.reachable or topic not in self.topics:
            return None
        return {p: hi for p, (_, hi) in self.topics[topic].items()}


def kafka_snapshot(settings: Settings) -> KafkaSnapshot:
    """Read the three topics' watermarks; an unreachable broker is a state, not an error."""
    from shopstream.errors import ShopstreamError
    from shopstream.infra.kafka import bootstrap_servers, watermarks

    try:
        bootstrap = bootstrap_servers(settings)
    except ShopstreamError as err:
        return KafkaSnapshot(False, error=str(err))
    if not _any_listening(bootstrap):
        return KafkaSnapshot(False, bootstrap, f"no broker answers at {bootstrap}")
    k = settings.kafka
    snap = KafkaSnapshot(True, bootstrap)
    try:
        for topic in (k.raw_topic, k.clean_topic, k.dead_letter_topic):
            snap.topics[topic] = watermarks(settings, topic, bootstrap)
    except Exception as err:  # a broker dying mid-read is a state too
        return KafkaSnapshot(False, bootstrap, f"reading offsets failed: {err}")
    return snap


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
        from shopstream.errors import ShopstreamError
        from shopstream.infra.kafka import bootstrap_servers

        with self._lock:
            try:
                bootstrap = bootstrap_servers(self.settings)
            except ShopstreamError as err:
                self.close()
                return KafkaSnapshot(False, error=str(err))
            if not _any_listening(bootstrap):
                self.close()
                return KafkaSnapshot(False, bootstrap, f"no broker answers at {bootstrap}")
            try:
                return self._read(bootstrap)
            except Exception as err:  # a broker dying mid-read is a state too
                self.close()
                return KafkaSnapshot(False, bootstrap, f"reading offsets failed: {err}")

    def _read(self, bootstrap: str) -> KafkaSnapshot:
        from confluent_kafka import Consumer, TopicPartition

        from shopstream.infra.kafka import client_config

        if self._consumer is None or self._bootstrap != bootstrap:
            self.close()
            conf = client_config(self.settings, bootstrap) | {
                "group.id": "shopstream-status-probe",
                "enable.auto.commit": False,
                "log_level": 3,
            }
            self._consumer, self._bootstrap = Consumer(conf), bootstrap
        k = self.settings.kafka
        snap = KafkaSnapshot(True, bootstrap)
        for topic in (k.raw_topic, k.clean_topic, k.dead_letter_topic):
            md = self._consumer.list_topics(topic, timeout=_KAFKA_TIMEOUT_S).topics.get(topic)
            if md is None or md.error is not None:
                snap.topics[topic] = {}
                continue
            snap.topics[topic] = {
                p: tuple(
                    self._consumer.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=_KAFKA_TIMEOUT_S, cached=False
                    )
                )
                for p in sorted(md.partitions)
            }
        return snap

    def close(self) -> None:
        """Drop the consumer (idempotent)."""
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._consumer.close()
            self._consumer = None


def _any_listening(bootstrap: str) -> bool:
    """A TCP probe: librdkafka would wait out its whole timeout on a dead address."""
    from shopstream.infra.ports import is_listening

    hosts = [h.rsplit(":", 1) for h in bootstrap.split(",") if ":" in h]
    return not hosts or any(is_listening(h, int(p), timeout=_KAFKA_TIMEOUT_S) for h, p in hosts)


# --------------------------------------------------------------------------- warehouse


@dataclass
class WarehouseSnapshot:
    """Figures read from the warehouse in one go."""

    ok: bool
    kind: str | None = None
    target: str | None = None
    error: str | None = None
    tables: dict[str, int] = field(default_factory=dict)
    unique: int = 0
    gold_input: int = 0
    duplicates: int = 0
    batches: int = 0
    batch_seconds: float = 0.0
    last_batch: dict[str, Any] | None = None
    last_commit_at: datetime | None = None
    gold_offsets: dict[str, dict[int, int]] = field(default_factory=dict)
    dead_letters_by_reason: dict[str, int] = field(default_factory=dict)
    newest_event: datetime | None = None


def warehouse_snapshot(wh: Warehouse | None, error: str | None = None) -> WarehouseSnapshot:
    """Counts, Gold's batch log and freshness from the warehouse; never raises."""
    from shopstream.errors import ShopstreamError

    if wh is None:
        return WarehouseSnapshot(False, error=error or "no warehouse")
    snap = WarehouseSnapshot(True, wh.kind, wh.target())
    try:
        snap.tables = wh.table_counts()
        snap.unique = snap.tables.get("silver_events", 0)
        (agg,) = wh.query(
            "SELECT COUNT(*) AS batches, COALESCE(SUM(input_rows), 0) AS input_rows, "
            "COALESCE(SUM(duplicates), 0) AS duplicates, "
            "COALESCE(SUM(duration_ms), 0) AS duration_ms, "
            "MAX(COALESCE(last_replayed_at, committed_at)) AS last_commit_at "
            "FROM pipeline_batches"
        )
        snap.batches = int(agg["batches"])
        snap.gold_input = int(agg["input_rows"])
        snap.duplicates = int(agg["duplicates"])
        snap.batch_seconds = float(agg["duration_ms"]) / 1000.0
        snap.last_commit_at = agg["last_commit_at"]
        last = wh.query(
            "SELECT query_name, batch_id, input_rows, new_events, duplicates, dead_letters, "
            "new_dead_letters, committed_at, duration_ms, commit_ms, end_offsets "
            "FROM pipeline_batches ORDER BY committed_at DESC, batch_id DESC LIMIT 1"
        )
        snap.last_batch = last[0] if last else None
        snap.dead_letters_by_reason = {
            r["reason"]: int(r["dead_letters"])
            for r in wh.query("SELECT reason, dead_letters FROM dead_letter_counts")
        }
        (newest,) = wh.query("SELECT MAX(event_timestamp) AS newest FROM silver_events")
        snap.newest_event = newest["newest"]
    except ShopstreamError as err:
        snap.ok, snap.error = False, str(err)
    return snap


def gold_offsets_from_batches(wh: Warehouse) -> dict[str, dict[int, int]]:
    """Gold's position per topic/partition from `pipeline_batches` (no checkpoint at hand)."""
    out: dict[str, dict[int, int]] = {}
    for row in wh.query("SELECT end_offsets FROM pipeline_batches WHERE end_offsets IS NOT NULL"):
        for topic, parts in parse_offsets(row["end_offsets"]).items():
            dst = out.setdefault(topic, {})
            for p, o in parts.items():
                dst[p] = max(dst.get(p, 0), o)
    return out


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
        known = {k: int(v) for k, v in counters.items() if v is not None}
        with self._lock:
            self._samples.append((now, known))
            # Keep one sample older than the window so the rate spans the whole window.
            while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
                self._samples.popleft()

    def rate(self, name: str) -> float | None:
        """Growth per second of `name` over the window; None without two samples."""
        with self._lock:
            pts = [(t, c[name]) for t, c in self._samples if name in c]
        if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
            return None
        return max(0.0, (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0]))

    def changed_at(self, name: str) -> float | None:
        """Monotonic time of the newest sample in which `name` grew, if seen in the window."""
        with self._lock:
            pts = [(t, c[name]) for t, c in self._samples if name in c]
        for (_, before), (t, after) in zip(reversed(pts[:-1]), reversed(pts[1:]), strict=True):
            if after > before:
                return t
        return None


# --------------------------------------------------------------------------- assembly


def _lag(
    ends: Mapping[str, Mapping[int, int] | None], done: Mapping[str, Mapping[int, int]]
) -> dict[str, Any]:
    """Per topic/partition end, committed and lag; total None if any end is unknown."""
    topics: dict[str, Any] = {}
    total: int | None = 0
    for topic, topic_ends in ends.items():
        if topic_ends is None:
            total = None
            continue
        committed = done.get(topic, {})
        parts = {}
        for p, end in sorted(topic_ends.items()):
            c = committed.get(p, 0)
            parts[str(p)] = {"end": end, "committed": c, "lag": max(end - c, 0)}
            if total is not None:
                total += max(end - c, 0)
        topics[topic] = parts
    return {"total": total, "topics": topics}


def _query_facts(live: LiveState | None, stage: str) -> tuple[bool | None, str | None, Any]:
    """(isActive, error text, lastProgress) of the live query, all None without one."""
    q = live.queries.get(stage) if live else None
    if q is None:
        return None, None, None
    try:
        active = bool(q.isActive)
        exc = None if active else q.exception()
        progress = q.lastProgress
    except Exception as err:  # the JVM gateway itself failing is a dead query too
        return False, f"cannot reach the query: {err}", None
    error = None
    if exc is not None:
        error = str(getattr(exc, "desc", exc)).strip().splitlines()[0][:300]
    return active, error, progress


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


def _age(ts: float | None, now: float) -> float | None:
    return None if ts is None else max(now - ts, 0.0)


def _epoch(dt: datetime | None) -> float | None:
    """A naive-UTC warehouse timestamp as epoch seconds."""
    if dt is None:
        return None
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).timestamp()


def _total(offsets: Mapping[str, Mapping[int, int]], topics: tuple[str, ...]) -> int:
    return sum(sum(offsets.get(t, {}).values()) for t in topics)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


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
    k = settings.kafka
    kafka = kafka if kafka is not None else kafka_snapshot(settings)
    wh = warehouse_snapshot(warehouse, warehouse_error)
    stall = settings.pipeline.stall_seconds

    raw, clean, dlq_total = (
        kafka.messages(t) for t in (k.raw_topic, k.clean_topic, k.dead_letter_topic)
    )
    by_reason = dict(sorted(wh.dead_letters_by_reason.items(), key=lambda kv: -kv[1]))

    ckpt = {s: read_checkpoint(settings.checkpoint_dir / s) for s in STAGES}
    logs = {s: read_progress_log(settings.state_dir / "metrics" / f"{s}.jsonl") for s in STAGES}
    gold_done = ckpt["gold"].offsets if ckpt["gold"] else {}
    if not gold_done and warehouse is not None and wh.ok and wh.batches:
        gold_done = gold_offsets_from_batches(warehouse)
    inputs = {"silver": (k.raw_topic,), "gold": (k.clean_topic, k.dead_letter_topic)}
    done = {"silver": ckpt["silver"].offsets if ckpt["silver"] else {}, "gold": gold_done}
    lag = {s: _lag({t: kafka.ends(t) for t in inputs[s]}, done[s]) for s in STAGES}

    counters = {
        "producer": sum((kafka.ends(k.raw_topic) or {}).values()) if kafka.reachable else None,
        "silver": _total(done["silver"], inputs["silver"]) if done["silver"] else None,
        "gold": _total(done["gold"], inputs["gold"]) if done["gold"] else None,
        # What each stage wrote: growth means it is moving even between commits.
        "silver_out": (
            sum((kafka.ends(k.clean_topic) or {}).values())
            + sum((kafka.ends(k.dead_letter_topic) or {}).values())
            if kafka.reachable
            else None
        ),
        "gold_out": wh.gold_input if wh.ok else None,
    }
    if tracker is not None:
        tracker.observe(counters)

    arrivals = {"silver": "producer", "gold": "silver_out"}
    stages: dict[str, Any] = {}
    for s in STAGES:
        active, error, progress = _query_facts(live, s)
        log = logs[s]
        figures = _progress_figures(progress or log)
        last = ckpt[s].committed_at if ckpt[s] else None
        if s == "gold":
            last = max(filter(None, (last, _epoch(wh.last_commit_at))), default=None)
            if wh.last_batch:
                figures.setdefault("batch_id", wh.last_batch["batch_id"])
                figures["last_batch_ms"] = wh.last_batch["duration_ms"]
        elif log is not None:
            last = max(filter(None, (last, log.get("_mtime"))), default=None)
        if tracker is not None and (moved := tracker.changed_at(f"{s}_out")) is not None:
            # Real-time mode commits rarely; its position moving is progress too.
            last = max(filter(None, (last, now - (time.monotonic() - moved))), default=None)
        running_for = _age(live.started_at, now) if live is not None else None
        facts = StageFacts(lag[s]["total"], _age(last, now), running_for, active, error)
        verdict = judge_stage(facts, stall)
        stages[s] = {
            "state": verdict.state,
            "healthy": verdict.healthy,
            "reason": verdict.reason,
            "input_topics": list(inputs[s]),
            "lag": lag[s]["total"],
            "processed": counters[s],
            "last_progress_at": _iso(last),
            "last_progress_age_seconds": facts.last_progress_age,
            "live": active is not None,
            "input_rate": tracker.rate(s) if tracker else None,
            # How fast input arrives: above input_rate for long means the lag grows.
            "arrival_rate": tracker.rate(arrivals[s]) if tracker else None,
        } | {key: v for key, v in figures.items() if v is not None}
    if live is not None and live.producer is not None:
        stages = {"producer": _producer_stage(live, tracker)} | stages

    # With Kafka unreachable every stage is "unknown"; one line says why.
    problems = [
        f"{n} {st['state']}: {st['reason']}"
        for n, st in stages.items()
        if not st["healthy"] and not (st["state"] == "unknown" and not kafka.reachable)
    ]
    if not kafka.reachable:
        problems.insert(0, f"kafka unreachable: {kafka.error}")
    if not wh.ok:
        problems.append(f"warehouse unavailable: {wh.error}")

    freshness = None
    if wh.newest_event is not None:
        freshness = max(now - (_epoch(wh.newest_event) or now), 0.0)
    gold_clean_pending = lag["gold"]["topics"].get(k.clean_topic)
    pending_clean = (
        sum(p["lag"] for p in gold_clean_pending.values()) if gold_clean_pending else None
    )
    return {
        "generated_at": _iso(now),
        "healthy": not problems,
        "problems": problems,
        "raw": raw,
        "clean": clean,
        "dead_letter": {"total": dlq_total, "by_reason": by_reason},
        "duplicates": wh.duplicates,
        "unique": wh.unique,
        "warehouse": wh.tables,
        "lag": {s: lag[s] for s in STAGES},
        "freshness_seconds": freshness,
        "stages": stages,
        "reconciliation": {
            "silver": {
                "raw": raw,
                "clean": clean,
                "dead_letter": dlq_total,
                "pending": lag["silver"]["total"],
                "holds": None if raw is None else raw == (clean or 0) + (dlq_total or 0),
            },
            "gold": {
                "clean": clean,
                "unique": wh.unique,
                "duplicates": wh.duplicates,
                "pending": pending_clean,
                "holds": None if clean is None else clean == wh.unique + wh.duplicates,
            },
        },
        "kafka": {
            "reachable": kafka.reachable,
            "bootstrap": kafka.bootstrap,
            "error": kafka.error,
            "topics": {
                t: {
                    "messages": kafka.messages(t),
                    "partitions": {str(p): {"low": lo, "high": hi} for p, (lo, hi) in m.items()},
                }
                for t, m in kafka.topics.items()
            },
        },
        "warehouse_info": {
            "ok": wh.ok,
            "kind": wh.kind,
            "target": wh.target,
            "error": wh.error,
            "batches": wh.batches,
            "batch_seconds_total": wh.batch_seconds,
            "last_commit_at": wh.last_commit_at.isoformat() if wh.last_commit_at else None,
        },
        "last_batch": _jsonable(wh.last_batch),
        "stall_seconds": stall,
    }


def _producer_stage(live: LiveState, tracker: RateTracker | None) -> dict[str, Any]:
    """The in-process generator's counters as a stage entry."""
    assert live.producer is not None
    try:
        counters = dict(live.producer())
    except Exception as err:  # a broken counter callback must not break status
        counters = {"error": f"producer counters unavailable: {err}"}
    error = counters.get("error")
    state: State = "dead" if error else "ok"
    reason = str(error) if error else "producing"
    return {
        "state": state,
        "healthy": not error,
        "reason": reason,
        "input_rate": tracker.rate("producer") if tracker else None,
        "counters": _jsonable(counters),
    }


def _jsonable(value: Any) -> Any:
    """Decimals, datetimes and nested containers as plain JSON values."""
    from decimal import Decimal

    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def open_status_warehouse(settings: Settings) -> tuple[Warehouse | None, str | None]:
    """Open the warehouse read-only for a one-shot status; (None, why) when it can't."""
    from shopstream.errors import ShopstreamError
    from shopstream.warehouse import open_warehouse

    try:
        return open_warehouse(settings, read_only=True), None
    except ShopstreamError as err:
        return None, str(err)
