"""A pure-Python twin of the Silver transform: the same facts and rules, no Spark.

It exists to make the rules testable in milliseconds and to cross-check the Spark job:
tests feed one corpus to both and require identical reasons and normalized values. It
mirrors the Spark side's observable quirks on purpose (documented where they happen), e.g.
JSON numbers in text fields are read through a double, as Spark's JSON reader does.

Examples:
    >>> from datetime import datetime, timezone
    >>> now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    >>> raw = b'{"event_type":"purchase","customer_id":"c1","event_timestamp":"2026-11-25"}'
    >>> classify(raw, now=now).reason
    'invalid_timestamp'
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from shopstream.config import Settings
from shopstream.contract import (
    AMOUNT_PRECISION,
    AMOUNT_RE,
    AMOUNT_SCALE,
    EPOCH_MILLIS_RE,
    EVENT_ID_NAMESPACE,
    FUTURE_TOLERANCE,
    ISO_TIMESTAMP_RE,
    QUANTITY_RE,
    RAW_FIELDS,
)
from shopstream.silver.rules import WHITESPACE, Facts, first_failure
from shopstream.silver.transform import UTF8_BOM, horizon_seconds

_ISO = re.compile(ISO_TIMESTAMP_RE)
_EPOCH = re.compile(EPOCH_MILLIS_RE)
_AMOUNT = re.compile(AMOUNT_RE)
_QUANTITY = re.compile(QUANTITY_RE)
_CENT = Decimal(1).scaleb(-AMOUNT_SCALE)
_AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_PRECISION - AMOUNT_SCALE)
_RATE_QUANTUM = Decimal(1).scaleb(-10)
_RAW_NAMES = {f.name for f in RAW_FIELDS}


@dataclass(frozen=True)
class Result:
    """Outcome for one record: a reason (dead letter) or the normalized clean fields."""

    reason: str | None
    facts: Facts
    clean: dict[str, Any] | None


class _Float(str):
    """A JSON float token (its text), so text fields can render it the way Spark does."""


class _Int(str):
    """A JSON integer token (its text, kept exactly, as Spark does)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    parse_float=_Float, parse_int=_Int, parse_constant=_reject_constant, strict=True
)


def java_double_text(token: str) -> str:
    """How Spark's JSON reader spells a float token read into a STRING field (Double.toString)."""
    d = float(token)
    if math.isinf(d):
        return '"Infinity"' if d > 0 else '"-Infinity"'
    if d == 0:
        return "-0.0" if math.copysign(1, d) < 0 else "0.0"
    if 1e-3 <= abs(d) < 1e7:
        text = repr(d)
        return text if "." in text or "e" in text else text + ".0"
    sign, digits, exp = Decimal(repr(d)).normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    e = exp + len(digits) - 1
    frac = mantissa[1:] or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{frac}E{e}"


def _text(v: Any) -> str | None:
    """A parsed JSON value as Spark returns it for a STRING field (None = null/absent)."""
    if v is None:
        return None
    if isinstance(v, _Float):
        return java_double_text(v)
    if isinstance(v, str):
        return str(v)
    if v is True or v is False:
        return "true" if v else "false"
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _trimmed(v: str | None) -> str | None:
    if v is None:
        return None
    t = v.strip(WHITESPACE)
    return t or None


def parse_timestamp(text: str | None) -> datetime | None:
    """ISO-8601 (no offset = UTC) or epoch millis -> aware UTC datetime, millisecond precision."""
    if text is None:
        return None
    try:
        if _ISO.match(text):
            ts = datetime.fromisoformat(text)
            ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        elif _EPOCH.match(text):
            ts = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(text))
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def parse_amount(text: str | None) -> Decimal | None:
    """A decimal string -> DECIMAL(18,2) rounded half-up, or None if not a number that fits."""
    if text is None or not _AMOUNT.match(text):
        return None
    try:
        value = Decimal(text).quantize(_CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    return value if abs(value) < _AMOUNT_LIMIT else None


def derived_event_id(topic: str, partition: int, offset: int) -> str:
    """The id Silver gives a record without event_id: uuid5 of its Kafka coordinates."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{topic}:{partition}:{offset}"))


def _facts_of_text(text: str, facts: Facts) -> dict[str, Any] | None:
    trimmed = text.strip(WHITESPACE)
    if not trimmed:
        facts.empty = True
        return None
    if trimmed.startswith("{") and trimmed.endswith("}"):
        try:
            obj = _DECODER.decode(trimmed)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            facts.is_json = facts.is_object = True
            return obj
    if trimmed.startswith("{"):
        return None  # an object that does not parse strictly is malformed
    # Not an object: any JSON value at the start (Spark's variant parser is as lenient).
    try:
        _DECODER.raw_decode(trimmed)
        facts.is_json = True
    except (ValueError, RecursionError):
        return None
    facts.json_kind = {"[": "an array", '"': "a string", "n": "null"}.get(trimmed[0], "")
    return None


def classify(
    raw: bytes | None,
    *,
    now: datetime,
    settings: Settings | None = None,
    topic: str = "raw_events",
    partition: int = 0,
    offset: int = 0,
    produced_at: datetime | None = None,
) -> Result:
    """Classify one raw Kafka value exactly as the Spark job does; pure, no I/O."""
    settings = settings or Settings()
    now = now.astimezone(UTC)
    facts = Facts(now=now)
    facts.future_limit = now + FUTURE_TOLERANCE
    facts.late_limit = now - timedelta(seconds=horizon_seconds(settings))
    obj: dict[str, Any] | None = None
    if raw is None:
        facts.empty = True
    else:
        body = raw[len(UTF8_BOM) :] if raw.startswith(UTF8_BOM) else raw
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            facts.valid_utf8 = False
        else:
            obj = _facts_of_text(text, facts)
    fields: dict[str, str | None] = {n: None for n in _RAW_NAMES}
    if obj is not None:
        fields |= {n: _text(obj.get(n)) for n in _RAW_NAMES}
    facts.customer_id = _trimmed(fields["customer_id"])
    facts.event_type_raw = fields["event_type"]
    et = _trimmed(fields["event_type"])
    facts.event_type = et.upper() if et else None
    facts.ts_raw = _trimmed(fields["event_timestamp"])
    facts.ts = parse_timestamp(facts.ts_raw)
    facts.amount_raw = _trimmed(fields["amount"])
    amount = parse_amount(facts.amount_raw)
    facts.amount = amount if amount is not None and amount > 0 else None
    cur = _trimmed(fields["currency"])
    facts.currency = cur.upper() if cur else None
    rates = settings.pipeline.currency_rates
    rate = rates.get(facts.currency) if facts.currency else None
    facts.rate = rate.quantize(_RATE_QUANTUM, rounding=ROUND_HALF_UP) if rate is not None else None
    if facts.amount is not None and facts.rate is not None:
        rep = (facts.amount * facts.rate).quantize(_CENT, rounding=ROUND_HALF_UP)
        facts.reporting_amount = rep if abs(rep) < _AMOUNT_LIMIT else None
    reason = first_failure(facts)
    if reason is not None:
        return Result(reason.value, facts, None)
    quantity = _trimmed(fields["quantity"])
    assert facts.ts is not None
    clean = {
        "event_id": _trimmed(fields["event_id"]) or derived_event_id(topic, partition, offset),
        "event_type": facts.event_type,
        "customer_id": facts.customer_id,
        "event_timestamp": facts.ts,
        "event_date": facts.ts.date(),
        "amount": facts.amount,
        "currency": facts.currency if facts.amount_raw is not None else None,
        "reporting_amount": facts.reporting_amount,
        "session_id": _trimmed(fields["session_id"]),
        "product_id": _trimmed(fields["product_id"]),
        "category": _trimmed(fields["category"]),
        "quantity": int(quantity) if quantity and _QUANTITY.match(quantity) and int(quantity) >= 1
        else 1,
        "device": _trimmed(fields["device"]),
        "source_partition": partition,
        "source_offset": offset,
        "produced_at": produced_at,
        "validated_at": now,
    }  # fmt: skip
    return Result(None, facts, clean)
