"""What every benchmark shares: a broker to run against, host facts, result files."""

from __future__ import annotations

import os
import platform
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def write_result(
    name: str, result: dict[str, Any], out_dir: Path, plot: Callable[[dict[str, Any], Path], None]
) -> tuple[Path, Path]:
    """Write `<name>.json` and `<name>.png` under out_dir."""
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
    )


def drop_bench(settings: Settings) -> None:
    """Delete a run's topics and home (a 5M-event run leaves gigabytes)."""
    from shopstream.kafka.topics import delete_topics, topic_specs

    delete_topics(settings, list(topic_specs(settings)))
    shutil.rmtree(settings.state_dir, ignore_errors=True)
