"""The seed producer's shape (`--seed-compat`): 5 customers, 25% invalid, hint flags.

Its events carry `is_valid` / `invalid_field` like the seed's producer did; Silver
ignores both and decides validity from content, which the truth records per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np

from shopstream.bronze.batch import REASON_INDEX, EventBatch
from shopstream.bronze.encoding import (
    EVENT_TYPE_JSON,
    format_cents,
    iso_utc,
    json_string,
    random_uuids,
)
from shopstream.bronze.world import World
from shopstream.contract import Reason

SEED_COMPAT_CUSTOMERS = tuple(f"CUST_{number:03d}" for number in range(1, 6))
SEED_COMPAT_INVALID_RATE = 0.25
SEED_COMPAT_BAD_TYPES = (b'"CLICK"', b'"VIEW"', b'"PAY"')

_TEMPLATE = (
    b'{"event_id":"%s","customer_id":%s,"event_type":%s,"amount":%s,"currency":%s,'
    b'"event_timestamp":%s,"is_valid":%s,"invalid_field":%s}'
)
# The four ways a seed event is invalid, drawn uniformly for 25% of events.
_MISSING_CUSTOMER, _UNKNOWN_TYPE, _NEGATIVE_AMOUNT, _NULL_CURRENCY = range(4)


def seed_compat_world(currency_rates: Mapping[str, Decimal]) -> World:
    """The seed's five customers and the rate table's currencies; no catalog."""
    return World.without_catalog(currency_rates, list(SEED_COMPAT_CUSTOMERS))


def seed_compat_batch(world: World, rng: np.random.Generator, times: np.ndarray) -> EventBatch:
    """`len(times)` events shaped like the seed's producer, at the given event times."""
    count = len(times)
    customer = rng.integers(0, len(SEED_COMPAT_CUSTOMERS), size=count).astype(np.int32)
    event_type = rng.integers(0, 3, size=count).astype(np.int8)
    cents = rng.integers(1000, 50_001, size=count).astype(np.int64)
    usd = world.currencies.index("USD") if "USD" in world.currencies else 0
    invalid_kind = np.where(
        rng.random(count) < SEED_COMPAT_INVALID_RATE, rng.integers(0, 4, size=count), -1
    )
    customer_json = np.array([json_string(name) for name in SEED_COMPAT_CUSTOMERS])
    customer_field = customer_json[customer].tolist()
    customer_keys = [name.encode() for name in SEED_COMPAT_CUSTOMERS]
    keys: list[bytes | None] = [customer_keys[index] for index in customer.tolist()]
    type_field = np.array(EVENT_TYPE_JSON)[event_type].tolist()
    amount_field = [format_cents(value) for value in cents.tolist()]
    currency_field = [json_string(world.currencies[usd])] * count
    valid_field, invalid_field = [b"true"] * count, [b"null"] * count
    reason = np.full(count, -1, dtype=np.int8)
    row_customer = customer.copy()
    for index in np.flatnonzero(invalid_kind >= 0).tolist():
        kind = int(invalid_kind[index])
        valid_field[index] = b"false"
        if kind == _MISSING_CUSTOMER:
            customer_field[index], keys[index], row_customer[index] = b"null", None, -1
            invalid_field[index] = b'"customer_id"'
            reason[index] = REASON_INDEX[Reason.MISSING_CUSTOMER_ID]
        elif kind == _UNKNOWN_TYPE:
            type_field[index] = SEED_COMPAT_BAD_TYPES[index % 3]
            invalid_field[index] = b'"event_type"'
            reason[index] = REASON_INDEX[Reason.UNKNOWN_EVENT_TYPE]
        elif kind == _NEGATIVE_AMOUNT:
            amount_field[index] = b"-" + amount_field[index]
            invalid_field[index] = b'"amount"'
            reason[index] = REASON_INDEX[Reason.INVALID_AMOUNT]
        else:
            currency_field[index] = b"null"
            invalid_field[index] = b'"currency"'
            reason[index] = REASON_INDEX[Reason.MISSING_CURRENCY]
    event_ids = random_uuids(rng, count).tolist()
    timestamps = iso_utc(times).tolist()
    values = [
        _TEMPLATE % row
        for row in zip(
            event_ids,
            customer_field,
            type_field,
            amount_field,
            currency_field,
            timestamps,
            valid_field,
            invalid_field,
            strict=True,
        )
    ]
    return EventBatch(
        values=values,
        keys=keys,
        reason=reason,
        duplicate=np.zeros(count, dtype=bool),
        noise=np.full(count, -1, dtype=np.int8),
        customer=row_customer,
        event_type=event_type,
        ts_ms=times.astype(np.int64),
        cents=cents,
        currency=np.full(count, usd, dtype=np.int8),
        product=np.full(count, -1, dtype=np.int32),
        quantity=np.ones(count, dtype=np.int16),
        has_event_id=np.ones(count, dtype=bool),
        session=np.zeros(count, dtype=np.uint64),  # the seed's events have no session
        device=np.full(count, -1, dtype=np.int8),
        new_customer=np.zeros(count, dtype=bool),
        incident=np.full(count, -1, dtype=np.int8),
    )
