"""split_batch: the pure part of Gold's foreachBatch."""

from __future__ import annotations

import pyarrow as pa

from shopstream.contract import CLEAN_FIELDS, DEAD_LETTER_FIELDS, field_names
from shopstream.gold.job import input_fields, split_batch


def _flat(rows: list[dict[str, object]]) -> pa.Table:
    cols = ["topic", "partition", "offset", *field_names(input_fields())]
    types = {"partition": pa.int32(), "offset": pa.int64(), "source_partition": pa.int32()}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in cols])
    return pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows], schema=schema)


def test_splits_by_topic_and_computes_offset_ranges() -> None:
    rows = [
        {"topic": "clean", "partition": 0, "offset": 5, "event_id": "a"},
        {"topic": "clean", "partition": 0, "offset": 9, "event_id": "b"},
        {"topic": "clean", "partition": 2, "offset": 1, "event_id": "c"},
        {"topic": "dlq", "partition": 0, "offset": 3, "reason": "too_late"},
    ]
    b = split_batch(_flat(rows), "clean")
    assert b.events.column("event_id").to_pylist() == ["a", "b", "c"]
    assert b.events.column_names == field_names(CLEAN_FIELDS)
    assert b.dead_letters.column_names == field_names(DEAD_LETTER_FIELDS)
    assert b.dead_letters.column("reason").to_pylist() == ["too_late"]
    assert b.start_offsets == {"clean": {"0": 5, "2": 1}, "dlq": {"0": 3}}
    assert b.end_offsets == {"clean": {"0": 10, "2": 2}, "dlq": {"0": 4}}
    assert b.input_rows == 3


def test_empty_batch() -> None:
    b = split_batch(_flat([]), "clean")
    assert b.events.num_rows == 0 and b.dead_letters.num_rows == 0
    assert b.start_offsets == {} and b.end_offsets == {}
