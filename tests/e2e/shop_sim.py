"""A shop that keeps committing Gold batches into a real warehouse, for browser tests.

It plays the Gold stage's part (clean events + dead letters -> `Warehouse.commit_batch`,
one transaction per batch) without Spark, so the page can be watched while numbers move
and paused to compare what the page shows with what the warehouse holds.
"""

from __future__ import annotations

import base64
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from shopstream.warehouse import DEAD_LETTERS_SCHEMA, EVENTS_SCHEMA, BatchMeta, Warehouse

CATEGORIES = ("electronics", "books", "fashion", "home", "toys", "sports", "beauty")
PRICE = {
    "electronics": 180,
    "books": 22,
    "fashion": 65,
    "home": 90,
    "toys": 35,
    "sports": 75,
    "beauty": 30,
}
REASONS = ("invalid_amount", "missing_customer_id", "malformed_json", "unknown_event_type")


class ShopSimulator(threading.Thread):
    """Commits a batch of shopper sessions every `interval` seconds until stopped."""

    def __init__(self, wh: Warehouse, interval: float = 0.4, seed: int = 7) -> None:
        super().__init__(name="shop-sim", daemon=True)
        self.wh = wh
        self.interval = interval
        self.rng = random.Random(seed)
        self.running = threading.Event()
        self.running.set()
        self.stopped = threading.Event()
        self.idle = threading.Event()
        self.batches = 0
        self.error: BaseException | None = None
        self._offset = 0
        self._customers = [f"cust-{i:04d}" for i in range(1, 121)]
        # A few big spenders so every tier shows up.
        self._weights = [30 if i < 4 else 6 if i < 15 else 1 for i in range(len(self._customers))]
        self.backfill_hours = 11

    def run(self) -> None:
        try:
            self._commit(self._backfill())
            while not self.stopped.is_set():
                if self.running.is_set():
                    self.idle.clear()
                    self._commit(self._sessions(self.rng.randint(3, 8), datetime.now(UTC)))
                else:
                    self.idle.set()
                self.stopped.wait(self.interval)
        except BaseException as err:  # surfaced by the test, never swallowed
            self.error = err
            raise

    def pause(self) -> None:
        """Stop committing; returns once no commit is in flight."""
        self.running.clear()
        self.idle.wait(10)

    def stop(self) -> None:
        self.stopped.set()
        self.join(10)

    def _backfill(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        for h in range(self.backfill_hours, 0, -1):
            rows += self._sessions(self.rng.randint(8, 20), now - timedelta(hours=h))
        return rows

    def _sessions(self, n: int, at: datetime) -> list[dict[str, Any]]:
        rows = []
        for _ in range(n):
            customer = self.rng.choices(self._customers, self._weights)[0]
            category = self.rng.choice(CATEGORIES)
            ts = at.replace(tzinfo=None) - timedelta(seconds=self.rng.randint(0, 50))
            rows.append(self._event("PAGE_VIEW", customer, category, ts))
            if self.rng.random() < 0.45:
                rows.append(self._event("ADD_TO_CART", customer, category, ts))
                if self.rng.random() < 0.6:
                    price = PRICE[category] * self.rng.uniform(0.5, 3.0)
                    rows.append(self._event("PURCHASE", customer, category, ts, price))
        return rows

    def _event(
        self, kind: str, customer: str, category: str, ts: datetime, amount: float | None = None
    ) -> dict[str, Any]:
        self._offset += 1
        amt = Decimal(f"{amount:.2f}") if amount is not None else None
        return {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "event_type": kind,
            "customer_id": customer,
            "event_timestamp": ts,
            "event_date": ts.date(),
            "amount": amt,
            "currency": "USD" if amt is not None else None,
            "reporting_amount": amt,
            "session_id": f"s-{customer}-{ts:%H}",
            "product_id": f"{category[:3]}-{self.rng.randint(1, 40):03d}",
            "category": category,
            "quantity": 1,
            "device": self.rng.choice(("desktop", "mobile", "tablet")),
            "source_partition": self._offset % 3,
            "source_offset": self._offset,
            "produced_at": ts,
            "validated_at": ts,
        }

    def _dead_letters(self) -> list[dict[str, Any]]:
        out = []
        for _ in range(self.rng.choice((0, 0, 1, 2))):
            self._offset += 1
            reason = self.rng.choice(REASONS)
            raw = {"event_type": "PURCHASE", "amount": "-3", "customer_id": ""}
            out.append(
                {
                    "reason": reason,
                    "detail": f"{reason}: rejected by Silver",
                    "source_topic": "raw_events",
                    "source_partition": self._offset % 3,
                    "source_offset": self._offset,
                    "source_key": "cust-0001",
                    "processed_at": datetime.now(UTC).replace(tzinfo=None),
                    "raw_base64": base64.b64encode(str(raw).encode()).decode(),
                }
            )
        return out

    def _commit(self, rows: list[dict[str, Any]]) -> None:
        self.wh.commit_batch(
            pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA),
            pa.Table.from_pylist(self._dead_letters(), schema=DEAD_LETTERS_SCHEMA),
            BatchMeta("gold", "shop-sim", self.batches, input_rows=len(rows)),
        )
        self.batches += 1
