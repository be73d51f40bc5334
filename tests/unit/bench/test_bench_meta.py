"""Every result file carries `meta` (date, load, ProducerPerformance, git revision), and the
docs' renderer reads back exactly what the benchmark wrote."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from shopstream.bench.common import BenchMeta, bench_meta, git_rev, write_result
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


def test_results_written_by_an_earlier_benchmark_do_not_make_the_code_dirty(
    tmp_path: Path,
) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "bench" / "results").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    for name in ("bench/results/x.json", "src/code.py"):
        (tmp_path / name).write_text("1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    rev = git_rev(tmp_path / "src")
    assert rev and not rev.endswith("-dirty")

    (tmp_path / "bench/results/x.json").write_text("2\n")  # `bench all`'s previous step
    assert git_rev(tmp_path / "src") == rev
    (tmp_path / "src/code.py").write_text("2\n")
    assert git_rev(tmp_path / "src") == f"{rev}-dirty"
