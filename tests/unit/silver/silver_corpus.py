"""A corpus of raw Kafka values, each with the outcome the contract requires.

Shared by the pure-Python and the Spark tests (and the integration test), so both
engines are held to one list. Times are relative to `NOW`, which tests pin.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
OK = None
H = timedelta(hours=1)
D = timedelta(days=1)
Case = tuple[str, bytes | None, str | None]


def raw(text: str) -> bytes:
    return text.encode()


def build_cases(now: datetime) -> list[Case]:
    """(case id, raw value, expected reason or None for clean), times relative to `now`."""

    def iso(delta: timedelta = timedelta(0), fmt: str = "%Y-%m-%dT%H:%M:%S.%fZ") -> str:
        return (now + delta).strftime(fmt)

    def millis(delta: timedelta = timedelta(0)) -> int:
        return int((now + delta).timestamp() * 1000)

    def event(**fields: object) -> bytes:
        return make_event(now, **fields)

    return [
        ("canonical purchase", event(), OK),
        ("page view without amount", event(event_type="PAGE_VIEW", amount=..., currency=...), OK),
        ("lower-case padded type", event(event_type="  add_to_cart "), OK),
        ("currency lower case", event(currency="eur"), OK),
        ("amount as string", event(amount="19.99"), OK),
        ("amount half-up", event(amount=1.005), OK),
        ("amount exponent", event(amount="1e2"), OK),
        ("epoch millis number", event(event_timestamp=millis(-H)), OK),
        ("epoch millis string", event(event_timestamp=str(millis(-H))), OK),
        ("iso with offset", event(event_timestamp=iso(-H, "%Y-%m-%dT%H:%M:%S+02:00")), OK),
        ("iso naive", event(event_timestamp=iso(-H, "%Y-%m-%dT%H:%M:%S")), OK),
        ("iso with space", event(event_timestamp=iso(-H, "%Y-%m-%d %H:%M:%S")), OK),
        ("missing event id", event(event_id=...), OK),
        ("blank event id", event(event_id="  "), OK),
        ("numbers as strings", event(quantity="3", customer_id=12345), OK),
        ("bad quantity defaults", event(quantity=-4), OK),
        ("seed hints ignored", event(is_valid=False, invalid_field="amount"), OK),
        ("utf8 bom", b"\xef\xbb\xbf" + event(), OK),
        ("unicode customer", event(customer_id="kund\u00e9-\u6771\u4eac"), OK),
        (
            "duplicate keys, last wins",
            raw(event()[:-1].decode() + ', "event_type": "PAGE_VIEW"}'),
            OK,
        ),
        ("surrounding whitespace", b" \n" + event() + b"\r\n ", OK),
        (
            "nested extra fields",
            raw(event()[:-1].decode() + ', "meta": {"a": [1, {"b": null}]}}'),
            OK,
        ),
        ("late but within horizon", event(event_timestamp=iso(-6 * D)), OK),
        ("slightly ahead", event(event_timestamp=iso(timedelta(minutes=4))), OK),
        # malformed_json
        ("empty message", b"", "malformed_json"),
        ("null value", None, "malformed_json"),
        ("whitespace only", b"  \n ", "malformed_json"),
        ("invalid utf-8", b'{"customer_id":"\xff\xfe"}', "malformed_json"),
        ("truncated", event()[:25], "malformed_json"),
        ("single quotes", event().replace(b'"', b"'"), "malformed_json"),
        ("trailing brace", event() + b"}", "malformed_json"),
        ("trailing junk", event() + b" junk", "malformed_json"),
        ("two objects", event() + event(), "malformed_json"),
        ("trailing comma", event()[:-1] + b",}", "malformed_json"),
        ("bare NaN", raw(event()[:-1].decode() + ', "x": NaN}'), "malformed_json"),
        ("bare Infinity amount", event().replace(b"10.5", b"Infinity"), "malformed_json"),
        ("leading zero number", event().replace(b"10.5", b"010.5"), "malformed_json"),
        ("plain text", b"not json at all", "malformed_json"),
        ("deep nesting", b'{"a":' * 2000 + b"1" + b"}" * 2000, "malformed_json"),
        ("control char in string", b'{"customer_id":"a\x01b"}', "malformed_json"),
        # not_an_object
        ("array", b"[1, 2]", "not_an_object"),
        ("array of events", b"[" + event() + b"]", "not_an_object"),
        ("empty array", b"[]", "not_an_object"),
        ("number", b"42", "not_an_object"),
        ("string", b'"PURCHASE"', "not_an_object"),
        ("json null", b"null", "not_an_object"),
        ("boolean", b"true", "not_an_object"),
        # field rules, in order
        ("empty object", b"{}", "missing_customer_id"),
        ("customer null", event(customer_id=None), "missing_customer_id"),
        ("customer blank", event(customer_id=" \t "), "missing_customer_id"),
        ("customer absent", event(customer_id=...), "missing_customer_id"),
        ("type unknown", event(event_type="CLICK"), "unknown_event_type"),
        ("type blank", event(event_type=""), "unknown_event_type"),
        ("type absent", event(event_type=...), "unknown_event_type"),
        ("type number", event(event_type=3), "unknown_event_type"),
        ("type nested", event(event_type={"v": "PURCHASE"}), "unknown_event_type"),
        ("timestamp garbage", event(event_timestamp="yesterday"), "invalid_timestamp"),
        ("timestamp absent", event(event_timestamp=...), "invalid_timestamp"),
        ("timestamp date only", event(event_timestamp="2026-11-25"), "invalid_timestamp"),
        ("year only = 2026 epoch millis", event(event_timestamp="2026"), "too_late"),
        ("timestamp bad day", event(event_timestamp="2026-02-30T10:00:00Z"), "invalid_timestamp"),
        ("timestamp float millis", event(event_timestamp=millis() + 0.5), "invalid_timestamp"),
        ("timestamp boolean", event(event_timestamp=True), "invalid_timestamp"),
        ("future", event(event_timestamp=iso(timedelta(minutes=10))), "future_timestamp"),
        ("far future millis", event(event_timestamp=millis(30 * D)), "future_timestamp"),
        ("too late", event(event_timestamp=iso(-8 * D)), "too_late"),
        ("epoch zero", event(event_timestamp=0), "too_late"),
        ("amount negative", event(amount=-1), "invalid_amount"),
        ("amount zero", event(amount=0), "invalid_amount"),
        ("amount rounds to zero", event(amount=0.004), "invalid_amount"),
        ("amount text", event(amount="abc"), "invalid_amount"),
        ("amount comma", event(amount="12,50"), "invalid_amount"),
        ("amount NaN string", event(amount="NaN"), "invalid_amount"),
        ("amount 1e309", event().replace(b"10.5", b"1e309"), "invalid_amount"),
        ("amount huge integer", event(amount=10**30), "invalid_amount"),
        ("amount too many digits", event(amount="12345678901234567.5"), "invalid_amount"),
        ("amount boolean", event(amount=True), "invalid_amount"),
        ("amount object", event(amount={"v": 1}), "invalid_amount"),
        ("amount invalid beats currency", event(amount="x", currency=...), "invalid_amount"),
        ("purchase without amount", event(amount=..., currency=...), "missing_amount"),
        ("purchase amount null", event(amount=None), "missing_amount"),
        ("purchase amount blank", event(amount=" "), "missing_amount"),
        ("currency absent", event(currency=...), "missing_currency"),
        ("currency null", event(currency=None), "missing_currency"),
        ("currency two letters", event(currency="US"), "invalid_currency"),
        ("currency digits", event(currency=840), "invalid_currency"),
        ("currency symbol", event(currency="$"), "invalid_currency"),
        ("currency unsupported", event(currency="CHF"), "unsupported_currency"),
        (
            "page view bad currency",
            event(event_type="PAGE_VIEW", currency="ZZZ"),
            "unsupported_currency",
        ),
        (
            "first rule wins",
            event(customer_id=None, event_type="X", amount="y"),
            "missing_customer_id",
        ),
    ]


def make_event(now: datetime, **fields: object) -> bytes:
    """A valid purchase a minute before `now` unless overridden; `...` leaves a field out."""
    base: dict[str, object] = {
        "event_id": "e-1",
        "event_type": "PURCHASE",
        "customer_id": "c-1",
        "event_timestamp": (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "amount": 10.5,
        "currency": "USD",
        "product_id": "p-1",
        "quantity": 2,
    }
    base |= fields
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def event(**fields: object) -> bytes:
    """`make_event` at the pinned NOW."""
    return make_event(NOW, **fields)


CASES: list[Case] = build_cases(NOW)
