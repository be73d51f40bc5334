"""The pipeline on a real Spark standalone cluster (master + one worker from the pyspark install).

`shopstream process` runs as users run it, with `SHOPSTREAM_SPARK__MASTER=spark://...`:
streaming while events arrive, stopped by SIGTERM, then restarted with `--available-now`
to finish what arrived since; each time the warehouse equals the generator's ground
truth. The worker's executors get no usable Python interpreter (`PYSPARK_PYTHON` names a
path that does not exist): the pipeline must need none there. A cluster that cannot run
the application (no master, the web UI's port instead of the master's, executors larger
than the worker) must stop with one line and exit 2.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from shopstream_env import cli_env
from test_pipeline_truth import _truth_figures, _warehouse_figures

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.truth import TruthBuilder
from shopstream.config import Settings
from shopstream.kafka.connection import client_config
from shopstream.kafka.offsets import end_offsets
from shopstream.ports import free_port
from shopstream.spark.checkpoints import checkpoint
from shopstream.spark.standalone import Standalone, standalone_cluster

WORKER_MEMORY = "1g"
EXECUTOR_MEMORY = "512m"
EVENTS = 20_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    """Master and worker (1 core, 1 GiB) on 127.0.0.1, free ports; always torn down."""
    with standalone_cluster(1, WORKER_MEMORY, tmp_path_factory.mktemp("spark-standalone")) as c:
        yield c


def _env(settings: Settings, master: str, **spark: str) -> dict[str, str]:
    env = cli_env(settings) | {
        "SHOPSTREAM_SPARK__MASTER": master,
        "SHOPSTREAM_SPARK__DRIVER_HOST": "127.0.0.1",
        "SHOPSTREAM_SPARK__EXECUTOR_MEMORY": EXECUTOR_MEMORY,
        "SHOPSTREAM_SPARK__DRIVER_MEMORY": "1g",
        "SHOPSTREAM_SPARK__TRIGGER_SECONDS": "0.5",
        "PYSPARK_PYTHON": "/nonexistent/python3",  # executors must not need Python
    }
    return env | {f"SHOPSTREAM_SPARK__{k.upper()}": v for k, v in spark.items()}


def _shopstream(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "shopstream", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


class Feed:
    """One seeded generator fed to raw_events in parts, with the truth of all parts sent."""

    def __init__(self, settings: Settings, seed: int) -> None:
        cfg = GeneratorConfig.from_settings(settings, seed=seed, customers=500, backfill_days=3)
        self.settings = settings
        self.gen = EventGenerator(cfg, total_events=EVENTS)
        self.truth = TruthBuilder(self.gen)

    def send(self, upto: int) -> None:
        producer = Producer(client_config(self.settings) | {"acks": "all"})
        for batch in self.gen.batches(upto, batch_size=2_000):
            for key, value in zip(batch.keys, batch.values, strict=True):
                producer.produce(self.settings.kafka.raw_topic, key=key, value=value)
            producer.poll(0)
            self.truth.add(batch)
        assert producer.flush(60) == 0

    def expected(self) -> dict[str, Any]:
        return _truth_figures(self.truth.result())


def _committed(checkpoint: Path) -> dict[str, dict[int, int]]:
    """Offsets (topic -> partition -> next offset) of a checkpoint's newest committed batch."""
    commits = [int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")]
    if not commits:
        return {}
    out: dict[str, dict[int, int]] = {}
    for line in (checkpoint / "offsets" / str(max(commits))).read_text().splitlines()[2:]:
        for topic, parts in json.loads(line).items():
            out[topic] = {int(p): int(o) for p, o in parts.items()}
    return out


def _caught_up(settings: Settings) -> bool:
    """Silver committed up to the end of raw_events, then Gold up to the end of its inputs."""
    k = settings.kafka
    stages = [
        (checkpoint(settings, "silver"), [k.raw_topic]),
        (checkpoint(settings, "gold"), [k.clean_topic, k.dead_letter_topic]),
    ]
    for directory, topics in stages:
        done = _committed(directory)
        for topic in topics:
            ends = end_offsets(settings, topic)
            if any(done.get(topic, {}).get(p, 0) < end for p, end in ends.items()):
                return False
    return True


def _wait(predicate: Any, proc: subprocess.Popen[str], what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, (
            f"process exited while waiting for {what}: " + (proc.communicate()[1][-3000:])
        )
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def test_process_on_standalone_cluster_equals_truth_through_a_restart(
    cluster: Standalone, settings: Settings
) -> None:
    env = _env(settings, cluster.url)
    feed = Feed(settings, seed=21)
    feed.send(EVENTS // 4)
    # Streaming: it processes what is there and what arrives, then stops on SIGTERM.
    cmd = [sys.executable, "-m", "shopstream", "process"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(lambda: _committed(checkpoint(settings, "silver")) != {}, proc, "a first batch")
        feed.send(EVENTS // 2)
        _wait(lambda: _caught_up(settings), proc, "the streaming run to catch up")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert _warehouse_figures(settings) == feed.expected()

    # Restarted with --available-now, it resumes from the checkpoints and finishes.
    feed.send(EVENTS)
    done = _shopstream(env, "process", "--available-now")
    assert done.returncode == 0, done.stderr[-3000:]
    assert _warehouse_figures(settings) == feed.expected()


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr[-3000:]
    # The JVM's own start-up notice (Spark enables the incubating Vector API) is not ours.
    lines = [
        ln
        for ln in proc.stderr.splitlines()
        if ln.strip() and not ln.startswith("WARNING: Using incubator modules")
    ]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_unreachable_master_is_one_line(settings: Settings) -> None:
    url = f"spark://127.0.0.1:{free_port()}"  # nothing listens there
    proc = _shopstream(_env(settings, url), "process", "--available-now", timeout=120)
    _one_line_exit_2(proc, "cannot reach the Spark master", url, "SHOPSTREAM_SPARK__MASTER")


def test_web_ui_port_instead_of_master_is_one_line(cluster: Standalone, settings: Settings) -> None:
    url = f"spark://127.0.0.1:{cluster.web_port}"
    env = _env(settings, url, register_timeout_seconds="8")
    proc = _shopstream(env, "process", "--available-now", timeout=120)
    _one_line_exit_2(proc, "did not accept the application within 8 s", "not the web UI")


def test_executor_larger_than_worker_is_one_line(cluster: Standalone, settings: Settings) -> None:
    env = _env(settings, cluster.url, executor_memory="4g", executor_timeout_seconds="8")
    proc = _shopstream(env, "process", "--available-now", timeout=120)
    _one_line_exit_2(proc, "no Spark executor registered within 8 s", "4g", "EXECUTOR_MEMORY")
