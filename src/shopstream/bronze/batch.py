"""A batch of generated messages and the generator's own classification of every row.

Every row keeps what the generator knows about it (valid or which reason, duplicate or
not, customer, type, time, amount), so `truth.py` can compute what a correct pipeline
must end with without parsing the bytes again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopstream.contract import REASONS

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

PAGE_VIEW, ADD_TO_CART, PURCHASE = 0, 1, 2  # indexes into contract.EVENT_TYPES
REASON_INDEX = {reason: index for index, reason in enumerate(REASONS)}  # EventBatch.reason


@dataclass
class EventBatch:
    """Rendered messages plus the generator's classification of every row.

    Arrays are row-aligned with `values`; `reason` indexes `contract.REASONS` (-1 = valid),
    `customer` indexes the generator's customer ids and is also the key (-1 = no key).
    Amount columns describe the value as Silver must store it (cents, rounded half-up).
    """

    values: list[bytes]
    keys: list[bytes | None]
    reason: np.ndarray  # int8
    duplicate: np.ndarray  # bool: same event_id (and bytes) already sent
    noise: np.ndarray  # int8 noise kind (index into noise.NOISE_KINDS) or -1
    customer: np.ndarray  # int32
    event_type: np.ndarray  # int8 index into EVENT_TYPES
    ts_ms: np.ndarray  # int64 UTC epoch millis
    cents: np.ndarray  # int64 amount in minor units of `currency`, -1 = no amount
    currency: np.ndarray  # int8 index into the world's currencies, -1 = none
    product: np.ndarray  # int32, -1 = none
    quantity: np.ndarray  # int16
    has_event_id: np.ndarray  # bool
    session: np.ndarray  # uint64 session id (its 16 hex digits are the session_id), 0 = none
    device: np.ndarray  # int8 index into the world's devices, -1 = none
    new_customer: np.ndarray  # bool: the session is the customer's first
    incident: np.ndarray  # int8 index into the generator's incident windows, -1 = none

    _ARRAYS = (
        "reason", "duplicate", "noise", "customer", "event_type", "ts_ms", "cents",
        "currency", "product", "quantity", "has_event_id", "session", "device",
        "new_customer", "incident",
    )  # fmt: skip

    def __len__(self) -> int:
        return len(self.values)

    def take(self, order: np.ndarray) -> EventBatch:
        """Rows in `order` (an index array)."""
        indexes = order.tolist()
        values, keys = self.values, self.keys
        return EventBatch(
            [values[index] for index in indexes],
            [keys[index] for index in indexes],
            *(getattr(self, array)[order] for array in self._ARRAYS),
        )

    def head(self, count: int) -> EventBatch:
        """The first `count` rows (what was sent when a run stops mid-batch)."""
        return EventBatch(
            self.values[:count],
            self.keys[:count],
            *(getattr(self, array)[:count] for array in self._ARRAYS),
        )

    def insert(self, at: np.ndarray, rows: EventBatch) -> EventBatch:
        """`rows` inserted before the indexes `at` (ascending), without re-copying per row."""
        values: list[bytes] = []
        keys: list[bytes | None] = []
        previous = 0
        for row, position in enumerate(at.tolist()):
            values += self.values[previous:position]
            keys += self.keys[previous:position]
            values.append(rows.values[row])
            keys.append(rows.keys[row])
            previous = position
        values += self.values[previous:]
        keys += self.keys[previous:]
        arrays = (np.insert(getattr(self, name), at, getattr(rows, name)) for name in self._ARRAYS)
        return EventBatch(values, keys, *arrays)

    @staticmethod
    def concat(parts: list[EventBatch]) -> EventBatch:
        """Rows of several batches, in order."""
        return EventBatch(
            [value for part in parts for value in part.values],
            [key for part in parts for key in part.keys],
            *(
                np.concatenate([getattr(part, name) for part in parts])
                for name in EventBatch._ARRAYS
            ),
        )

    def reason_name(self, index: int) -> str | None:
        """Reason code of row `index`, or None when valid."""
        reason = int(self.reason[index])
        return None if reason < 0 else REASONS[reason]
