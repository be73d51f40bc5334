"""split_batch / parse_values: the pure part of Gold's foreachBatch."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from shopstream.contract import CLEAN_FIELDS, DEAD_LETTER_FIELDS, field_names
from shopstream.gold.job import GoldInputError, split_batch

SCHEMA = pa.schema(
    [
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("value", pa.binary()),
    ]
)


def _clean(event_id: str, amount: str | None = None) -> bytes:
    rec = {f: None for f in field_names(CLEAN_FIELDS)} | {
        "event_id": event_id,
        "event_type": "PURCHASE",
        "customer_id": "c1",
        "event_timestamp": "2026-11-24T23:59:59.999Z",
        "event_date": "2026-11-24",
        "quantity": 1,
        "source_partition": 0,
        "source_offset": 1,
        "produced_at": "2026-11-25T00:00:00.000Z",
        "validated_at": "2026-11-25T00:00:01.000Z",
    }
    text = json.dumps(rec)
    if amount is not None:  # numbers as Silver writes them, never through a float
        text = text.replace('"amount": null', f'"amount": {amount}')
    return text.encode()


def _dead(reason: str) -> bytes:
    rec = {f: None for f in field_names(DEAD_LETTER_FIELDS)} | {
        "reason": reason,
        "detail": "d",
        "source_topic": "raw",
        "source_partition": 2,
        "source_offset": 9,
        "processed_at": "2026-11-25T00:00:00.000Z",
        "raw_base64": "e30=",
    }
    return json.dumps(rec).encode()


def _table(rows: list[tuple[str, int, int, bytes]]) -> pa.Table:
    return pa.Table.from_pylist(
        [dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA
    )


def test_splits_parses_exactly_and_computes_offset_ranges() -> None:
    b = split_batch(
        _table(
            [
                ("clean", 0, 5, _clean("a", "1234567890123456.78")),
                ("clean", 0, 9, _clean("b")),
                ("clean", 2, 1, _clean("c", "0.10")),
                ("dlq", 0, 3, _dead("too_late")),
            ]
        ),
        "clean",
    )
    assert b.events.column("event_id").to_pylist() == ["a", "b", "c"]
    assert b.events.column_names == field_names(CLEAN_FIELDS)
    assert b.events.column("amount").to_pylist() == [
        Decimal("1234567890123456.78"),
        None,
        Decimal("0.10"),
    ]
    assert b.events.column("event_date").to_pylist()[0] == date(2026, 11, 24)
    ts = b.events.column("event_timestamp").to_pylist()[0]
    assert ts == datetime(2026, 11, 24, 23, 59, 59, 999000, tzinfo=UTC)
    assert b.dead_letters.column_names == field_names(DEAD_LETTER_FIELDS)
    assert b.dead_letters.column("reason").to_pylist() == ["too_late"]
    assert b.start_offsets == {"clean": {"0": 5, "2": 1}, "dlq": {"0": 3}}
    assert b.end_offsets == {"clean": {"0": 10, "2": 2}, "dlq": {"0": 4}}
    assert b.input_rows == 3


def test_empty_batch() -> None:
    b = split_batch(_table([]), "clean")
    assert b.events.num_rows == 0 and b.dead_letters.num_rows == 0
    assert b.start_offsets == {} and b.end_offsets == {}


def test_a_record_off_contract_fails_the_batch_loudly() -> None:
    with pytest.raises(GoldInputError, match="only Silver should write"):
        split_batch(_table([("clean", 0, 1, b'{"event_id": "x", "quantity": "lots"}')]), "clean")


def test_values_in_many_chunks_parse_like_one() -> None:
    rows = [("clean", 0, i, _clean(f"e{i}")) for i in range(5)]
    one = _table(rows)
    # Spark hands Arrow over in many record batches; slicing exercises chunk offsets too.
    chunked = pa.Table.from_batches(
        [*one.slice(1).to_batches(max_chunksize=2), pa.RecordBatch.from_pylist([], schema=SCHEMA)]
    )
    b = split_batch(pa.concat_tables([one.slice(0, 1), chunked]), "clean")
    assert b.events.column("event_id").to_pylist() == [f"e{i}" for i in range(5)]


def test_a_record_without_a_value_fails_the_batch_loudly() -> None:
    with pytest.raises(GoldInputError, match="no value"):
        split_batch(_table([("clean", 0, 1, _clean("a")), ("clean", 0, 2, None)]), "clean")  # type: ignore[list-item]


def test_records_longer_than_arrows_default_block_are_parsed() -> None:
    from shopstream.gold.job import _DEAD_READ, parse_values

    # The dead letter of an 8 MiB raw record: its base64 alone is 11 MB.
    big = {
        "reason": "unknown_event_type",
        "detail": "event_type 'XXX' is not one of PAGE_VIEW, ADD_TO_CART, PURCHASE",
        "source_topic": "raw",
        "source_partition": 0,
        "source_offset": 7,
        "source_key": None,
        "processed_at": "2026-12-01T00:00:00.000Z",
        "raw_base64": "A" * 11_000_000,
    }
    small = big | {"source_offset": 8, "raw_base64": "e30="}
    values = pa.array([json.dumps(r).encode() for r in (small, big, small)], pa.binary())
    table = parse_values(values, _DEAD_READ)
    assert table.column("source_offset").to_pylist() == [8, 7, 8]
    assert len(table.column("raw_base64")[1].as_py()) == 11_000_000
