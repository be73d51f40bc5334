"""The Spark transform on static DataFrames: the corpus, a generated stream, and the outputs.

One Spark job classifies everything (the hand-written corpus plus a noisy batch from the
bronze generator); the tests then check it against the expected reasons, the generator's
own ground truth and the pure-Python reference, field by field.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from silver_corpus import CASES, NOW

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.noise import NoiseRates
from shopstream.config import Settings, load_settings
from shopstream.contract import CLEAN_FIELDS, DEAD_LETTER_FIELDS, REASONS, field_names
from shopstream.silver.reference import classify, derived_event_id
from shopstream.silver.transform import silver_transform

RAW_TOPIC, CLEAN_TOPIC, DLQ_TOPIC = "raw_t", "clean_t", "dlq_t"
PRODUCED_AT = NOW - timedelta(seconds=1)
GENERATED = 3000
# Every kind of noise, often: each invalid kind ~3%, each valid variant ~3%.
NOISE = NoiseRates(**{f: 0.03 for f in NoiseRates.__dataclass_fields__})


@dataclass(frozen=True)
class Row:
    """One input row and what Spark made of it."""

    partition: int
    offset: int
    key: bytes | None
    raw: bytes | None
    expected: str | None
    topic: str
    out_key: bytes | None
    value: dict[str, Any]
    reason: str | None


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home: Path = tmp_path_factory.mktemp("silver-unit")
    kafka = {"raw_topic": RAW_TOPIC, "clean_topic": CLEAN_TOPIC, "dead_letter_topic": DLQ_TOPIC}
    return load_settings(home=home, kafka=kafka)


@pytest.fixture(scope="module")
def rows(spark: Any, settings: Settings) -> list[Row]:
    from pyspark.sql import functions as F

    inputs: list[tuple[bytes | None, bytes | None, str | None]] = [
        (None if i % 4 == 0 else f"k{i}".encode(), raw, expected)
        for i, (_, raw, expected) in enumerate(CASES)
    ]
    config = GeneratorConfig.from_settings(
        settings, seed=5, now_ms=int(NOW.timestamp() * 1000), noise=NOISE
    )
    batch = EventGenerator(config).next_batch(GENERATED)
    inputs += [(batch.keys[i], batch.values[i], batch.reason_name(i)) for i in range(len(batch))]
    data = [
        (key, raw, RAW_TOPIC, i % 3, 1000 + i, PRODUCED_AT.replace(tzinfo=None))
        for i, (key, raw, _) in enumerate(inputs)
    ]
    schema = (
        "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP"
    )
    df = spark.createDataFrame(data, schema)
    out = silver_transform(df, settings, now=F.lit(NOW.replace(tzinfo=None)))
    collected = out.collect()
    assert len(collected) == len(inputs)
    result = []
    for (key, raw, expected), (_, _, _, part, off, _), r in zip(
        inputs, data, collected, strict=True
    ):
        value = json.loads(r.value, parse_float=Decimal)
        result.append(Row(part, off, key, raw, expected, r.topic, r.key, value, r.reason))
    return result


def _source_offset(row: Row) -> int:
    return int(row.value["source_offset"])


def test_row_order_is_kept_so_rows_align(rows: list[Row]) -> None:
    assert [_source_offset(r) for r in rows] == [r.offset for r in rows]


def test_every_corpus_case_gets_its_reason(rows: list[Row]) -> None:
    got = {name: r.reason for (name, _, _), r in zip(CASES, rows, strict=False)}
    want = {name: expected for name, _, expected in CASES}
    assert got == want


def test_generated_events_get_the_generator_ground_truth(rows: list[Row]) -> None:
    generated = rows[len(CASES) :]
    assert len(generated) == GENERATED
    mismatches = [(r.raw, r.expected, r.reason) for r in generated if r.reason != r.expected]
    assert mismatches == []
    # The batch exercised every reason, or the comparison above proves less than it claims.
    assert {r.reason for r in generated} >= set(REASONS)


def test_spark_agrees_with_the_python_reference(rows: list[Row]) -> None:
    diffs = []
    for r in rows:
        ref = classify(r.raw, now=NOW, topic=RAW_TOPIC, partition=r.partition, offset=r.offset)
        if ref.reason != r.reason:
            diffs.append((r.raw, r.reason, ref.reason))
        elif ref.clean is not None:
            want = _as_json_values(ref.clean)
            got = {k: v for k, v in r.value.items() if k not in ("produced_at", "validated_at")}
            if got != want:
                diffs.append((r.raw, got, want))
    assert diffs == []


def _as_json_values(clean: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in clean.items():
        if k in ("produced_at", "validated_at"):
            continue
        if isinstance(v, datetime):
            v = v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        elif hasattr(v, "isoformat"):
            v = v.isoformat()
        out[k] = v
    return out


def test_nothing_is_lost_every_row_goes_to_exactly_one_topic(rows: list[Row]) -> None:
    clean = [r for r in rows if r.topic == CLEAN_TOPIC]
    dead = [r for r in rows if r.topic == DLQ_TOPIC]
    assert len(clean) + len(dead) == len(rows)
    assert all(r.reason is None for r in clean)
    assert all(r.reason in REASONS for r in dead)


def test_clean_values_carry_exactly_the_contract_fields(rows: list[Row]) -> None:
    for r in rows:
        if r.topic == CLEAN_TOPIC:
            assert list(r.value) == field_names(CLEAN_FIELDS)
            assert r.out_key == r.value["customer_id"].encode()
            assert r.value["validated_at"] == "2026-11-25T12:00:00.000Z"
            assert r.value["produced_at"] == "2026-11-25T11:59:59.000Z"
            assert r.value["event_type"] in ("PAGE_VIEW", "ADD_TO_CART", "PURCHASE")


def test_dead_letters_keep_raw_bytes_key_coordinates_and_detail(rows: list[Row]) -> None:
    for r in rows:
        if r.topic != DLQ_TOPIC:
            continue
        v = r.value
        assert list(v) == field_names(DEAD_LETTER_FIELDS)
        assert v["reason"] == r.reason
        assert v["detail"]
        assert (v["source_topic"], v["source_partition"], v["source_offset"]) == (
            RAW_TOPIC, r.partition, r.offset
        )  # fmt: skip
        assert r.out_key == r.key
        assert v["source_key"] == (r.key.decode() if r.key is not None else None)
        raw = None if v["raw_base64"] is None else base64.b64decode(v["raw_base64"])
        assert raw == r.raw
        assert v["processed_at"] == "2026-11-25T12:00:00.000Z"


def test_details_name_the_offending_value(rows: list[Row]) -> None:
    by_name = {name: r for (name, _, _), r in zip(CASES, rows, strict=False)}
    assert by_name["type unknown"].value["detail"].startswith("event_type 'CLICK' is not one of")
    assert "'12,50'" in by_name["amount comma"].value["detail"]
    assert by_name["invalid utf-8"].value["detail"] == "value is not valid UTF-8"
    assert "an array" in by_name["array"].value["detail"]
    assert "CHF" in by_name["currency unsupported"].value["detail"]


def test_missing_event_id_derived_from_coordinates_like_the_reference(rows: list[Row]) -> None:
    by_name = {name: r for (name, _, _), r in zip(CASES, rows, strict=False)}
    for name in ("missing event id", "blank event id"):
        r = by_name[name]
        assert r.value["event_id"] == derived_event_id(RAW_TOPIC, r.partition, r.offset)


def test_amounts_rounded_half_up_and_converted(rows: list[Row]) -> None:
    by_name = {name: r for (name, _, _), r in zip(CASES, rows, strict=False)}
    assert by_name["amount half-up"].value["amount"] == Decimal("1.01")
    eur = by_name["currency lower case"].value
    assert (eur["currency"], eur["amount"], eur["reporting_amount"]) == (
        "EUR", Decimal("10.50"), Decimal("11.34")
    )  # fmt: skip
    ts = by_name["iso with offset"].value["event_timestamp"]
    assert ts == "2026-11-25T09:00:00.000Z"  # 11:00+02:00 -> UTC


def test_a_dead_letters_text_is_cut_but_its_key_and_raw_bytes_stay_whole(
    spark: Any, settings: Settings
) -> None:
    from pyspark.sql import functions as F

    from shopstream.silver.transform import DEAD_LETTER_TEXT_CHARS

    key = b"\x01" * 5000  # written as \u0001 in JSON: six times its size, if not cut
    raw = b'{"customer_id":"c","amount":"' + b"0" * 5000 + b'1","event_type":"PURCHASE"}'
    schema = (
        "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP"
    )
    produced = PRODUCED_AT.replace(tzinfo=None)
    df = spark.createDataFrame([(key, raw, RAW_TOPIC, 0, 0, produced)], schema)
    [row] = silver_transform(df, settings, now=F.lit(NOW.replace(tzinfo=None))).collect()
    value = json.loads(row.value)
    assert row.topic == DLQ_TOPIC and row.key == key
    assert value["source_key"] == "\x01" * DEAD_LETTER_TEXT_CHARS
    assert len(value["detail"]) <= DEAD_LETTER_TEXT_CHARS
    assert base64.b64decode(value["raw_base64"]) == raw
