"""The latency arithmetic of the end-to-end benchmark (pure)."""

from __future__ import annotations

from typing import Any

import numpy as np

from shopstream.bench.e2e import _run_figures, event_latencies, latency_stats


def test_latency_is_commit_time_minus_production_time() -> None:
    batch = np.array([0, 0, 1, 2])
    produced_ms = np.array([1_000_000, 1_000_500, 1_001_000, 1_002_000])
    committed = {0: 1_001.5, 1: 1_002.0}  # batch 2 never committed: excluded, not zero
    lat = event_latencies(batch, produced_ms, committed)
    assert lat.tolist() == [1.5, 1.0, 1.0]


def test_stats_percentiles() -> None:
    lat = np.arange(1, 101, dtype=float) / 100  # 0.01 .. 1.00 s
    s = latency_stats(lat)
    assert s["count"] == 100
    assert s["p50_s"] == 0.505
    assert s["p99_s"] == 0.99
    assert s["max_s"] == 1.0
    assert latency_stats(np.array([])) == {"count": 0}


def _cold_start(slow_seconds: int, seconds: int = 60, per_second: int = 100) -> Any:
    """Events produced from t=10 s (Spark took 10 s): `slow_seconds` of 5 s latency, then 0.2 s."""
    started = 1_000.0
    produced = np.repeat(np.arange(10, 10 + seconds), per_second) + np.tile(
        np.linspace(0, 0.99, per_second), seconds
    )
    lat = np.where(produced < 10 + slow_seconds, 5.0, 0.2)
    return _run_figures(
        (started + produced) * 1000.0, lat, started, started + 10, started + 10, 3 << 30, 60, {}
    )


def test_a_cold_start_counts_from_the_start_and_measures_after_steady_state() -> None:
    r = _cold_start(slow_seconds=15)
    assert r["time_to_steady_s"] == 25  # 10 s of Spark, 15 s of backlog
    assert (r["latency"]["count"], r["latency"]["p99_s"]) == (45 * 100, 0.2)
    assert r["latency_from_start"]["max_s"] == 5.0
    assert r["meets_target"]


def test_steady_state_later_than_the_target_misses_it() -> None:
    r = _cold_start(slow_seconds=25)
    assert r["time_to_steady_s"] == 35 and not r["meets_target"]


def test_a_run_that_never_settles_has_no_latency_figures_and_misses() -> None:
    r = _cold_start(slow_seconds=60)
    assert r["time_to_steady_s"] is None and r["latency"] == {"count": 0}
    assert not r["meets_target"]
