"""Silver as status sees it: how far it has written, and its own counts.

Two figures the checkpoint cannot give:

- `written_lag`: Silver's lag from what it has *written*. Real-time Mode commits its
  checkpoint once per interval (30 s by default) while records flow through in
  milliseconds: during `up`, the checkpoint said Silver was 24,674 records behind while
  the warehouse was 4.6 s fresh. Silver writes exactly one record (clean or dead letter)
  per raw record and nothing else writes those topics, so the raw topic's end offsets
  minus the records in clean_events + dead_letter is what Silver has not written yet.
  Copies Silver re-sent after a crash are in those topics too: the ones Gold has counted
  (`redelivered`) are taken off; the ones it has not read yet would make the lag read low,
  so the checkpoint's lag, always an upper bound (Silver writes before it commits), caps
  it. Micro-batch mode gets the same figure: written-not-yet-committed is written.
- `SilverProgressCounts`: clean and dead-letter counts from Silver's own progress log, for
  when the warehouse cannot count them (Silver ran alone, the file is absent or held).
  Each batch once (a batch re-run after a crash logs its progress again); Real-time Mode
  logs no split (`observe` is not supported there), so then the split is unknown.

Examples:
    >>> from shopstream.status.sources import KafkaSnapshot
    >>> kafka = KafkaSnapshot(True, topics={"raw": {0: (0, 100)}, "clean": {0: (0, 90)},
    ...                                     "dlq": {0: (0, 4)}})
    >>> lag = written_lag({"total": 40, "topics": {}}, kafka, ("raw", "clean", "dlq"), 0)
    >>> lag["total"], lag["basis"], lag["checkpoint_total"], lag["written"]
    (6, 'written', 40, 94)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopstream.silver.metrics import OBSERVATION, BatchCounters, batch_counters

SOURCE = "silver progress"


def written_lag(
    checkpoint_lag: Mapping[str, Any],
    kafka: Any,
    topics: tuple[str, str, str],
    redelivered: int,
) -> dict[str, Any]:
    """Silver's lag entry with `total` from what it wrote, capped by the checkpoint's.

    `topics` is (raw, clean, dead letter); `redelivered` the copies Gold has counted. Adds
    `basis` ("written" or "checkpoint": which figure `total` is), `checkpoint_total` and
    `written` (records in clean + dead letter). The per-partition entries stay the
    checkpoint's: a written record does not say which raw partition it came from cheaply.
    """
    entry = dict(checkpoint_lag) | {"basis": "checkpoint"}
    entry["checkpoint_total"] = total = checkpoint_lag.get("total")
    raw, clean, dead = (kafka.ends(topic) for topic in topics)
    if total is None or raw is None or clean is None or dead is None:
        return entry
    written = sum(clean.values()) + sum(dead.values())
    behind = max(sum(raw.values()) - (written - redelivered), 0)
    entry["written"] = written
    if behind < total:
        entry |= {"total": behind, "basis": "written"}
    return entry


@dataclass(frozen=True)
class SilverProgressCounts:
    """Silver's counts over every batch it logged, each batch once."""

    batches: int
    input: int
    clean: int | None  # None: some batch logged no split (Real-time Mode)
    dead_letter: int | None
    by_reason: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, labelled with where the figures come from."""
        return {
            "source": SOURCE,
            "batches": self.batches,
            "input": self.input,
            "clean": self.clean,
            "dead_letter": {"total": self.dead_letter, "by_reason": dict(self.by_reason)},
        }


@dataclass
class _LogState:
    """What has been read of one progress log: its size then, and each batch's counters."""

    size: int = 0
    mtime_ns: int = 0
    batches: dict[tuple[str, int], tuple[BatchCounters, bool]] = field(default_factory=dict)


_LOGS: dict[Path, _LogState] = {}
_LOCK = threading.Lock()


def silver_progress_counts(path: Path, query: str | None = None) -> SilverProgressCounts | None:
    """Counts over Silver's progress log at `path`; None when it logged no batch.

    `query` (the checkpoint's query id) keeps the batches of the current checkpoint only: a
    checkpoint deleted and started again re-reads raw_events, and its records would count
    twice.

    The log only grows, one line per batch: what was read before is kept, so a dashboard
    polling every second during a warehouse outage reads only the new lines.
    """
    try:
        stat = path.stat()
    except OSError:
        return None
    with _LOCK:
        state = _LOGS.get(path)
        if state is None or stat.st_size < state.size:  # new or rewritten log: read it all
            state = _LOGS[path] = _LogState()
        if (stat.st_size, stat.st_mtime_ns) != (state.size, state.mtime_ns):
            _read_new_lines(path, state)
        batches = [counts for (qid, _), counts in state.batches.items() if query in (None, qid)]
    if not batches:
        return None
    split_known = all(has_split or counters.input == 0 for counters, has_split in batches)
    by_reason: dict[str, int] = {}
    for counters, _ in batches:
        for reason, n in counters.by_reason.items():
            by_reason[reason] = by_reason.get(reason, 0) + n
    return SilverProgressCounts(
        batches=len(batches),
        input=sum(counters.input for counters, _ in batches),
        clean=sum(c.clean for c, _ in batches) if split_known else None,
        dead_letter=sum(c.dead_letter for c, _ in batches) if split_known else None,
        by_reason=by_reason if split_known else {},
    )


def _read_new_lines(path: Path, state: _LogState) -> None:
    """Fold the complete lines past `state.size` into `state` (a torn last line waits)."""
    try:
        with path.open("rb") as log:
            log.seek(state.size)
            data = log.read()
            mtime_ns = path.stat().st_mtime_ns
    except OSError:
        return
    complete = data[: data.rfind(b"\n") + 1]
    for progress in _parse(complete):
        key = (str(progress.get("id")), int(progress.get("batchId", -1)))
        has_split = bool((progress.get("observedMetrics") or {}).get(OBSERVATION))
        state.batches[key] = (batch_counters(progress), has_split)
    state.size += len(complete)
    state.mtime_ns = mtime_ns


def _parse(lines: bytes) -> list[dict[str, Any]]:
    import orjson

    documents = []
    for line in lines.splitlines():
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a torn line from a crash mid-write
        if isinstance(document, dict):
            documents.append(document)
    return documents
