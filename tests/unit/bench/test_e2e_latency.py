"""The latency arithmetic of the end-to-end benchmark (pure)."""

from __future__ import annotations

import numpy as np

from shopstream.bench.e2e import event_latencies, latency_stats


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
