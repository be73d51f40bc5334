"""Every result file carries `meta` (date, load, ProducerPerformance, git revision), and the
docs' renderer reads back exactly what the benchmark wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopstream.bench.common import BenchMeta, bench_meta, write_result
from shopstream.docs.bench_results import recorded


def _no_plot(result: dict[str, Any], png: Path) -> None:
    png.write_bytes(b"")


def test_write_result_stamps_meta_unless_the_benchmark_gave_its_own(tmp_path: Path) -> None:
    js, _ = write_result("x", {"benchmark": "x"}, tmp_path, _no_plot)
    meta = json.loads(js.read_text())["meta"]
    assert set(meta) == set(BenchMeta.__annotations__)
    assert meta["date"].endswith("Z") and meta["load_avg_1m"] >= 0
    assert meta["producer_performance_records_per_s"] is None  # not measured: not invented

    given = bench_meta(load_avg_1m=0.5, producer_performance_records_per_s=464_943.3)
    js, _ = write_result("y", {"benchmark": "y"}, tmp_path, _no_plot, given)
    assert json.loads(js.read_text())["meta"] == given


def test_the_renderer_reads_back_what_the_benchmark_wrote() -> None:
    meta = bench_meta(load_avg_1m=1.234, producer_performance_records_per_s=5.0)
    got = recorded({"meta": meta, "when": "1999-01-01T00:00:00Z"})  # meta wins over old keys
    assert (got.date, got.load_avg_1m, got.producer_performance, got.git_rev) == (
        meta["date"],
        1.23,
        5.0,
        meta["git_rev"],
    )
