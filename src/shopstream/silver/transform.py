"""The Silver transform as Spark column expressions: raw Kafka rows -> clean or dead-letter rows.

`silver_transform` is pure (a DataFrame in, a DataFrame out), so it runs the same on a
static DataFrame in a test and on the Kafka stream in `job.start_silver`. Each record is
parsed once, reduced to the facts the rules need (see `rules.py`), classified by the
first failing rule, and rendered as the value of a clean_events or dead_letter message,
with the target topic in a per-row `topic` column so one query (one checkpoint, one pass)
feeds both topics.

Parsing and rendering JSON were most of Silver's cost, so by default they run in Silver's
JVM codec (`jvm/silver`, Java UDFs): it parses the raw bytes with Jackson the way Spark's
`from_json` does and writes records the way `to_json` does, byte for byte.
`codec="spark"` runs Spark's own `from_json` / `to_json` instead; the tests hold the two
to identical output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from shopstream.config import Settings
from shopstream.contract import (
    AMOUNT_RE,
    AMOUNT_SQL_TYPE,
    CLEAN_FIELDS,
    DEAD_LETTER_FIELDS,
    EPOCH_MILLIS_RE,
    EVENT_ID_NAMESPACE,
    FUTURE_TOLERANCE,
    ISO_TIMESTAMP_RE,
    QUANTITY_RE,
    RAW_FIELDS,
    Field,
    field_names,
)
from shopstream.silver.rules import WHITESPACE, detail_column, reason_column

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

UTF8_BOM = b"\xef\xbb\xbf"
# A dead letter's human-readable text fields are cut to this many characters, so its size
# is the raw value's base64 plus a constant: the raw key can be as large as the broker
# allows and grows up to 6x when written as JSON (\u0001). The message's Kafka key and
# raw_base64 keep the original bytes whole, so replay is unaffected.
DEAD_LETTER_TEXT_CHARS = 1024
# Rates carry up to 10 decimals; products are rounded half-up to cents afterwards.
RATE_SQL_TYPE = "DECIMAL(20,10)"
# Kafka-record columns the transform reads (what the Kafka source provides).
INPUT_COLUMNS = ("key", "value", "topic", "partition", "offset", "timestamp")
# Strict JSON: single quotes and NaN/Infinity are not JSON.
JSON_OPTIONS = {
    "mode": "PERMISSIVE",
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
    "allowUnquotedControlChars": "false",
}
# Null fields stay in the output: clean_events values carry exactly CLEAN_FIELDS.
TO_JSON_OPTIONS = {"ignoreNullFields": "false"}
Codec = Literal["jvm", "spark"]
# Silver's JVM codec (jvm/silver), registered as Java UDFs on the session.
PARSE_UDF = "shopstream_parse_raw"
RENDER_UDF = "shopstream_render_json"
_PARSE_CLASS = "dev.shopstream.silver.ParseRaw"
_RENDER_CLASS = "dev.shopstream.silver.RenderJson"
# Spark type -> the renderer's name for it.
_RENDER_KINDS = {
    "STRING": "string",
    "INT": "int",
    "BIGINT": "bigint",
    "DECIMAL": "decimal",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
}


def event_id_digest(topic: Column, partition: Column, offset: Column) -> Column:
    """SHA-1 (hex) of EVENT_ID_NAMESPACE + "topic:partition:offset", the input of uuid5."""
    from pyspark.sql import functions as F

    name = F.concat_ws(":", topic, partition.cast("string"), offset.cast("string"))
    return F.sha1(F.concat(F.lit(bytearray(EVENT_ID_NAMESPACE.bytes)), F.encode(name, "UTF-8")))


def uuid5_from_digest(digest: Column) -> Column:
    """uuid5(EVENT_ID_NAMESPACE, "topic:partition:offset") from `event_id_digest`.

    A replayed Kafka record (same coordinates) gets the same id, so Gold still dedups it.
    `digest` must be a column, not an expression: it is read six times.
    """
    from pyspark.sql import functions as F

    # RFC 4122 version 5: version nibble = 5, variant bits = 10xx.
    variant = F.translate(F.substring(digest, 17, 1), "0123456789abcdef", "89ab89ab89ab89ab")
    return F.concat(
        F.substring(digest, 1, 8), F.lit("-"),
        F.substring(digest, 9, 4), F.lit("-5"),
        F.substring(digest, 14, 3), F.lit("-"),
        variant, F.substring(digest, 18, 3), F.lit("-"),
        F.substring(digest, 21, 12),
    )  # fmt: skip


def json_trim(col: Column) -> Column:
    """Strip JSON whitespace from both ends; nearly free when neither end is whitespace.

    Spark's trim with a character set walks and copies the whole string on every call
    (it was Silver's hottest function), so it only runs when an end character sorts at or
    below a space, which every JSON whitespace character does.
    """
    from pyspark.sql import functions as F

    one = F.lit(1)
    at_edge = (F.left(col, one) <= F.lit(" ")) | (F.right(col, one) <= F.lit(" "))
    return F.when(at_edge, F.btrim(col, F.lit(WHITESPACE))).otherwise(col)


def _trimmed_or_null(col: Column) -> Column:
    """Trim JSON whitespace; blank becomes NULL (absent, null and "" all mean missing)."""
    from pyspark.sql import functions as F

    # Fields are short, and json_trim's code per field costs more than it saves.
    t = F.btrim(col, F.lit(WHITESPACE))
    # octet_length is O(1); length() counts characters.
    return F.when(F.octet_length(t) > 0, t)


def _rate_map(settings: Settings) -> Column:
    from pyspark.sql import functions as F

    pairs = []
    for code, rate in sorted(settings.pipeline.currency_rates.items()):
        pairs += [F.lit(code), F.lit(str(rate)).cast(RATE_SQL_TYPE)]
    return F.create_map(*pairs)


def horizon_seconds(settings: Settings) -> int:
    """The lateness horizon in whole seconds (shared with the Python reference)."""
    return int(settings.pipeline.lateness_horizon_days * 86_400)


def register_codec(spark: SparkSession) -> None:
    """Register Silver's JVM codec UDFs on `spark` (its jar is on spark.jars; idempotent)."""
    from pyspark.sql.types import BooleanType, StringType, StructField, StructType

    parsed = StructType(
        [
            StructField("first", StringType()),
            StructField("braced", BooleanType()),
            StructField("record", _raw_struct()),
        ]
    )
    spark.udf.registerJavaFunction(PARSE_UDF, _PARSE_CLASS, parsed)
    spark.udf.registerJavaFunction(RENDER_UDF, _RENDER_CLASS, StringType())


def _raw_struct() -> StructType:
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType([StructField(f.name, StringType()) for f in RAW_FIELDS])


def _parse_spark(df: DataFrame) -> DataFrame:
    """Step 2 with Spark's from_json. The text is wrapped in [ ] so that anything after the
    first value ("{...}}", "{...} junk", "{...}{...}") fails the parse instead of being ignored.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType

    c = F.col
    df = df.select("*", c("_body").cast("string").alias("_text"))
    trimmed = json_trim(c("_text"))
    df = df.select(
        "*",
        F.coalesce(F.octet_length(trimmed) == 0, F.lit(True)).alias("_empty"),
        (trimmed.startswith("{") & trimmed.endswith("}")).alias("_braced"),
        F.substring(trimmed, 1, 1).alias("_first"),
    )
    usable = c("_valid_utf8") & ~c("_empty")
    wrapped = F.concat(F.lit("["), c("_text"), F.lit("]"))
    parsed = F.when(usable, F.from_json(wrapped, ArrayType(_raw_struct()), JSON_OPTIONS))
    df = df.select("*", parsed.alias("_parsed"))
    df = df.select("*", c("_parsed")[0].alias("_r"))
    single = (F.size(c("_parsed")) == 1) & c("_r").isNotNull()
    return df.select("*", (c("_braced") & single).alias("_object"))


def _parse_jvm(df: DataFrame) -> DataFrame:
    """Step 2 with the codec's ParseRaw (same facts as `_parse_spark`, see ParseRaw.java).

    It also finds the first and last character after JSON whitespace on the bytes: in
    Spark, counting characters and trimming the whole text took a fifth of the transform.
    The text is only needed to describe records that are not objects, so only they get it.
    """
    from pyspark.sql import functions as F

    c = F.col
    fields = F.lit(",".join(f.name for f in RAW_FIELDS))
    parsed = F.when(c("_valid_utf8"), F.call_udf(PARSE_UDF, c("_body"), fields))
    df = df.select("*", parsed.alias("_p"))
    p = c("_p")
    df = df.select(
        "*",
        p["first"].isNull().alias("_empty"),
        p["first"].alias("_first"),
        p["record"].alias("_r"),
        (p["braced"] & p["record"].isNotNull()).alias("_object"),
    )
    not_object = ~F.coalesce(c("_object"), F.lit(False))
    return df.select("*", F.when(not_object, c("_body").cast("string")).alias("_text"))


def silver_transform(
    raw: DataFrame, settings: Settings, now: Column | None = None, codec: Codec = "jvm"
) -> DataFrame:
    """Classify and normalize raw Kafka rows; return `topic, key, value, reason` rows.

    `raw` has the Kafka source's columns (key, value, topic, partition, offset, timestamp).
    Clean rows go to `kafka.clean_topic` with value = JSON of `contract.CLEAN_FIELDS` and
    key = customer_id; rejected rows go to `kafka.dead_letter_topic` with value = JSON of
    `contract.DEAD_LETTER_FIELDS` and the raw key. `reason` is NULL for clean rows.
    `now` (default: the micro-batch's processing time) anchors the time rules. `codec`
    picks who parses and writes JSON (see the module docstring); the output is the same.
    """
    from pyspark.sql import functions as F

    if codec == "jvm":
        register_codec(raw.sparkSession)
    df = _decoded(raw, now if now is not None else F.current_timestamp())
    df = _parsed(df, codec)
    df = _derived(_facts(df), settings)
    # 4. Classify: the first failing rule, in contract order.
    df = df.select("*", reason_column().alias("reason"))
    df = df.select("*", detail_column(F.col("reason")).alias("_detail"))
    return _rendered(df, settings, codec)


def _decoded(raw: DataFrame, now: Column) -> DataFrame:
    """1. Bytes: invalid UTF-8 is detected, a leading BOM is dropped."""
    from pyspark.sql import functions as F

    value = F.col("value")
    body = F.when(
        F.substring(value, 1, 3) == F.lit(bytearray(UTF8_BOM)), F.expr("substring(value, 4)")
    ).otherwise(value)
    return raw.select(
        *[F.col(n) for n in INPUT_COLUMNS],
        F.coalesce(F.expr("is_valid_utf8(value)"), F.lit(True)).alias("_valid_utf8"),
        body.alias("_body"),
        now.alias("_now"),
    )


def _parsed(df: DataFrame, codec: Codec) -> DataFrame:
    """2. Parse once: _empty, _first (first character after JSON whitespace), _r (the
    object's fields), _object (exactly one object, nothing after it), _text."""
    from pyspark.sql import functions as F

    c = F.col
    df = _parse_jvm(df) if codec == "jvm" else _parse_spark(df)
    usable = c("_valid_utf8") & ~c("_empty")
    is_object = c("_object")
    # Only for records that are not objects: is it some other JSON value, or garbage?
    other_json = F.expr("try_parse_json(_text)").isNotNull()
    is_json = (
        F.when(~usable, F.lit(False))
        .when(is_object, F.lit(True))
        .when(c("_first") == "{", F.lit(False))
        .otherwise(other_json)
    )
    kind = (
        F.when(c("_first") == "[", F.lit("an array"))
        .when(c("_first") == '"', F.lit("a string"))
        .when(c("_first") == "n", F.lit("null"))
        .when(c("_first").isin("t", "f"), F.lit("a boolean"))
        .otherwise(F.lit("a number"))
    )
    return df.select(
        *[c(n) for n in INPUT_COLUMNS],
        "_valid_utf8", "_empty", "_text", "_now",
        F.coalesce(is_object, F.lit(False)).alias("_is_object"),
        F.coalesce(is_json, F.lit(False)).alias("_is_json"),
        kind.alias("_json_kind"),
        c("_r"),
    )  # fmt: skip


def _facts(df: DataFrame) -> DataFrame:
    """3. Facts: every field trimmed, normalized and parsed, or NULL when unusable."""
    from pyspark.sql import functions as F

    r = F.col("_r")
    ts_raw = _trimmed_or_null(r["event_timestamp"])
    amount_raw = _trimmed_or_null(r["amount"])
    quantity_raw = _trimmed_or_null(r["quantity"])
    return df.select(
        "*",
        _trimmed_or_null(r["customer_id"]).alias("customer_id"),
        r["event_type"].alias("_event_type_raw"),
        F.upper(_trimmed_or_null(r["event_type"])).alias("event_type"),
        ts_raw.alias("_ts_raw"),
        amount_raw.alias("_amount_raw"),
        F.when(amount_raw.rlike(AMOUNT_RE), amount_raw.try_cast(AMOUNT_SQL_TYPE)).alias("_amt"),
        F.upper(_trimmed_or_null(r["currency"])).alias("_currency"),
        F.when(
            ts_raw.rlike(ISO_TIMESTAMP_RE),
            F.date_trunc("millisecond", ts_raw.try_cast("timestamp")),
        )
        .when(ts_raw.rlike(EPOCH_MILLIS_RE), F.timestamp_millis(ts_raw.cast("bigint")))
        .alias("event_timestamp"),
        F.when(
            quantity_raw.rlike(QUANTITY_RE) & (quantity_raw.cast("int") >= 1),
            quantity_raw.cast("int"),
        )
        .otherwise(F.lit(1))
        .alias("quantity"),
        _trimmed_or_null(r["event_id"]).alias("_event_id_raw"),
        *[
            _trimmed_or_null(r[n]).alias(n)
            for n in ("session_id", "product_id", "category", "device")
        ],
    )


def _derived(df: DataFrame, settings: Settings) -> DataFrame:
    """3b. What the rules compare against: event id, amount, rate, the time limits."""
    from pyspark.sql import functions as F

    c = F.col
    df = df.select(
        "*",
        # Hashed in its own column: inside the uuid expression it would be generated 6 times.
        F.when(
            c("_event_id_raw").isNull(), event_id_digest(c("topic"), c("partition"), c("offset"))
        ).alias("_event_id_digest"),
        F.when(c("_amt") > 0, c("_amt")).alias("amount"),
        F.try_element_at(_rate_map(settings), c("_currency")).alias("_rate"),
        (c("_now") + F.expr(f"INTERVAL {int(FUTURE_TOLERANCE.total_seconds())} SECONDS")).alias(
            "_future_limit"
        ),
        (c("_now") - F.expr(f"INTERVAL {horizon_seconds(settings)} SECONDS")).alias("_late_limit"),
        F.date_format(c("_now"), "yyyy-MM-dd'T'HH:mm:ss'Z'").alias("_now_text"),
    )
    return df.select(
        "*",
        F.coalesce(c("_event_id_raw"), uuid5_from_digest(c("_event_id_digest"))).alias("event_id"),
        F.round(c("amount") * c("_rate"), 2).try_cast(AMOUNT_SQL_TYPE).alias("reporting_amount"),
    )


def _rendered(df: DataFrame, settings: Settings, codec: Codec) -> DataFrame:
    """5. Render both outputs; `when` evaluates only the branch a row takes."""
    from pyspark.sql import functions as F

    c, k = F.col, settings.kafka
    has_amount = c("_amount_raw").isNotNull()
    clean_cols: dict[str, Column] = {
        "event_id": c("event_id"),
        "event_type": c("event_type"),
        "customer_id": c("customer_id"),
        "event_timestamp": c("event_timestamp"),
        "event_date": F.to_date(c("event_timestamp")),
        "amount": c("amount"),
        # A currency without an amount carries no meaning; it is dropped, not validated.
        "currency": F.when(has_amount, c("_currency")),
        "reporting_amount": c("reporting_amount"),
        "session_id": c("session_id"),
        "product_id": c("product_id"),
        "category": c("category"),
        "quantity": c("quantity"),
        "device": c("device"),
        "source_partition": c("partition"),
        "source_offset": c("offset"),
        "produced_at": c("timestamp"),
        "validated_at": c("_now"),
    }
    dead_cols: dict[str, Column] = {
        "reason": c("reason"),
        "detail": F.substring(c("_detail"), 1, DEAD_LETTER_TEXT_CHARS),
        "source_topic": c("topic"),
        "source_partition": c("partition"),
        "source_offset": c("offset"),
        "source_key": F.substring(c("key").cast("string"), 1, DEAD_LETTER_TEXT_CHARS),
        "processed_at": c("_now"),
        "raw_base64": F.base64(c("value")),
    }
    # The codec writes UTC only; Spark's to_json follows the session time zone.
    utc = df.sparkSession.conf.get("spark.sql.session.timeZone") == "UTC"
    render_codec: Codec = codec if utc else "spark"
    clean_value = render_json(clean_cols, CLEAN_FIELDS, render_codec)
    dead_value = render_json(dead_cols, DEAD_LETTER_FIELDS, render_codec)
    is_clean = c("reason").isNull()
    return df.select(
        F.when(is_clean, F.lit(k.clean_topic)).otherwise(F.lit(k.dead_letter_topic)).alias("topic"),
        F.when(is_clean, F.encode(c("customer_id"), "UTF-8")).otherwise(c("key")).alias("key"),
        F.when(is_clean, clean_value).otherwise(dead_value).alias("value"),
        c("reason"),
    )


def render_json(cols: dict[str, Column], fields: tuple[Field, ...], codec: Codec) -> Column:
    """JSON of exactly the contract's fields, each cast to its declared type."""
    from pyspark.sql import functions as F

    missing = set(field_names(fields)) ^ set(cols)
    assert not missing, f"transform and contract disagree on fields: {sorted(missing)}"
    typed = {f.name: cols[f.name].cast(f.spark_type) for f in fields}
    if codec == "spark":
        struct = F.struct(*[col.alias(name) for name, col in typed.items()])
        return F.to_json(struct, TO_JSON_OPTIONS)
    kinds = [_RENDER_KINDS.get(f.spark_type.split("(")[0], "") for f in fields]
    assert all(kinds), f"the codec cannot render {[f.spark_type for f in fields]}"
    # Times go over as numbers, as RenderJson.java expects (see why there).
    numeric = {"timestamp": F.unix_micros, "date": F.unix_date}
    struct = F.struct(
        *[
            (numeric[kind](typed[f.name]) if kind in numeric else typed[f.name]).alias(f.name)
            for f, kind in zip(fields, kinds, strict=True)
        ]
    )
    return F.call_udf(RENDER_UDF, struct, F.lit(",".join(kinds)))


def kafka_columns(df: DataFrame) -> DataFrame:
    """Only what the Kafka sink writes: topic, key, value."""
    return df.select("topic", "key", "value")
