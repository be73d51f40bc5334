"""A throw-away home driven through the CLI, one subprocess per command, as a user runs it.

The soak and cost benchmarks measure `shopstream up` in its own processes (so /proc shows
its CPU and memory alone, and a kill -9 is a real crash), not inside the bench's process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from shopstream.config import child_environment


class CliHome:
    """`shopstream <command> --home <home>` in subprocesses; logs under <home>/<logs>/."""

    def __init__(self, home: Path, *, brokers: int = 3, logs: str = "soak-logs") -> None:
        self.home = home
        self.logs = home / logs
        self.logs.mkdir(parents=True, exist_ok=True)
        # Every command must expect the home's broker count (`up` would otherwise ask for
        # its default single broker and refuse a 3-broker cluster). Set in a config file:
        # SHOPSTREAM_KAFKA__BROKERS=3 is refused ("Input should be 1 or 3").
        config = home / "shopstream.toml"
        config.write_text(f"[kafka]\nbrokers = {brokers}\n")
        self.env = child_environment({"SHOPSTREAM_CONFIG": str(config)})

    def log_tail(self, name: str, lines: int = 15) -> list[str]:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return []
        return path.read_text(errors="replace").splitlines()[-lines:]

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "shopstream", *args, "--home", str(self.home)]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                self.argv(*args),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env=self.env,
            )
        except subprocess.TimeoutExpired as err:
            return subprocess.CompletedProcess(err.cmd, -1, "", f"timed out after {timeout} s")

    def start(
        self, name: str, *args: str, argv: list[str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A long-running command in its own process group, output to <logs>/<name>.log.

        `argv` replaces the `shopstream` command line (e.g. a `python -m` module)."""
        log = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            argv or self.argv(*args),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=self.env,
        )

    def status(self) -> dict[str, Any]:
        """`status --json`, or {"error": ...} when the command failed."""
        done = self.run("status", "--json", timeout=60)
        if done.returncode not in (0, 1):  # 1 = unhealthy, still a document
            return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
        try:
            document: dict[str, Any] = json.loads(done.stdout)
        except ValueError:
            return {"error": f"not JSON: {done.stdout[:200]!r}"}
        return document


def kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def stop_gracefully(proc: subprocess.Popen[bytes], timeout: float = 90) -> int | None:
    """Ctrl-C as a user would; SIGKILL if it does not stop in time. Returns its exit code."""
    if proc.poll() is not None:
        return proc.returncode
    kill_group(proc, signal.SIGINT)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc, signal.SIGKILL)
        proc.wait(10)
        return None
