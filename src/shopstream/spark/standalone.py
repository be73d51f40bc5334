"""A Spark standalone cluster on loopback, started from the pyspark install.

`bench scale` and the cluster integration test run the pipeline on it as users run theirs
(`SHOPSTREAM_SPARK__MASTER=spark://...`). Each daemon runs in its own process group, so
stopping it also stops the executors it launched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 120.0


class StandaloneError(RuntimeError):
    """The local standalone cluster did not come up (the message holds its logs' tails)."""


@dataclass(frozen=True)
class Standalone:
    """A running standalone master with its workers."""

    url: str
    web_port: int
    work_dir: Path


def spark_home() -> Path:
    """The pyspark install, which carries Spark's daemons (bin/spark-class)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def alive_workers(web_port: int) -> int:
    """Workers the master's web UI lists as ALIVE (0 while it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=5) as r:
            doc = json.loads(r.read())
    except OSError:
        return 0
    return sum(1 for w in doc.get("workers", []) if w.get("state") == "ALIVE")


@contextmanager
def standalone_cluster(workers: int, memory: str, work_dir: Path) -> Iterator[Standalone]:
    """A master and `workers` one-core workers on 127.0.0.1 (free ports); always stopped."""
    from shopstream.config import child_environment
    from shopstream.ports import free_port, is_listening

    home = spark_home()
    work_dir.mkdir(parents=True, exist_ok=True)
    env = child_environment(
        {
            "SPARK_HOME": str(home),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_DAEMON_MEMORY": "256m",
            "SPARK_LOG_DIR": str(work_dir / "logs"),
            "SPARK_WORKER_DIR": str(work_dir / "work"),
            "SPARK_LOCAL_DIRS": str(work_dir / "local"),
        }
    )
    port, web = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []

    def spark_class(name: str, main: str, *args: str) -> None:
        with (work_dir / f"{name}.log").open("ab") as out:
            procs.append(
                subprocess.Popen(
                    [str(home / "bin" / "spark-class"), main, *args],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group: stopping it reaches executors
                )
            )

    try:
        spark_class(
            "master",
            "org.apache.spark.deploy.master.Master",
            *("--host", "127.0.0.1", "--port", str(port), "--webui-port", str(web)),
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not is_listening("127.0.0.1", port):
            if procs[0].poll() is not None or time.monotonic() > deadline:
                master_log = _tail(work_dir / "master.log")
                raise StandaloneError(f"the Spark master did not start: {master_log}")
            time.sleep(0.2)
        for n in range(workers):
            spark_class(
                f"worker-{n + 1}",
                "org.apache.spark.deploy.worker.Worker",
                url,
                *("--host", "127.0.0.1", "--cores", "1", "--memory", memory),
                *("--work-dir", str(work_dir / "work"), "--webui-port", str(free_port())),
            )
        while alive_workers(web) < workers:
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                logs = " | ".join(_tail(work_dir / f"worker-{n + 1}.log") for n in range(workers))
                raise StandaloneError(f"the Spark workers did not register: {logs}")
            time.sleep(0.5)
        yield Standalone(url, web, work_dir)
    finally:
        for proc in reversed(procs):
            stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the daemon's process group, SIGKILL after 30 s."""
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def _tail(log: Path, chars: int = 2000) -> str:
    """The end of a daemon's log, for an error message."""
    try:
        return f"{log}: ...{log.read_text(errors='replace')[-chars:]}"
    except OSError:
        return f"{log} (unreadable)"
