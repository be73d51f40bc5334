"""Benchmark result files (`bench/results/*.json`) as the docs read them.

A result's date, machine load and ProducerPerformance figure come from its `meta`
(`shopstream.bench.common.bench_meta`); files written before `meta` existed keep the
same facts under older keys (`when`, `host.when`, `load_average`), which are read as
they are. Whatever a file does not hold is None, shown as "not recorded": a figure is
never borrowed from another run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopstream.errors import DocsError

NOT_RECORDED = "not recorded"
RESULTS_DIR = Path("bench") / "results"

Result = dict[str, Any]


def load_results(results_dir: Path) -> dict[str, Result]:
    """file stem -> parsed JSON, for every result file, by name."""
    out = {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise DocsError(f"cannot read {path}: {err}; re-run its benchmark") from None
    return out


@dataclass(frozen=True)
class Recorded:
    """The facts that make a result comparable; None where the file does not hold one."""

    date: str | None
    load_avg_1m: float | None
    producer_performance: float | None
    git_rev: str | None


def recorded(result: Result) -> Recorded:
    """What `result` says about when and where it was measured.

    >>> recorded({"meta": {"date": "2026-12-02T10:00:00Z", "load_avg_1m": 0.5,
    ...     "producer_performance_records_per_s": None, "git_rev": "abc"}})
    Recorded(date='2026-12-02T10:00:00Z', load_avg_1m=0.5, producer_performance=None, git_rev='abc')
    >>> recorded({"host": {"when": "2026-11-25T17:20:19Z", "load_average": [1.75, 2.8, 3.9]}})
    Recorded(date='2026-11-25T17:20:19Z', load_avg_1m=1.75, producer_performance=None, git_rev=None)
    """
    meta = result.get("meta") or {}
    host = result.get("host") or {}
    legacy_load = result.get("load_average")
    if isinstance(legacy_load, dict):  # producer benchmarks: {"before": [...], "after": [...]}
        legacy_load = legacy_load.get("before")
    if not legacy_load:
        legacy_load = host.get("load_average")
    perf = result.get("kafka_producer_perf")
    return Recorded(
        date=meta.get("date") or result.get("when") or host.get("when"),
        load_avg_1m=_first(meta.get("load_avg_1m"), (legacy_load or [None])[0]),
        producer_performance=_first(
            meta.get("producer_performance_records_per_s"),
            perf.get("events_per_s") if isinstance(perf, dict) else None,
        ),
        git_rev=meta.get("git_rev"),
    )


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def date_text(value: str | None) -> str:
    """`2026-12-01 09:16 UTC` from an ISO timestamp.

    >>> date_text("2026-12-01T09:16:49Z"), date_text(None)
    ('2026-12-01 09:16 UTC', 'not recorded')
    """
    if not value:
        return NOT_RECORDED
    return value[:16].replace("T", " ") + " UTC"


def number_text(value: float | None, fmt: str = "{:,.0f}", suffix: str = "") -> str:
    """A figure, or "not recorded".

    >>> number_text(464943.3, suffix="/s"), number_text(None)
    ('464,943/s', 'not recorded')
    """
    return NOT_RECORDED if value is None else fmt.format(value) + suffix
