"""Builders of clean events and dead letters for warehouse tests (imported by the tests)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from shopstream.warehouse import DEAD_LETTERS_SCHEMA, EVENTS_SCHEMA

T0 = datetime(2026, 11, 20, 10, 15, 0)
_offsets = itertools.count(1)


def make_event(
    event_id: str,
    event_type: str = "PAGE_VIEW",
    customer_id: str = "c1",
    ts: datetime = T0,
    amount: str | Decimal | None = None,
    *,
    currency: str = "USD",
    rate: Decimal = Decimal("1"),
    product_id: str | None = "p1",
    category: str | None = "books",
    quantity: int = 1,
) -> dict[str, Any]:
    """One clean event as Gold hands it over (reporting_amount = amount * rate, 2 places)."""
    amt = Decimal(amount) if amount is not None else None
    return {
        "event_id": event_id,
        "event_type": event_type,
        "customer_id": customer_id,
        "event_timestamp": ts,
        "event_date": ts.date(),
        "amount": amt,
        "currency": currency if amt is not None else None,
        "reporting_amount": (amt * rate).quantize(Decimal("0.01")) if amt is not None else None,
        "session_id": f"s-{customer_id}",
        "product_id": product_id,
        "category": category,
        "quantity": quantity,
        "device": "mobile",
        "source_partition": 0,
        "source_offset": next(_offsets),
        "produced_at": ts,
        "validated_at": ts + timedelta(seconds=1),
    }


def events_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Arrow table in the canonical events schema."""
    return pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)


def make_dead_letter(
    offset: int, reason: str | None = "invalid_amount", topic: str = "raw_events"
) -> dict[str, Any]:
    """One dead-letter record."""
    return {
        "reason": reason,
        "detail": f"bad record at {offset}",
        "source_topic": topic,
        "source_partition": 1,
        "source_offset": offset,
        "source_key": "c9",
        "processed_at": T0,
        "raw_base64": "eyJ4IjoxfQ==",
    }


def dead_letters_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Arrow table in the canonical dead-letter schema."""
    return pa.Table.from_pylist(rows, schema=DEAD_LETTERS_SCHEMA)


def day(n: int) -> date:
    """T0's date shifted by n days."""
    return (T0 + timedelta(days=n)).date()
