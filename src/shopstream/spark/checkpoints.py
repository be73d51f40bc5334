"""Where a stage keeps its Spark checkpoint and its progress log, and how to read them.

- `checkpoint(settings, stage)`: `<home>/checkpoints/<stage>`, the Structured Streaming
  checkpoint of the stage's one query. `read_checkpoint` gives its newest *committed*
  batch: the offsets it got to and when (the commit file's mtime).
- `progress_log(settings, stage)`: `<home>/metrics/<stage>.jsonl`, one Spark progress
  document (`StreamingQueryProgress.json`) per line, appended by `append_progress`.
  Silver writes one; Gold does not (its batch log is `pipeline_batches` in the warehouse).
  `read_progress` reads the lines back; `last_progress` only the newest, cheaply.

Examples:
    >>> from shopstream.config import load_settings
    >>> settings = load_settings(home="/tmp/shopstream-doctest")
    >>> checkpoint(settings, "silver").relative_to(settings.state_dir).as_posix()
    'checkpoints/silver'
    >>> progress_log(settings, "silver").relative_to(settings.state_dir).as_posix()
    'metrics/silver.jsonl'
    >>> read_checkpoint(checkpoint(settings, "nothing-here")) is None
    True
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from shopstream.config import Settings

# The newest line is all `last_progress` needs; one progress document is a few KiB.
_TAIL_BYTES = 65536


def checkpoint(settings: Settings, stage: str) -> Path:
    """The Spark checkpoint directory of a stage's query (`<home>/checkpoints/<stage>`)."""
    return settings.files.checkpoint(stage)


def progress_log(settings: Settings, stage: str) -> Path:
    """The file a stage appends its Spark progress to, one JSON line per batch."""
    return settings.files.progress_log(stage)


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class CheckpointProgress:
    """The newest committed batch of a Structured Streaming checkpoint."""

    batch_id: int
    offsets: dict[str, dict[int, int]]
    committed_at: float


def read_checkpoint(path: Path) -> CheckpointProgress | None:
    """Offsets (topic -> partition -> next offset) of the newest committed batch, or None."""
    commits = _batch_files(path / "commits")
    for batch_id in sorted(commits, reverse=True):
        offsets = _read_offsets(path / "offsets" / str(batch_id))
        if offsets is not None:
            with contextlib.suppress(OSError):
                return CheckpointProgress(batch_id, offsets, commits[batch_id].stat().st_mtime)
    return None


def query_id(path: Path) -> str | None:
    """The id of the query a checkpoint belongs to (its `metadata` file), None if unreadable.

    Every progress line carries it (`id`): lines of another id came from a query on an
    earlier checkpoint of the same directory.
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        value = json.loads((path / "metadata").read_text()).get("id")
        return str(value) if value else None
    return None


def _batch_files(directory: Path) -> dict[int, Path]:
    """Batch id -> file of a checkpoint's `offsets/` or `commits/` (Hadoop's .crc skipped)."""
    try:
        return {int(path.name): path for path in directory.iterdir() if path.name.isdigit()}
    except OSError:
        return {}


def _read_offsets(path: Path) -> dict[str, dict[int, int]] | None:
    """Parse an `offsets/<id>` file: "v1", metadata JSON, then one JSON line per source."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    offsets: dict[str, dict[int, int]] = {}
    for line in lines[2:]:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            for topic, partitions in json.loads(line).items():
                offsets.setdefault(topic, {}).update(
                    {int(partition): int(offset) for partition, offset in partitions.items()}
                )
    return offsets


# --------------------------------------------------------------------------- progress log


def append_progress(path: Path, progress: Mapping[str, Any]) -> None:
    """Append one progress as a JSON line (one write call, so lines never interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as log:
        log.write(orjson.dumps(progress) + b"\n")


def read_progress(path: Path, *, tail_bytes: int | None = None) -> list[dict[str, Any]]:
    """The progress documents of a log, oldest first; a torn line (crash mid-write) is skipped.

    `tail_bytes` reads only the end of the file (the log grows by a line per batch).
    """
    try:
        with path.open("rb") as log:
            start = 0
            if tail_bytes is not None:
                start = max(0, log.seek(0, 2) - tail_bytes)
                log.seek(start)
            lines = log.read().splitlines()
    except OSError:
        return []
    if start > 0:
        lines = lines[1:]  # the seek landed inside a line
    documents = []
    for line in lines:
        with contextlib.suppress(orjson.JSONDecodeError):
            document = orjson.loads(line)
            if isinstance(document, dict):
                documents.append(document)
    return documents


def last_progress(path: Path) -> dict[str, Any] | None:
    """The newest progress document of a log plus `_mtime` (the file's), or None."""
    documents = read_progress(path, tail_bytes=_TAIL_BYTES)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return documents[-1] | {"_mtime": mtime} if documents else None
