"""Silver's progress listener as the JVM calls it: one JSON string per progress, recorded
once per batch for the queries it watches, and nothing for the others (Gold's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shopstream.silver.job import _ProgressJson, _Recorder
from shopstream.spark.checkpoints import read_progress


class _JProgress:
    def __init__(self, doc: dict[str, Any]) -> None:
        self._text = json.dumps(doc)

    def json(self) -> str:
        return self._text


class _JEvent:
    """A py4j QueryProgressEvent: the listener may ask it for the progress's JSON only."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self._progress = _JProgress(doc)

    def progress(self) -> _JProgress:
        return self._progress


def _progress(query: str, batch: int, rows: int) -> dict[str, Any]:
    return {"id": query, "batchId": batch, "numInputRows": rows, "observedMetrics": {}}


def test_each_watched_batch_is_recorded_once_and_other_queries_are_ignored(
    tmp_path: Path,
) -> None:
    rec = _Recorder()
    rec.watch("silver", tmp_path / "silver.jsonl")
    listener = _ProgressJson(rec.record)
    for doc in (
        _progress("silver", 0, 10),
        _progress("gold", 0, 99),
        _progress("silver", 1, 5),
        _progress("silver", 1, 5),  # delivered again (flush after the listener)
    ):
        listener.onQueryProgress(_JEvent(doc))
    assert [p["batchId"] for p in read_progress(tmp_path / "silver.jsonl")] == [0, 1]
    assert rec.totals["silver"].batches == 2
    assert not (tmp_path / "gold.jsonl").exists()
