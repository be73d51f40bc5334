"""Spark checkpoints laid out on disk as Structured Streaming writes them, for unit tests."""

from __future__ import annotations

import json
from pathlib import Path


def write_checkpoint(
    path: Path, batches: dict[int, dict[str, dict[str, int]]], committed: int
) -> None:
    """A checkpoint laid out as Structured Streaming writes it (offsets/N, commits/N)."""
    (path / "offsets").mkdir(parents=True)
    (path / "commits").mkdir(parents=True)
    for batch_id, offsets in batches.items():
        meta = {"batchWatermarkMs": 0, "batchTimestampMs": 1, "conf": {}}
        lines = ["v1", json.dumps(meta), json.dumps(offsets)]
        (path / "offsets" / str(batch_id)).write_text("\n".join(lines))
        if batch_id <= committed:
            (path / "commits" / str(batch_id)).write_text('v1\n{"nextBatchWatermarkMs":0}')
    (path / "offsets" / ".1.crc").write_text("junk")  # Hadoop leaves these around
