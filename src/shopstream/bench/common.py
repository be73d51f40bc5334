"""What every benchmark shares: a broker to run against, host facts, result files.

Every result file carries one `meta` object (`bench_meta`), the facts a reader needs to
compare two runs on machines that differ about 2x (Kafka's ProducerPerformance ran at
216-248k records/s on one and 429k on another):

    "meta": {"date": "2026-12-01T09:16:49Z", "load_avg_1m": 0.23,
             "producer_performance_records_per_s": 464943.3, "git_rev": "126d072"}

A fact a benchmark did not measure is null, and docs/benchmarks.md shows it as "not
recorded" (the renderer never fills one in from another run).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

import orjson

from shopstream.config import Settings


@contextmanager
def bench_broker(settings: Settings) -> Iterator[str]:
    """The configured or running broker, or a local one started (and stopped) for the run."""
    from shopstream.errors import BrokerUnavailable
    from shopstream.kafka.cluster import LocalCluster
    from shopstream.kafka.connection import bootstrap_servers

    try:
        yield bootstrap_servers(settings)
        return
    except BrokerUnavailable:
        pass
    cluster = LocalCluster(settings)
    try:
        yield cluster.start().bootstrap
    finally:
        cluster.stop()


def host_info() -> dict[str, Any]:
    """Facts that make a result comparable: cores, platform, versions, load."""
    import confluent_kafka
    import duckdb
    import pyspark

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyspark": pyspark.__version__,
        "duckdb": duckdb.__version__,
        "librdkafka": confluent_kafka.libversion()[0],
        "load_average": os.getloadavg(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


class BenchMeta(TypedDict):
    """When and where a result was measured; null where the benchmark did not measure it."""

    date: str  # UTC, ISO-8601, when the result was written
    load_avg_1m: float | None  # 1-minute load average (at the start, where the bench says)
    producer_performance_records_per_s: float | None  # Kafka's ProducerPerformance, same run
    git_rev: str | None  # the code measured (`git describe --always --dirty`)


def bench_meta(
    *, load_avg_1m: float | None = None, producer_performance_records_per_s: float | None = None
) -> BenchMeta:
    """The `meta` of a result written now.

    Pass `load_avg_1m` as measured before the run started (the load a benchmark adds itself
    says nothing about the machine); left out, it is the load now. Pass the
    ProducerPerformance figure only when this run measured it on this machine.
    """
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_avg_1m": round(os.getloadavg()[0] if load_avg_1m is None else load_avg_1m, 2),
        "producer_performance_records_per_s": producer_performance_records_per_s,
        "git_rev": git_rev(),
    }


def git_rev(checkout: Path | None = None) -> str | None:
    """The checkout's revision, `-dirty` when its code has changes; None outside git.

    Results and the docs generated from them do not count: a benchmark run after another
    one in the same checkout (`bench all`) measures the same code.
    """
    here = checkout or Path(__file__).resolve().parent
    rev = _git(here, "rev-parse", "--short", "HEAD")
    if rev is None:
        return None
    outputs = [":(top,exclude)bench/results", ":(top,exclude)docs"]
    changed = _git(here, "status", "--porcelain", "--untracked-files=no", "--", ":/", *outputs)
    return f"{rev}-dirty" if changed else rev


def _git(cwd: Path, *args: str) -> str | None:
    """`git args` in `cwd`: its stripped output, None when git or the checkout is missing."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def write_result(
    name: str,
    result: dict[str, Any],
    out_dir: Path,
    plot: Callable[[dict[str, Any], Path], None],
    meta: BenchMeta | None = None,
) -> tuple[Path, Path]:
    """Write `<name>.json` and `<name>.png` under out_dir, with `meta` (default: `bench_meta()`)
    unless the result already has one."""
    result.setdefault("meta", meta or bench_meta())
    out_dir.mkdir(parents=True, exist_ok=True)
    js, png = out_dir / f"{name}.json", out_dir / f"{name}.png"
    js.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    plot(result, png)
    return js, png


@contextmanager
def bench_run(settings: Settings, *, keep: bool = False, **spark: Any) -> Iterator[Settings]:
    """A throw-away home and topics on the benchmark broker, dropped afterwards unless `keep`.

    `spark` overrides Spark settings (master, trigger, batch size) for the run.
    """
    from shopstream.kafka.topics import ensure_topics

    with bench_broker(settings) as bootstrap:
        run = bench_settings(settings, bootstrap, uuid.uuid4().hex[:8], **spark)
        ensure_topics(run)
        try:
            yield run
        finally:
            if not keep:
                drop_bench(run)


def bench_settings(settings: Settings, bootstrap: str, tag: str, **spark: Any) -> Settings:
    """A fresh home under `<home>/bench/<tag>` and `bench_*_<tag>` topics on `bootstrap`."""
    from shopstream.config import load_settings

    return load_settings(
        home=settings.files.bench(tag),
        kafka={
            "bootstrap_servers": bootstrap,
            "raw_topic": f"bench_raw_{tag}",
            "clean_topic": f"bench_clean_{tag}",
            "dead_letter_topic": f"bench_dlq_{tag}",
        },
        spark=spark,
        # Benchmarks measure at a flat rate: no day/night curve (docs/generator.md).
        generator={"day_length_seconds": 0.0},
    )


def drop_bench(settings: Settings) -> None:
    """Delete a run's topics and home (a 5M-event run leaves gigabytes)."""
    from shopstream.kafka.topics import delete_topics, topic_specs

    delete_topics(settings, list(topic_specs(settings)))
    shutil.rmtree(settings.state_dir, ignore_errors=True)
