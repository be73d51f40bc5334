"""What every benchmark shares: a broker to run against, host facts, result files."""

from __future__ import annotations

import os
import platform
import time
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
    from shopstream.infra.kafka import LocalCluster, bootstrap_servers

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
