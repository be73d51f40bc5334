"""Silver's JVM codec (jvm/silver) against Spark's own from_json / to_json: identical output.

Both codecs transform the same rows (the corpus, a noisy generated batch and parser edge
cases the corpus does not need); `exceptAll` in both directions must find nothing. The
renderer is also compared with `to_json` on values the transform never produces.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from silver_corpus import CASES, NOW

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.noise import NoiseRates
from shopstream.config import Settings, load_settings
from shopstream.contract import AMOUNT_SQL_TYPE, Field
from shopstream.silver.transform import register_codec, render_json, silver_transform

NOISE = NoiseRates(**{f: 0.03 for f in NoiseRates.__dataclass_fields__})
_OK = (
    b'"event_type":"PURCHASE","event_timestamp":"2026-11-25T11:00:00Z","amount":1,"currency":"USD"'
)
# Inputs where a parser could plausibly differ from Spark's: partial results after a broken
# field, numbers and nested values in text fields, escapes, stray brackets, odd UTF-8.
EDGE_CASES: list[bytes] = [
    b'{"customer_id":"c1",' + _OK + b',"event_type":[1,]]}',
    b'{"customer_id":"c1",' + _OK + b',"event_type":{"a":1,}}}',
    b'{"customer_id":"c1",' + _OK + b',"device":[1,]]',
    b'{"customer_id":"c1",' + _OK + b"}] , [{}",
    b'{"customer_id":"c1",' + _OK + b"},{}",
    b'{"customer_id":1.50,' + _OK + b',"session_id":1e400,"product_id":-0.0,"device":1E2}',
    b'{"customer_id":12345678901234567890123,' + _OK + b',"category":123.456e-7}',
    b'{"customer_id":{"x":[1,"\\u00e9\\n",{"y":null}]},' + _OK + b"}",
    b'{"customer_id":"\\ud800\\u00e9\\"\\\\\\/",' + _OK + b',"device":"\\u0000"}',
    b'{"customer_id":"c1",' + _OK + b',"customer_id":null}',
    b'{"customer_id":"c1",' + _OK + b',"event_id":"",  "quantity":"2.0"}',
    '{"customer_id":"k\u00fcnde \U0001f600",'.encode() + _OK + b"}",
    b'{"customer_id":"c1",' + _OK + b',"x":[1,}',
    b'{"customer_id":"c1",' + _OK + b',"event_type":"PAGE_VIEW","event_type":[}',
    b"\xef\xbb\xbf\xef\xbb\xbf{}",
    b'{"customer_id":"\xed\xa0\x80"}',
    b"{}}{",
    b"[{}]",
    b"",
    b"{",
    b'"\\u0000"',
    b"\r\n{ }\t",
    b"\t \xc3\xa9 ",
    b"\x01{}",
    b" \x00 ",
    b"\xf0\x9f\x98\x80",
    b" [ ] ",
    b"\n\ttrue",
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home: Path = tmp_path_factory.mktemp("silver-codec")
    return load_settings(home=home)


@pytest.fixture(scope="module")
def raw(spark: Any, settings: Settings) -> Any:
    config = GeneratorConfig.from_settings(
        settings, seed=7, now_ms=int(NOW.timestamp() * 1000), noise=NOISE
    )
    batch = EventGenerator(config).next_batch(3000)
    values = [raw for _, raw, _ in CASES] + EDGE_CASES + list(batch.values)
    produced = (NOW - timedelta(seconds=1)).replace(tzinfo=None)
    data = [
        (None if i % 5 == 0 else f"k{i}".encode(), v, "raw_events", i % 3, i, produced)
        for i, v in enumerate(values)
    ]
    schema = (
        "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP"
    )
    return spark.createDataFrame(data, schema)


def test_jvm_codec_output_equals_spark_from_json_to_json(raw: Any, settings: Settings) -> None:
    from pyspark.sql import functions as F

    now = F.lit(NOW.replace(tzinfo=None))
    spark_out = silver_transform(raw, settings, now=now, codec="spark")
    jvm_out = silver_transform(raw, settings, now=now, codec="jvm")
    assert jvm_out.count() == spark_out.count() == raw.count()
    # Rows, not counts: a failure shows what differs.
    assert jvm_out.exceptAll(spark_out).collect() == []
    assert spark_out.exceptAll(jvm_out).collect() == []
    # The edge cases reach past the first rules, or the comparison proves less than it claims.
    reasons = {r.reason for r in jvm_out.select("reason").distinct().collect()}
    assert {None, "malformed_json", "not_an_object", "unknown_event_type"} <= reasons


def test_renderer_writes_what_to_json_writes_for_any_value(spark: Any) -> None:
    from pyspark.sql import functions as F

    register_codec(spark)
    rows = spark.sql(
        """
        SELECT * FROM VALUES
          ('a"b\\\\c\\n\\t\\u0001 é 東 \\u2028', 0, 0L, 0.01BD,
           TIMESTAMP'2026-11-25 12:00:00.123456'),
          (NULL, -2147483648, -9223372036854775808L, 9999999999999999.99BD,
           TIMESTAMP'1969-12-31 23:59:59.999'),
          ('', 2147483647, 9223372036854775807L, NULL, TIMESTAMP'0001-01-01 00:00:00'),
          ('x', NULL, NULL, -1.5BD, TIMESTAMP'1582-10-10 10:10:10'),
          ('y', 1, 1L, 0BD, TIMESTAMP'9999-12-31 23:59:59.999999'),
          ('z', 1, 1L, 0BD, NULL)
        AS t(s, i, l, d, ts)
        """
    )
    fields = tuple(
        Field(name, sql_type, False, "")
        for name, sql_type in [
            ("s", "VARCHAR"),
            ("i", "INTEGER"),
            ("l", "BIGINT"),
            ("d", AMOUNT_SQL_TYPE),
            ("ts", "TIMESTAMP"),
            ("day", "DATE"),
        ]
    )
    cols = {f.name: F.col(f.name) for f in fields[:-1]} | {"day": F.to_date("ts")}
    got = rows.select(render_json(cols, fields, "jvm").alias("j"))
    want = rows.select(render_json(cols, fields, "spark").alias("j"))
    assert got.exceptAll(want).collect() == []
    assert want.exceptAll(got).collect() == []
    assert got.count() == 6
