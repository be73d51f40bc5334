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
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyspark
import pytest
from confluent_kafka import Producer
from shopstream_env import cli_env
from test_pipeline_truth import _truth_figures, _warehouse_figures

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.truth import TruthBuilder
from shopstream.config import Settings
from shopstream.infra.checkpoints import checkpoint
from shopstream.infra.kafka import client_config, end_offsets
from shopstream.infra.ports import free_port, is_listening

SPARK_HOME = Path(pyspark.__file__).resolve().parent
WORKER_MEMORY = "1g"
EXECUTOR_MEMORY = "512m"
EVENTS = 20_000


@dataclass
class Standalone:
    """A running standalone master and worker on loopback."""

    url: str
    web_port: int
    logs: Path


def _spark_class(main: str, *args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), main, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: teardown reaches the executors too
        )


def _alive_workers(web_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=5) as r:
            doc = json.loads(r.read())
    except OSError:
        return 0
    return sum(1 for w in doc.get("workers", []) if w.get("state") == "ALIVE")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    """Master and worker (1 core, 1 GiB) on 127.0.0.1, free ports; always torn down."""
    tmp = tmp_path_factory.mktemp("spark-standalone")
    env = os.environ | {
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DAEMON_MEMORY": "256m",
        "SPARK_LOG_DIR": str(tmp / "logs"),
        "SPARK_WORKER_DIR": str(tmp / "work"),
        "SPARK_LOCAL_DIRS": str(tmp / "local"),
    }
    port, web = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    procs = [
        _spark_class(
            "org.apache.spark.deploy.master.Master",
            *("--host", "127.0.0.1", "--port", str(port), "--webui-port", str(web)),
            env=env,
            log=tmp / "master.log",
        )
    ]
    try:
        deadline = time.monotonic() + 120
        while not is_listening("127.0.0.1", port):
            assert procs[0].poll() is None, (tmp / "master.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the master never listened"
            time.sleep(0.2)
        procs.append(
            _spark_class(
                "org.apache.spark.deploy.worker.Worker",
                url,
                *("--host", "127.0.0.1", "--cores", "1", "--memory", WORKER_MEMORY),
                *("--work-dir", str(tmp / "work"), "--webui-port", str(free_port())),
                env=env,
                log=tmp / "worker.log",
            )
        )
        while _alive_workers(web) < 1:
            assert procs[1].poll() is None, (tmp / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.5)
        yield Standalone(url, web, tmp)
    finally:
        for proc in reversed(procs):
            _stop(proc)


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
