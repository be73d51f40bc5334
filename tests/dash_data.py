"""The known dataset of the dashboard and status tests, committed through the real
`commit_batch`, and their two fixtures (imported by tests/unit/{dashboard,status}/conftest.py):
a real DuckDB warehouse holding it, and settings whose Kafka is a closed port (unreachable
at once)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from shopstream.config import Settings, load_settings
from shopstream.ports import free_port
from shopstream.warehouse import (
    DEAD_LETTERS_SCHEMA,
    EVENTS_SCHEMA,
    BatchMeta,
    Warehouse,
    open_warehouse,
)

T0 = datetime(2026, 11, 24, 9, 0, 0)

# (event_id, type, customer, minutes after T0, amount, category)
EVENTS: list[tuple[str, str, str, int, str | None, str | None]] = [
    ("e01", "PAGE_VIEW", "alice", 0, None, "electronics"),
    ("e02", "ADD_TO_CART", "alice", 1, None, "electronics"),
    ("e03", "PURCHASE", "alice", 2, "600.00", "electronics"),
    ("e04", "PAGE_VIEW", "bob", 5, None, "books"),
    ("e05", "PURCHASE", "bob", 6, "520.00", "books"),
    ("e06", "PAGE_VIEW", "carol", 10, None, "toys"),
    ("e07", "ADD_TO_CART", "carol", 11, None, "toys"),
    ("e08", "PAGE_VIEW", "erin", 12, None, None),
    ("e09", "PAGE_VIEW", "alice", 65, None, "books"),
    ("e10", "PURCHASE", "alice", 66, "500.00", "books"),
    ("e11", "PURCHASE", "carol", 70, "150.00", "toys"),
    ("e12", "PAGE_VIEW", "dave", 71, None, "toys"),
    ("e13", "PURCHASE", "dave", 72, "20.00", None),
]
# Batch 2 repeats e05: Gold must count it as a duplicate and add nothing.
BATCHES = [EVENTS[:8], [*EVENTS[8:], EVENTS[4]]]
DEAD_LETTERS = [
    (1, "invalid_amount"),
    (2, "invalid_amount"),
    (3, "invalid_amount"),
    (4, "malformed_json"),
]

EXPECTED = {
    "total_revenue": 1790.0,
    "orders": 5,
    "active_customers": 5,
    "purchasing_customers": 4,
    "page_views": 6,
    "duplicates": 1,
    "unique": 13,
    "tiers": {"alice": "VIP", "bob": "Premium", "carol": "Regular", "dave": "New", "erin": "New"},
}


def _event(row: tuple[str, str, str, int, str | None, str | None], offset: int) -> dict[str, Any]:
    event_id, kind, customer, minutes, amount, category = row
    ts = T0 + timedelta(minutes=minutes)
    amt = Decimal(amount) if amount else None
    return {
        "event_id": event_id,
        "event_type": kind,
        "customer_id": customer,
        "event_timestamp": ts,
        "event_date": ts.date(),
        "amount": amt,
        "currency": "USD" if amt else None,
        "reporting_amount": amt,
        "session_id": f"s-{customer}",
        "product_id": f"p-{category}",
        "category": category,
        "quantity": 1,
        "device": "desktop",
        "source_partition": offset % 3,
        "source_offset": offset,
        "produced_at": ts,
        "validated_at": ts,
    }


def _dead_letter(offset: int, reason: str) -> dict[str, Any]:
    return {
        "reason": reason,
        "detail": f"{reason} at offset {offset}",
        "source_topic": "raw_events",
        "source_partition": 0,
        "source_offset": offset,
        "source_key": "x",
        "processed_at": T0 + timedelta(minutes=offset),
        # base64 of '{"amount":"-1"}': the page shows the decoded bytes.
        "raw_base64": "eyJhbW91bnQiOiItMSJ9",
    }


def fill(wh: Warehouse) -> None:
    """Commit the known dataset as two Gold batches (dead letters in the first)."""
    offset = 0
    for batch_id, rows in enumerate(BATCHES):
        events = [_event(r, offset + i) for i, r in enumerate(rows)]
        offset += len(rows)
        dls = [_dead_letter(o, r) for o, r in DEAD_LETTERS] if batch_id == 0 else []
        wh.commit_batch(
            pa.Table.from_pylist(events, schema=EVENTS_SCHEMA),
            pa.Table.from_pylist(dls, schema=DEAD_LETTERS_SCHEMA),
            BatchMeta(
                "gold",
                "query-1",
                batch_id,
                end_offsets={"clean_events": {"0": offset}}
                | ({"dead_letter": {"0": len(dls)}} if dls else {}),
                input_rows=len(rows),
            ),
        )


def resend_everything(wh: Warehouse, batch_id: int) -> None:
    """Commit every record of `fill` again in one batch, as a Silver re-send after a crash."""
    offset, events = 0, []
    for rows in BATCHES:
        events += [_event(r, offset + i) for i, r in enumerate(rows)]
        offset += len(rows)
    wh.commit_batch(
        pa.Table.from_pylist(events, schema=EVENTS_SCHEMA),
        pa.Table.from_pylist([_dead_letter(o, r) for o, r in DEAD_LETTERS], DEAD_LETTERS_SCHEMA),
        BatchMeta(
            "gold",
            "query-1",
            batch_id,
            end_offsets={
                "clean_events": {"0": 2 * offset},
                "dead_letter": {"0": 2 * len(DEAD_LETTERS)},
            },
            input_rows=len(events),
        ),
    )


def insert_alert(
    wh: Warehouse,
    rule: str,
    started_at: datetime,
    resolved_at: datetime | None = None,
    expected: float = 512.0,
    observed: float = 0.0,
    p_value: float = 1e-30,
) -> None:
    """One row of `alerts` as the monitor writes it, severity and summary from RULES."""
    from shopstream.alerts.rules import RULES

    (r,) = [r for r in RULES if r.name == rule]
    detected = started_at + timedelta(minutes=1)
    wh.execute(
        "INSERT INTO alerts (rule, severity, summary, started_at, resolved_at, expected, "
        "observed, p_value, detected_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [rule, r.severity, r.summary, started_at, resolved_at, expected, observed, p_value,
         detected, resolved_at or detected],
    )  # fmt: skip


def resolve_alert(wh: Warehouse, rule: str, started_at: datetime, resolved_at: datetime) -> None:
    """Resolve an open episode, as the monitor does once the rule is back within bounds."""
    wh.execute(
        "UPDATE alerts SET resolved_at = ?, updated_at = ? WHERE rule = ? AND started_at = ?",
        [resolved_at, resolved_at, rule, started_at],
    )


def add_alerts(wh: Warehouse) -> None:
    """Two open episodes and two resolved ones, on four rules."""
    h = timedelta(hours=1)
    insert_alert(wh, "BadRelease", T0, resolved_at=T0 + h / 2, expected=3.0, observed=40.0)
    insert_alert(wh, "PaymentFailures", T0 + h, resolved_at=T0 + h * 1.2)
    insert_alert(wh, "CheckoutOutage", T0 + 2 * h, expected=512.0, observed=0.0, p_value=1e-30)
    insert_alert(wh, "TrafficDrop", T0 + 3 * h, expected=900.0, observed=90.0, p_value=1e-9)


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    """A home under tmp_path; Kafka points at a port nobody listens on."""
    return load_settings(
        home=tmp_path / "home",
        kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"},
        pipeline={"stall_seconds": 5},
    )


@pytest.fixture
def filled_wh(offline_settings: Settings) -> Iterator[Warehouse]:
    """The writer's warehouse holding the known dataset."""
    wh = open_warehouse(offline_settings)
    try:
        wh.init()
        fill(wh)
        yield wh
    finally:
        wh.close()
