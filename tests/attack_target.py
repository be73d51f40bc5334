"""What the attack tests share: the limits of the target, a Gold stand-in committing beside
the endpoint the whole time (timed), and the check that clients did not slow it.

Every attack test runs its attack for a while (bounded) and then holds Gold to the promise
that clients cannot slow it: it kept committing during the attack, and its median commit
time stayed within 2x of the median measured quiet just before (`gold_first`).
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from wh_data import T0, events_table, make_event

from shopstream.warehouse import BatchMeta
from shopstream.warehouse.duckdb import DuckDBWarehouse

LIMITS = {
    "port": 0,
    # Generous: a loaded machine must not turn a refusal into a timeout (tests that need a
    # short one SET statement_timeout themselves).
    "statement_timeout_seconds": 30,
    "auth_timeout_seconds": 1,
    "idle_session_timeout_seconds": 3,
    "send_timeout_seconds": 1,
    "max_connections": 8,
    "client_memory_mb": 128,
    "max_message_bytes": 1 << 20,
}
# Gold's stand-in: a batch of this many new events every GOLD_INTERVAL seconds, as Gold at
# ~10k events/s commits them.
GOLD_EVENTS = 1000
GOLD_INTERVAL = 0.1


@dataclass
class GoldLoop:
    """Commits fresh batches back to back in a thread, recording (when, commit ms)."""

    wh: DuckDBWarehouse
    commits: list[tuple[float, float]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread = field(init=False)

    def start(self) -> GoldLoop:
        self._thread = threading.Thread(target=self._run, name="gold-stand-in", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        batch = 0
        while not self._stop.is_set():
            rows = [
                make_event(
                    f"g{batch}-{i}", "PURCHASE" if i % 10 == 0 else "PAGE_VIEW", f"c{i % 50}",
                    ts=T0 + timedelta(seconds=i), amount="12.50" if i % 10 == 0 else None,
                )
                for i in range(GOLD_EVENTS)
            ]  # fmt: skip
            try:
                result = self.wh.commit_batch(
                    events_table(rows), None, BatchMeta("gold", "sim", batch)
                )
                self.commits.append((time.monotonic(), result.commit_ms))
            except BaseException as err:  # recorded: the test fails on it
                self.errors.append(err)
            batch += 1
            self._stop.wait(GOLD_INTERVAL)

    def since(self, t: float) -> list[float]:
        return [ms for at, ms in self.commits if at >= t]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)


class Target:
    """The attack server process (tests/attack_server.py) and how to reach its endpoint."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.user = "shopstream"
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("attack_server.py")), str(home),
             json.dumps({k: v for k, v in LIMITS.items() if k != "port"})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        ready = self._answer()
        self.port: int = ready["port"]
        self.password: str = ready["password"]

    def _answer(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the attack server exited ({self._proc.wait(5)})")
        return dict(json.loads(line))

    def ask(self, command: str) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        return self._answer()

    def commits_since(self, t: float) -> list[float]:
        stats = self.ask("stats")
        assert not stats["errors"], stats["errors"]
        return [ms for at, ms in stats["commits"] if at >= t]

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self._proc.stdin is not None
            self._proc.stdin.write("quit\n")
            self._proc.stdin.close()
        try:
            self._proc.wait(30)
        except subprocess.TimeoutExpired:
            self._proc.kill()

    @property
    def conninfo(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1", "port": self.port, "user": self.user,
            "password": self.password, "dbname": "shopstream", "sslmode": "disable",
        }  # fmt: skip


def sustained(attack: Callable[[], object], seconds: float = 1.5, at_most: int = 200) -> int:
    """Run `attack` repeatedly for about `seconds` (at most `at_most` times); how many ran."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end and n < at_most:
        attack()
        n += 1
    return n


@dataclass
class Baseline:
    """Gold's quiet median commit time, measured again when older than `max_age` s: right
    before each attack by default, so both see the same load from anything else running."""

    target: Target
    max_age: float = 0.0
    median_ms: float = 0.0
    at: float = float("-inf")

    def current(self) -> float:
        if time.monotonic() - self.at > self.max_age:
            start = time.monotonic()
            deadline = start + 15
            while len(self.target.commits_since(start)) < 5 and time.monotonic() < deadline:
                time.sleep(0.2)
            quiet = self.target.commits_since(start)
            assert len(quiet) >= 5, quiet
            self.median_ms, self.at = statistics.median(quiet), time.monotonic()
        return self.median_ms


def hold_gold_to_its_promise(target: Target, baseline: float, attacked_from: float) -> None:
    """Gold committed during the attack (waiting briefly for a short one to see commits),
    at a median commit time within 2x of quiet."""
    deadline = time.monotonic() + 10
    while len(target.commits_since(attacked_from)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    attacked = target.commits_since(attacked_from)
    assert len(attacked) >= 3, f"Gold made {len(attacked)} commits during the attack"
    median = statistics.median(attacked)
    assert median <= 2 * baseline, (
        f"Gold's median commit took {median:.1f} ms under attack, {baseline:.1f} ms quiet"
    )
