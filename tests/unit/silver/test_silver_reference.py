"""The rules through the pure-Python reference: every corpus case, rounding, ids, times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from silver_corpus import CASES, NOW, event

from shopstream.config import load_settings
from shopstream.contract import REASONS
from shopstream.silver import rules
from shopstream.silver.reference import (
    classify,
    derived_event_id,
    java_double_text,
    parse_amount,
    parse_timestamp,
)


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_corpus_case_gets_its_reason(raw: bytes | None, expected: str | None) -> None:
    assert classify(raw, now=NOW).reason == expected


def test_rules_follow_the_contract_order_and_describe_themselves() -> None:
    assert [r.reason.value for r in rules.RULES] == list(REASONS)
    table = rules.describe()
    assert [row["reason"] for row in table] == list(REASONS)
    assert all(row["description"] for row in table)


@pytest.mark.parametrize(
    ("text", "cents"),
    [("1.005", "1.01"), ("1.004", "1.00"), ("0.005", "0.01"), ("2.675", "2.68"), ("1e2", "100.00"),
     ("9999999999999999.99", "9999999999999999.99")],
)  # fmt: skip
def test_amount_rounds_half_up_to_cents(text: str, cents: str) -> None:
    assert parse_amount(text) == Decimal(cents)


@pytest.mark.parametrize("text", ["9999999999999999.995", "1e16", "abc", "1,5", "NaN", "1e99999"])
def test_amount_outside_decimal_18_2_is_none(text: str) -> None:
    assert parse_amount(text) is None


def test_reporting_amount_converted_at_the_configured_rate_half_up() -> None:
    settings = load_settings(
        pipeline={"currency_rates": {"USD": "1", "EUR": "1.08", "CHF": "1.125"}}
    )
    eur = classify(event(amount="2.50", currency="eur"), now=NOW, settings=settings)
    assert eur.clean is not None
    assert (eur.clean["amount"], eur.clean["reporting_amount"]) == (
        Decimal("2.50"),
        Decimal("2.70"),
    )
    chf = classify(event(amount="0.02", currency="CHF"), now=NOW, settings=settings)
    assert chf.clean is not None and chf.clean["reporting_amount"] == Decimal("0.02")  # 0.0225 up
    assert classify(event(currency="CHF"), now=NOW).reason == "unsupported_currency"


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-25T13:30:00+02:00", "2026-11-25T11:30:00"),
        ("2026-11-25T13:30:00.123456789-0500", "2026-11-25T18:30:00.123000"),
        ("2026-11-25 13:30:00", "2026-11-25T13:30:00"),
        ("1795609800000", "2026-11-25T12:30:00"),
    ],
)
def test_event_time_normalized_to_utc_milliseconds(text: str, utc: str) -> None:
    ts = parse_timestamp(text)
    assert ts is not None and ts.tzinfo is UTC
    assert ts.replace(tzinfo=None) == datetime.fromisoformat(utc)


def test_missing_event_id_is_a_name_based_uuid_of_the_kafka_coordinates() -> None:
    res = classify(event(event_id=...), now=NOW, topic="raw_events", partition=2, offset=41)
    assert res.clean is not None
    eid = res.clean["event_id"]
    assert eid == derived_event_id("raw_events", 2, 41)
    assert uuid.UUID(eid).version == 5
    again = classify(event(event_id=...), now=NOW, topic="raw_events", partition=2, offset=41)
    assert again.clean is not None and again.clean["event_id"] == eid
    assert derived_event_id("raw_events", 2, 42) != eid


def test_clean_record_is_normalized() -> None:
    raw = event(event_type=" add_to_cart ", customer_id=" c-9 ", currency="gbp", amount="3.333",
                quantity="x", event_timestamp="2026-11-25T12:58:00+02:00")  # fmt: skip
    res = classify(raw, now=NOW, partition=1, offset=7)
    assert res.reason is None and res.clean is not None
    c = res.clean
    assert (c["event_type"], c["customer_id"], c["currency"]) == ("ADD_TO_CART", "c-9", "GBP")
    assert (c["amount"], c["reporting_amount"], c["quantity"]) == (
        Decimal("3.33"), Decimal("4.23"), 1
    )  # fmt: skip
    assert c["event_timestamp"] == datetime(2026, 11, 25, 10, 58, tzinfo=UTC)
    assert (c["source_partition"], c["source_offset"]) == (1, 7)


@pytest.mark.parametrize(
    ("token", "spelled"),
    [("1.50", "1.5"), ("1E2", "100.0"), ("12345678.9", "1.23456789E7"), ("0.0001", "1.0E-4"),
     ("1e309", '"Infinity"'), ("-0.0", "-0.0"), ("1e20", "1.0E20")],
)  # fmt: skip
def test_float_tokens_spelled_like_spark_reads_them(token: str, spelled: str) -> None:
    assert java_double_text(token) == spelled


def test_silvers_sink_takes_the_largest_output_of_a_raw_record_at_the_limit() -> None:
    from shopstream.config import load_settings
    from shopstream.silver.job import output_limit, sink_options

    raw_limit = 8 * 1024 * 1024
    settings = load_settings(kafka={"bootstrap_servers": "h:1"})
    options = sink_options(settings, output_limit(raw_limit))
    request = int(options["kafka.max.request.size"])
    # A dead letter (base64) and a clean record (customer id twice, escaped) both fit.
    assert request >= raw_limit * 4 // 3 and request >= 2 * raw_limit
    assert int(options["kafka.buffer.memory"]) >= request
    assert "kafka.max.request.size" not in sink_options(settings)
