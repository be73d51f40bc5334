"""Reading a stage's checkpoint and progress log, as Spark and Silver leave them on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from checkpoint_files import write_checkpoint

from shopstream.config import load_settings
from shopstream.spark.checkpoints import (
    append_progress,
    checkpoint,
    last_progress,
    progress_log,
    read_checkpoint,
    read_progress,
)


def test_read_checkpoint_takes_the_newest_committed_batch(tmp_path: Path) -> None:
    write_checkpoint(
        tmp_path,
        {0: {"raw": {"0": 5, "1": 3}}, 1: {"raw": {"0": 9, "1": 4}}, 2: {"raw": {"0": 20}}},
        committed=1,
    )
    progress = read_checkpoint(tmp_path)
    assert progress is not None
    assert progress.batch_id == 1
    assert progress.offsets == {"raw": {0: 9, 1: 4}}
    assert progress.committed_at == pytest.approx((tmp_path / "commits" / "1").stat().st_mtime)
    assert read_checkpoint(tmp_path / "absent") is None


def test_every_stage_keeps_its_checkpoint_and_progress_log_under_the_home(
    tmp_path: Path,
) -> None:
    settings = load_settings(home=tmp_path / "home")
    assert checkpoint(settings, "gold") == settings.checkpoint_dir / "gold"
    assert progress_log(settings, "silver").parent.parent == settings.state_dir
    assert checkpoint(settings, "silver") != checkpoint(settings, "gold")


def test_progress_log_round_trips_and_skips_a_torn_line(tmp_path: Path) -> None:
    log = tmp_path / "metrics" / "silver.jsonl"
    for batch_id in range(3):
        append_progress(log, {"batchId": batch_id, "numInputRows": 10 * batch_id})
    with log.open("ab") as torn:
        torn.write(b'{"batchId": 3, "numIn')  # a crash in the middle of a write
    assert [p["batchId"] for p in read_progress(log)] == [0, 1, 2]
    assert read_progress(tmp_path / "absent.jsonl") == []


def test_last_progress_reads_the_newest_line_and_the_file_time(tmp_path: Path) -> None:
    log = tmp_path / "silver.jsonl"
    # Enough lines that reading only the tail matters, each with a nested object.
    for batch_id in range(2000):
        append_progress(log, {"batchId": batch_id, "durationMs": {"triggerExecution": 5}})
    with log.open("ab") as torn:
        torn.write(b'{"batchId": 2000, "dur')
    then = 1_700_000_000.0
    os.utime(log, (then, then))
    newest = last_progress(log)
    assert newest is not None
    assert newest["batchId"] == 1999
    assert newest["_mtime"] == pytest.approx(then)
    tail = read_progress(log, tail_bytes=200)
    assert tail and tail[-1]["batchId"] == 1999 and len(tail) < 10
    assert last_progress(tmp_path / "absent.jsonl") is None
