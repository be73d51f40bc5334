"""The generator's unique valid events as Silver would hand them to Gold (imported by tests).

No Spark: the rows are built from the generator's own classification, so a warehouse test
can commit realistic data (sessions, devices, currencies, late events) in seconds. The
real Silver path is covered by tests/integration/test_pipeline_truth.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa

from shopstream.bronze.batch import EventBatch
from shopstream.bronze.encoding import session_hex
from shopstream.bronze.generator import EventGenerator
from shopstream.bronze.truth import reporting_cents
from shopstream.contract import EVENT_TYPES
from shopstream.warehouse import EVENTS_SCHEMA


def clean_events(gen: EventGenerator, batch: EventBatch, first_offset: int) -> pa.Table:
    """`batch`'s unique valid events in the warehouse's events schema."""
    world = gen.world
    m = np.flatnonzero((batch.reason < 0) & ~batch.duplicate)
    etype, cents, cur = batch.event_type[m], batch.cents[m], batch.currency[m]
    priced = cents >= 0
    rep = np.zeros(len(m), dtype=np.int64)
    rep[priced] = reporting_cents(cents[priced], cur[priced], world.currencies, world.rates)
    names = world.customer_names(batch.customer[m])
    hexes = session_hex(batch.session[m]).view("S16").ravel().astype(str).tolist()
    rows = []
    for j, i in enumerate(m.tolist()):
        ts = datetime(1970, 1, 1) + timedelta(milliseconds=int(batch.ts_ms[i]))
        p, d, s = int(batch.product[i]), int(batch.device[i]), int(batch.session[i])
        rows.append(
            {
                "event_id": f"ev-{first_offset + j}",
                "event_type": EVENT_TYPES[int(etype[j])],
                "customer_id": names[j],
                "event_timestamp": ts,
                "event_date": ts.date(),
                "amount": Decimal(int(cents[j])) / 100 if priced[j] else None,
                "currency": world.currencies[int(cur[j])] if priced[j] else None,
                "reporting_amount": Decimal(int(rep[j])) / 100 if priced[j] else None,
                "session_id": hexes[j] if s else None,
                "product_id": world.product_ids[p] if p >= 0 else None,
                "category": world.product_category[p] if p >= 0 else None,
                "quantity": int(batch.quantity[i]),
                "device": world.devices[d] if d >= 0 else None,
                "source_partition": 0,
                "source_offset": first_offset + j,
                "produced_at": ts,
                "validated_at": datetime.now(UTC).replace(tzinfo=None),
            }
        )
    return pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)
