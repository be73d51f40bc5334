"""Silver's per-batch counters: from a Spark progress dict to plain, documented numbers.

The job attaches `DataFrame.observe(OBSERVATION, ...)` to its output (micro-batch mode
only: Real-time Mode does not support `observe`), so every progress (`query.lastProgress`,
or a line of Silver's progress log, `spark.checkpoints.progress_log`) carries
`observedMetrics.silver = {input, clean, dead_letter, dead_letter_<reason>...}`.
`batch_counters` turns one progress into `BatchCounters`; `read_totals` sums the log of a
home (the benchmark and the tests read it; `shopstream status` takes only the last line).

Counter names (`BatchCounters.as_counters`), stable for dashboards:
    silver_input_events           records read from raw_events in the batch
    silver_clean_events           records written to clean_events
    silver_dead_letter_events     records written to dead_letter (all reasons)
    silver_dead_letter_events_<reason>   per reason code (every code, zeros included)
    silver_batch_duration_seconds wall time of the batch (trigger execution)
    silver_input_rate             input rows/s as Spark reports it (arrival rate)
    silver_processing_rate        processed rows/s (rows / batch time)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shopstream.config import Settings
from shopstream.contract import REASONS
from shopstream.spark.checkpoints import progress_log, read_progress

OBSERVATION = "silver"
METRIC_INPUT = "input"
METRIC_CLEAN = "clean"
METRIC_DEAD_LETTER = "dead_letter"
REASON_PREFIX = "dead_letter_"


@dataclass(frozen=True)
class BatchCounters:
    """One micro-batch of Silver, as counters."""

    batch_id: int
    timestamp: str
    input: int
    clean: int
    dead_letter: int
    by_reason: dict[str, int]
    duration_seconds: float
    input_rate: float
    processing_rate: float

    def as_counters(self) -> dict[str, float]:
        """Flat `silver_*` names -> values (see the module docstring)."""
        out: dict[str, float] = {
            "silver_input_events": self.input,
            "silver_clean_events": self.clean,
            "silver_dead_letter_events": self.dead_letter,
            "silver_batch_duration_seconds": self.duration_seconds,
            "silver_input_rate": self.input_rate,
            "silver_processing_rate": self.processing_rate,
        }
        for reason in REASONS:
            out[f"silver_dead_letter_events_{reason}"] = self.by_reason.get(reason, 0)
        return out


def batch_counters(progress: Mapping[str, Any]) -> BatchCounters:
    """Counters of one StreamingQueryProgress (as a dict, e.g. `json.loads(progress.json)`).

    Without observed metrics (an empty batch, or Real-time Mode) everything read counts as
    input and the split is zero.
    """
    observed = (progress.get("observedMetrics") or {}).get(OBSERVATION) or {}
    n_in = int(observed.get(METRIC_INPUT, progress.get("numInputRows", 0)) or 0)
    by_reason = {
        r: int(observed.get(REASON_PREFIX + r, 0) or 0)
        for r in REASONS
        if observed.get(REASON_PREFIX + r)
    }
    duration_ms = (progress.get("durationMs") or {}).get("triggerExecution", 0) or 0
    return BatchCounters(
        batch_id=int(progress.get("batchId", -1)),
        timestamp=str(progress.get("timestamp", "")),
        input=n_in,
        clean=int(observed.get(METRIC_CLEAN, 0) or 0),
        dead_letter=int(observed.get(METRIC_DEAD_LETTER, 0) or 0),
        by_reason=by_reason,
        duration_seconds=duration_ms / 1000.0,
        input_rate=float(progress.get("inputRowsPerSecond") or 0.0),
        processing_rate=float(progress.get("processedRowsPerSecond") or 0.0),
    )


@dataclass
class Totals:
    """Sums over many batches (a run, or everything in Silver's progress log)."""

    batches: int = 0
    input: int = 0
    clean: int = 0
    dead_letter: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    last_batch_at: str | None = None
    last_duration_seconds: float | None = None
    last_processing_rate: float | None = None

    def add(self, b: BatchCounters) -> None:
        """Fold one batch in."""
        self.batches += 1
        self.input += b.input
        self.clean += b.clean
        self.dead_letter += b.dead_letter
        for r, n in b.by_reason.items():
            self.by_reason[r] = self.by_reason.get(r, 0) + n
        self.last_batch_at = b.timestamp
        self.last_duration_seconds = b.duration_seconds
        self.last_processing_rate = b.processing_rate

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready shape."""
        return {
            "batches": self.batches,
            "input": self.input,
            "clean": self.clean,
            "dead_letter": {"total": self.dead_letter, "by_reason": dict(self.by_reason)},
            "last_batch_at": self.last_batch_at,
            "last_duration_seconds": self.last_duration_seconds,
            "last_processing_rate": self.last_processing_rate,
        }

    def summary(self) -> str:
        """One line for terminals."""
        reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(self.by_reason.items()))
        return f"{self.input:,} in, {self.clean:,} clean, {self.dead_letter:,} dead-lettered" + (
            f" ({reasons})" if reasons else ""
        )


def totals(progresses: Iterable[Mapping[str, Any]]) -> Totals:
    """Sum the counters of several progress dicts."""
    t = Totals()
    for p in progresses:
        t.add(batch_counters(p))
    return t


def read_totals(settings: Settings) -> Totals:
    """Totals over every batch Silver has recorded under this home."""
    return totals(read_progress(progress_log(settings, "silver")))
