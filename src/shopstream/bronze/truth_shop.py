"""Ground truth of the shop model: sessions, new and returning customers, incident windows.

Kept apart from `truth.py` (the seed's tables) so each part can move to the gold table it
checks. Everything counts the unique valid events a correct pipeline keeps, as `truth.py`
does: `add(batch, unique, revenue)` gets the batch, the mask of its unique valid rows and
their reporting-currency revenue in cents.

A session is its `session_id`: events without one (the seed's shape) are counted in
`events_without_session` and belong to no session here. Per session:
customer, device, whether it was the customer's first session, first and last event
time, page views, add-to-carts, purchases, units, revenue, `converted` (a purchase) and
`abandoned_cart` (an add-to-cart and no purchase).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from shopstream.bronze.batch import ADD_TO_CART, PAGE_VIEW, PURCHASE, EventBatch
from shopstream.bronze.encoding import iso_z, session_hex
from shopstream.bronze.incidents import Window
from shopstream.bronze.text import ascii_rows

# Per-session columns, merged across batches by sum, min, max or any (constant per session).
_SUMS = ("page_views", "add_to_cart_count", "purchase_count", "units", "revenue_cents")
_MERGE_EVERY = 64  # partial groups kept before merging (bounds memory on small batches)


def iso_ms(ms: int) -> str:
    """Epoch millis -> `YYYY-MM-DDTHH:MM:SS.mmmZ`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class SessionTruth:
    """Per-session counters of the unique valid events, grouped by session id."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []
        self.without_session = 0

    def add(self, batch: EventBatch, unique: np.ndarray, revenue: np.ndarray) -> None:
        """Account for the unique valid rows of `batch` (`revenue` aligned with them)."""
        session = batch.session[unique]
        has = session != 0
        self.without_session += int((~has).sum())
        if not has.any():
            return
        etype = batch.event_type[unique][has]
        purchase = etype == PURCHASE
        rows = {
            "session": session[has],
            "ts": batch.ts_ms[unique][has],
            "customer": batch.customer[unique][has].astype(np.int64),
            "device": batch.device[unique][has].astype(np.int64),
            "new_customer": batch.new_customer[unique][has].astype(np.int64),
            "page_views": (etype == PAGE_VIEW).astype(np.int64),
            "add_to_cart_count": (etype == ADD_TO_CART).astype(np.int64),
            "purchase_count": purchase.astype(np.int64),
            "units": np.where(purchase, batch.quantity[unique][has], 0).astype(np.int64),
            "revenue_cents": np.where(purchase, revenue[has], 0).astype(np.int64),
        }
        self._parts.append(_group(rows))
        if len(self._parts) >= _MERGE_EVERY:
            self._parts = [self.merged()]

    def merged(self) -> dict[str, np.ndarray]:
        """One row per session, sorted by session id."""
        if not self._parts:
            return {}
        if len(self._parts) == 1:
            return self._parts[0]
        keys = self._parts[0].keys()
        return _group({k: np.concatenate([p[k] for p in self._parts]) for k in keys}, merged=True)

    def result(
        self, customer_names: Callable[[np.ndarray], list[str]], devices: list[str]
    ) -> dict[str, Any]:
        """The `sessions` section: totals, by device, first-time vs returning, and `table`.

        `table` holds one column (a list) per field, a row per session sorted by id:
        ~400 bytes a session in memory, against ~800 as a list of dicts (a 5M-event run
        has ~1M sessions). `session_rows` turns it into dicts.
        """
        g = self.merged()
        if not g:
            empty = {**_summary({}, devices), "table": {name: [] for name in TABLE_COLUMNS}}
            return {**empty, "events_without_session": self.without_session}
        purchases, carts = g["purchase_count"], g["add_to_cart_count"]
        revenue = g["revenue_cents"]
        table = {
            "session_id": ascii_rows(session_hex(g["session"])),
            "customer_id": customer_names(g["customer"]),
            "device": np.array([*devices, None], dtype=object)[g["device"]].tolist(),
            "new_customer": (g["new_customer"] > 0).tolist(),
            "first_event_at": ascii_rows(iso_z(g["first"])),
            "last_event_at": ascii_rows(iso_z(g["last"])),
            "page_views": g["page_views"].tolist(),
            "add_to_cart_count": carts.tolist(),
            "purchase_count": purchases.tolist(),
            "units": g["units"].tolist(),
            "revenue": [
                f"{whole}.{cents:02d}"
                for whole, cents in zip(
                    (revenue // 100).tolist(), (revenue % 100).tolist(), strict=True
                )
            ],
            "converted": (purchases > 0).tolist(),
            "abandoned_cart": ((carts > 0) & (purchases == 0)).tolist(),
        }
        summary = _summary(g, devices)
        first_time = g["new_customer"] > 0
        summary["customers"] = {
            "new": len(np.unique(g["customer"][first_time])),
            "returning": len(np.unique(g["customer"][~first_time])),
        }
        return {**summary, "events_without_session": self.without_session, "table": table}


TABLE_COLUMNS = (
    "session_id", "customer_id", "device", "new_customer", "first_event_at", "last_event_at",
    "page_views", "add_to_cart_count", "purchase_count", "units", "revenue", "converted",
    "abandoned_cart",
)  # fmt: skip


def session_rows(sessions: dict[str, Any]) -> list[dict[str, Any]]:
    """The `sessions` section's table as one dict per session."""
    table = sessions["table"]
    return [dict(zip(table, values, strict=True)) for values in zip(*table.values(), strict=True)]


def _summary(g: dict[str, np.ndarray], devices: list[str]) -> dict[str, Any]:
    """Counts of sessions, carts, conversions (overall, per device, first-time/returning)."""
    if not g:
        empty = {"sessions": 0, "with_cart": 0, "converted": 0, "abandoned_carts": 0}
        return {
            **empty,
            "new_customer_sessions": 0,
            "returning_customer_sessions": 0,
            "customers": {"new": 0, "returning": 0},
            "by_device": {},
        }
    carted, bought = g["add_to_cart_count"] > 0, g["purchase_count"] > 0

    def counts(mask: np.ndarray) -> dict[str, int]:
        return {
            "sessions": int(mask.sum()),
            "with_cart": int((carted & mask).sum()),
            "converted": int((bought & mask).sum()),
            "abandoned_carts": int((carted & ~bought & mask).sum()),
        }

    everything = np.ones(len(g["session"]), dtype=bool)
    return {
        **counts(everything),
        "new_customer_sessions": int((g["new_customer"] > 0).sum()),
        "returning_customer_sessions": int((g["new_customer"] == 0).sum()),
        "by_device": {
            devices[d]: counts(g["device"] == d)
            for d in sorted(set(g["device"].tolist()))
            if d >= 0
        },
    }


def _group(rows: dict[str, np.ndarray], merged: bool = False) -> dict[str, np.ndarray]:
    """Rows (or partial groups, `merged`) -> one row per session id, sorted by id."""
    key = rows["session"]
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    first = rows["first" if merged else "ts"][order]
    last = rows["last" if merged else "ts"][order]
    out = {
        "session": key[starts],
        "first": np.minimum.reduceat(first, starts),
        "last": np.maximum.reduceat(last, starts),
    }
    for name in ("customer", "device", "new_customer"):  # the same on every row of a session
        out[name] = rows[name][order][starts]
    for name in _SUMS:
        out[name] = np.add.reduceat(rows[name][order], starts)
    return out


class IncidentTruth:
    """Each incident's window and what happened in it."""

    def __init__(self, windows: list[Window], live: bool) -> None:
        self.windows = windows
        self.live = live
        self.affected = np.zeros(len(windows), dtype=np.int64)  # rows the incident changed
        self.events = np.zeros(len(windows), dtype=np.int64)  # unique valid events inside
        self.purchases = np.zeros(len(windows), dtype=np.int64)  # of them, purchases
        self._sent: list[list[int | None]] = [[None, None] for _ in windows]  # wall ms

    def add(self, batch: EventBatch, unique: np.ndarray) -> None:
        if not self.windows:
            return
        original = ~batch.duplicate
        marked = batch.incident[original]
        self.affected += np.bincount(marked[marked >= 0], minlength=len(self.windows))
        ts, etype = batch.ts_ms[unique], batch.event_type[unique]
        raw_ts = batch.ts_ms[original]
        wall = time.time_ns() // 1_000_000
        for index, window in enumerate(self.windows):
            inside = window.contains(ts)
            self.events[index] += int(inside.sum())
            self.purchases[index] += int((inside & (etype == PURCHASE)).sum())
            if window.contains(raw_ts).any():
                sent = self._sent[index]
                sent[0] = wall if sent[0] is None else sent[0]
                sent[1] = wall

    def result(self) -> list[dict[str, Any]]:
        out = []
        for index, window in enumerate(self.windows):
            incident = window.incident
            event_time = {"start": iso_ms(window.start_ms), "end": iso_ms(window.end_ms)}
            first, last = self._sent[index]
            wall_time = (
                event_time
                if self.live
                else {
                    "start": None if first is None else iso_ms(first),
                    "end": None if last is None else iso_ms(last),
                }
            )
            out.append(
                {
                    "kind": incident.kind.value,
                    "spec": incident.spec,
                    incident.rule.magnitude: incident.magnitude,
                    "reason": incident.rule.reason.value if incident.rule.reason else None,
                    "start_offset_s": incident.start_s,
                    "duration_s": incident.duration_s,
                    "event_time": event_time,
                    "wall_time": wall_time,
                    "affected_events": int(self.affected[index]),
                    "events_in_window": int(self.events[index]),
                    "purchases_in_window": int(self.purchases[index]),
                }
            )
        return out
