"""SIGINT and SIGTERM, to the whole process group as a terminal or a service manager sends
them, during a batch and during a commit, for `silver`, `gold`, `process` and `up`: a few
quiet lines, exit 0, and the next start resumes (the run after the stops equals the truth).

Start-up stops are in test_silver.py (`test_ctrl_c_while_spark_starts_stops_cleanly`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from test_crash import (
    EVENTS,
    PHASE_TIMEOUT,
    _freeze_at,
    _send,
    _silver_mid_batch_with_output,
    _start,
)
from test_pipeline_truth import _truth_figures, _warehouse_figures

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.truth import TruthBuilder
from shopstream.config import Settings
from shopstream.faults import PAUSE_BEFORE_READ_ENV, PAUSE_IN_COMMIT_ENV

MAX_LINES_AFTER_SIGNAL = 4  # e.g. "stopping...", the totals; never a stack trace


class Output:
    """Both output streams of a process, line by line, split at the moment of a signal."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.signalled_at: int | None = None  # index of the first line after the signal
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read, args=(stream,), daemon=True)
            for stream in (proc.stdout, proc.stderr)
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the frozen process group, then let it run on."""
        with self._lock:
            self.signalled_at = len(self.lines)
        os.killpg(self.proc.pid, sig)  # delivered on SIGCONT, still at the frozen point
        os.killpg(self.proc.pid, signal.SIGCONT)

    def assert_quiet_exit(self, what: str) -> None:
        """Exit 0, a few lines after the signal, no stack trace anywhere."""
        self.proc.wait(timeout=PHASE_TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=10)
        text = "\n".join(self.lines)
        assert self.proc.returncode == 0, f"{what}: exit {self.proc.returncode}\n{text[-3000:]}"
        after = [line for line in self.lines[self.signalled_at or 0 :] if line.strip()]
        shown = "\n".join(after)[-3000:]
        assert len(after) <= MAX_LINES_AFTER_SIGNAL, f"{what}: {len(after)} lines\n{shown}"
        for bad in ("Traceback", "Exception", "Error", "\tat "):
            assert bad not in text, f"{what}: {bad!r} in the output\n{text[-3000:]}"


def _stop_in_batch(settings: Settings, sig: signal.Signals, *args: str) -> Output:
    """Start `args`; send `sig` while Silver is inside a batch that already wrote records."""
    in_silver_batch = _silver_mid_batch_with_output(settings)
    output = Output(_start(settings, *args))
    _freeze_at(output.proc, in_silver_batch)
    output.signal(sig)
    return output


def _stop_in_commit(output: Output, marker: Path, sig: signal.Signals) -> None:
    """Send `sig` while Gold waits at `marker` (a test-only pause), then let it go on."""
    _freeze_at(output.proc, marker.exists)
    output.signal(sig)
    marker.unlink()


def test_every_stop_is_quiet_exits_0_and_resumes_exactly(
    settings: Settings, tmp_path: Path
) -> None:
    cfg = GeneratorConfig.from_settings(settings, seed=29, customers=300, backfill_days=3)
    gen = EventGenerator(cfg, total_events=EVENTS)
    truth_builder = TruthBuilder(gen)
    batches = gen.batches(EVENTS, batch_size=1_000)
    half = EVENTS // 1_000 // 2
    _send(settings, batches, half, truth_builder)
    marker = tmp_path / "in-commit"
    pause = {PAUSE_IN_COMMIT_ENV: str(marker)}

    run = _stop_in_batch(settings, signal.SIGTERM, "silver")
    run.assert_quiet_exit("silver, SIGTERM in a batch")

    # Ctrl-C interrupts the stream thread; Gold's next call into Spark then fails (its
    # 1,000-line StackOverflowError on the terminal once came from here).
    run = Output(_start(settings, "gold", env={PAUSE_BEFORE_READ_ENV: str(marker)}))
    _stop_in_commit(run, marker, signal.SIGINT)
    run.assert_quiet_exit("gold, SIGINT in a batch, before it reads from Spark")

    run = Output(_start(settings, "process", env=pause))
    _stop_in_commit(run, marker, signal.SIGTERM)
    run.assert_quiet_exit("process, SIGTERM in a commit")

    _send(settings, batches, EVENTS // 1_000 - half, truth_builder)
    run = _stop_in_batch(settings, signal.SIGINT, "up", "--no-generator", "--port", "0")
    run.assert_quiet_exit("up, SIGINT in a batch")

    run = Output(_start(settings, "process", "--available-now"))
    run.assert_quiet_exit("process --available-now after the stops")
    assert _warehouse_figures(settings) == _truth_figures(truth_builder.result())
