"""A deliberately simple, pure-Python reading of the event contract (docs/design.md), row by row.

It shares no code with the generator: it parses the bytes that were produced, applies the
rules in contract order (first failure wins) and aggregates with `Decimal`. Tests compare
its results with the generator's truth, which catches generator/truth drift.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

TYPES = ("PAGE_VIEW", "ADD_TO_CART", "PURCHASE")
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999999.99")  # DECIMAL(18,2)


def _reject_constant(name: str) -> None:
    raise ValueError(f"not JSON: {name}")


def parse(raw: bytes) -> Any:
    """JSON value with every scalar kept as its text (numbers as str), or raise ValueError."""
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    return json.loads(text, parse_float=str, parse_int=str, parse_constant=_reject_constant)


def _text(v: Any) -> str | None:
    """A field read as text, as Spark reads a STRING field: null stays None."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else json.dumps(v)


def _timestamp(s: str) -> datetime | None:
    if re.fullmatch(r"-?\d+", s):
        return datetime.fromtimestamp(int(s) / 1000, UTC)
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def classify(raw: bytes, now: datetime, rates: dict[str, Decimal], horizon_days: float) -> dict:
    """{'reason': code} or the normalized clean record."""
    try:
        obj = parse(raw)
    except ValueError:
        return {"reason": "malformed_json"}
    if not isinstance(obj, dict):
        return {"reason": "not_an_object"}
    cust = _text(obj.get("customer_id"))
    if cust is None or not cust.strip(" "):
        return {"reason": "missing_customer_id"}
    etype = _text(obj.get("event_type"))
    etype = etype.strip(" ").upper() if etype is not None else None
    if etype not in TYPES:
        return {"reason": "unknown_event_type"}
    ts_text = _text(obj.get("event_timestamp"))
    ts = _timestamp(ts_text) if ts_text else None
    if ts is None:
        return {"reason": "invalid_timestamp"}
    if ts > now + timedelta(minutes=5):
        return {"reason": "future_timestamp"}
    if ts < now - timedelta(days=horizon_days):
        return {"reason": "too_late"}
    amount_text = _text(obj.get("amount"))
    amount = None
    if amount_text is not None:
        try:
            amount = Decimal(amount_text)
        except InvalidOperation:
            return {"reason": "invalid_amount"}
        if not amount.is_finite() or amount <= 0:
            return {"reason": "invalid_amount"}
        amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
        if amount > MAX_AMOUNT:
            return {"reason": "invalid_amount"}
    if etype == "PURCHASE" and amount is None:
        return {"reason": "missing_amount"}
    currency = _text(obj.get("currency"))
    if amount is not None and currency is None:
        return {"reason": "missing_currency"}
    if currency is not None:
        if not re.fullmatch(r"[A-Za-z]{3}", currency):
            return {"reason": "invalid_currency"}
        currency = currency.upper()
        if currency not in rates:
            return {"reason": "unsupported_currency"}
    reporting = None
    if amount is not None:
        reporting = (amount * rates[currency]).quantize(CENT, rounding=ROUND_HALF_UP)
    qty_text = _text(obj.get("quantity"))
    return {
        "reason": None,
        "event_id": _text(obj.get("event_id")),
        "event_type": etype,
        "customer_id": cust.strip(" "),
        "event_timestamp": ts,
        "amount": amount,
        "currency": currency,
        "reporting_amount": reporting,
        "product_id": _text(obj.get("product_id")),
        "category": _text(obj.get("category")),
        "quantity": int(qty_text) if qty_text and qty_text.isdigit() and int(qty_text) >= 1 else 1,
        "session_id": _text(obj.get("session_id")),
        "device": _text(obj.get("device")),
    }


def recompute(
    values: list[bytes], now: datetime, rates: dict[str, Decimal], horizon_days: float
) -> dict[str, Any]:
    """Counts and gold aggregates a correct pipeline ends with, from the bytes alone."""
    by_reason: Counter[str] = Counter()
    seen: set[str] = set()
    clean = dups = 0
    daily: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0, 0, Decimal("0.00")])
    hourly: dict[str, list] = defaultdict(lambda: [0, 0, 0, Decimal("0.00")])
    products: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0, Decimal("0.00")])
    by_type: Counter[str] = Counter()
    # session_id -> [customer, device, first, last, views, carts, purchases, units, revenue]
    sessions: dict[str, list] = {}
    for raw in values:
        rec = classify(raw, now, rates, horizon_days)
        if rec["reason"]:
            by_reason[rec["reason"]] += 1
            continue
        clean += 1
        eid = rec["event_id"]
        if eid is not None:  # events without an id get a unique derived one
            if eid in seen:
                dups += 1
                continue
            seen.add(eid)
        t = TYPES.index(rec["event_type"])
        by_type[rec["event_type"]] += 1
        ts = rec["event_timestamp"]
        day = daily[(rec["customer_id"], ts.date().isoformat())]
        hour = hourly[ts.strftime("%Y-%m-%dT%H:00:00Z")]
        day[t] += 1
        hour[t] += 1
        prod = products[rec["product_id"]] if rec["product_id"] else None
        if prod is not None:
            prod[t] += 1
        if rec["session_id"] is not None:
            row = sessions.setdefault(
                rec["session_id"],
                [rec["customer_id"], rec["device"], ts, ts, 0, 0, 0, 0, Decimal("0.00")],
            )
            row[2], row[3] = min(row[2], ts), max(row[3], ts)
            row[4 + t] += 1
            if rec["event_type"] == "PURCHASE":
                row[7] += rec["quantity"]
                row[8] += rec["reporting_amount"]
        if rec["event_type"] == "PURCHASE":
            day[3] += rec["reporting_amount"]
            hour[3] += rec["reporting_amount"]
            if prod is not None:
                prod[3] += rec["quantity"]
                prod[4] += rec["reporting_amount"]
    return {
        "raw": len(values),
        "clean": clean,
        "duplicates": dups,
        "unique": clean - dups,
        "by_reason": dict(by_reason),
        "by_event_type": dict(by_type),
        "customer_daily_metrics": {k: (v[0], v[1], v[2], str(v[3])) for k, v in daily.items()},
        "hourly_metrics": {k: (v[0], v[1], v[2], str(v[3])) for k, v in hourly.items()},
        "product_metrics": {k: (v[0], v[1], v[2], v[3], str(v[4])) for k, v in products.items()},
        "revenue_total": str(sum((v[3] for v in daily.values()), Decimal("0.00"))),
        "sessions": {
            k: (v[0], v[1], _iso(v[2]), _iso(v[3]), v[4], v[5], v[6], v[7], str(v[8]))
            for k, v in sessions.items()
        },
    }


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
