"""Whole shopper sessions, drawn column-wise and merged in time across batches.

Sessions live on an "ordinal" axis: position k is roughly the k-th event of the run.
They start as a Poisson stream, one per `events_per_session` positions on average, so the
merged stream has about one event per position; within a session, seconds become
positions at the run's current events per second, so a session lasts the same wall-clock
time at the peak and in the trough. The producer (or the backfill clock) gives the k-th
row its time, so event-time density is the send schedule's.

A session's rows are drawn at once (views, carts, its purchases at checkout) and wait in a
buffer sorted by position; rows before the latest drawn session's start are final (a
later session only adds rows after its own start) and are handed out in order. The
buffer holds the sessions in flight: about rate x 146 s (the mean time of a row after
its session's start), not the run's history; it is re-sorted only when at least a
quarter of its size is added, so the merge costs O(1) per row.

Warm start: the shop is already open when a run starts. Sessions that began up to
`warm_start_s` (default `WARM_UP_S`) before it are drawn first and only their rows after
the start are kept, so purchases (which come at a session's end) flow from the first
second instead of after a few minutes. The first-time customers those earlier sessions
brought join the base.
"""

from __future__ import annotations

import numpy as np

from shopstream.bronze.batch import ADD_TO_CART, PAGE_VIEW, PURCHASE
from shopstream.bronze.shop import (
    CART_DELAY_S,
    CHECKOUT_MIN_S,
    CHECKOUT_S,
    HOME_DEVICE_SHARE,
    MAX_VIEWS,
    QUANTITY_SHARES,
    VIEW_GAP_S,
    ShopModel,
)
from shopstream.bronze.world import World

MIN_BLOCK_EVENTS = 4096  # sessions are drawn for at least this many rows at a time
WARM_UP_S = 1200.0  # 99.9% of sessions are shorter (measured over 200,000 drawn)
WARM_UP_MAX_EVENTS = 2_000_000  # at high rates, warm up fewer seconds (bounded start-up)
WARM_UP_BLOCK = 262_144  # rows drawn at a time while warming up (bounded memory)
_COLUMNS = {
    "position": np.float64,
    "session": np.uint64,
    "customer": np.int32,
    "device": np.int8,
    "new_customer": np.bool_,
    "event_type": np.int8,
    "product": np.int32,
    "quantity": np.int16,
}


class SessionPlanner:
    """Rows of whole sessions, in time order, `next_rows(n)` at a time."""

    def __init__(
        self,
        shop: ShopModel,
        world: World,
        rng: np.random.Generator,
        warm_start_s: float = WARM_UP_S,
    ) -> None:
        assert world.customers is not None
        self.shop, self.world, self.rng = shop, world, rng
        self.warm_start_s = warm_start_s
        self.customers = world.customers
        self._pending = {name: np.zeros(0, dtype) for name, dtype in _COLUMNS.items()}
        self._next_start = 0.0  # where the next session may start (after the last one)
        self._warm = False
        self.sessions = 0  # sessions drawn so far
        self.customers_at_run_start: int | None = None  # the base once warmed up

    def next_rows(self, count: int, events_per_second: float) -> dict[str, np.ndarray]:
        """The next `count` rows; `events_per_second` is the run's rate right now."""
        if not self._warm:
            self._warm_up(events_per_second)
        while (final := self._final()) < count:
            need = max(count - final, MIN_BLOCK_EVENTS, self.in_flight // 4)
            self._draw(need, events_per_second)
        pending = self._pending
        out = {name: column[:count] for name, column in pending.items()}
        self._pending = {name: column[count:] for name, column in pending.items()}
        del out["position"]
        return out

    @property
    def in_flight(self) -> int:
        """Rows drawn but not handed out yet."""
        return len(self._pending["position"])

    def _final(self) -> int:
        """Pending rows no session drawn later can precede."""
        return int(np.searchsorted(self._pending["position"], self._next_start, side="right"))

    def _warm_up(self, events_per_second: float) -> None:
        """Draw the sessions already in flight at position 0 (see the module docstring)."""
        self._warm = True
        self._next_start = -min(self.warm_start_s * events_per_second, WARM_UP_MAX_EVENTS)
        while self._next_start < 0:
            self._draw(int(min(-self._next_start, WARM_UP_BLOCK)) + 1, events_per_second)
        self.customers_at_run_start = self.customers.count

    def _draw(self, events: int, events_per_second: float) -> None:
        """Draw sessions for about `events` rows and merge their rows into the buffer."""
        shop, rng = self.shop, self.rng
        count = max(1, int(np.ceil(events / shop.events_per_session)))
        gaps = rng.exponential(shop.events_per_session, size=count)
        starts = self._next_start + np.cumsum(gaps)
        self._next_start = float(starts[-1])
        customer, device, new = self._visitors(count)
        rows = self._funnel(device, new)
        session = rows.pop("session_row")
        ids = rng.integers(1, np.iinfo(np.int64).max, size=count, dtype=np.int64)
        rows["position"] = starts[session] + rows.pop("seconds") * events_per_second
        rows["session"] = ids.astype(np.uint64)[session]
        rows["customer"] = customer[session]
        rows["device"] = device[session]
        rows["new_customer"] = new[session]
        if starts[0] < 0:  # warming up: keep what happens from the run's start on
            keep = rows["position"] >= 0
            rows = {name: column[keep] for name, column in rows.items()}
        merged = {n: np.concatenate((self._pending[n], rows[n])) for n in _COLUMNS}
        # The buffer is sorted and the new rows are appended: a stable sort (timsort for
        # floats) merges the two runs.
        order = np.argsort(merged["position"], kind="stable")
        self._pending = {
            n: column[order].astype(_COLUMNS[n], copy=False) for n, column in merged.items()
        }
        self.sessions += count

    def _visitors(self, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(customer, device, first-time) per session; first-time customers join the base."""
        shop, rng, base = self.shop, self.rng, self.customers
        new = rng.random(count) < shop.new_customer_share
        if base.full:
            new[:] = False
        customer = np.empty(count, dtype=np.int32)
        customer[~new] = base.draw(rng, int((~new).sum()))  # known before this block
        customer[new] = base.add(rng, int(new.sum()))
        home = base.device[customer]
        other = rng.choice(len(shop.devices), size=count, p=np.asarray(shop.device_shares))
        stays = new | (rng.random(count) < HOME_DEVICE_SHARE)
        return customer, np.where(stays, home, other).astype(np.int8), new

    def _funnel(self, device: np.ndarray, new: np.ndarray) -> dict[str, np.ndarray]:
        """Each session's rows: views, add-to-carts of viewed products, purchases at checkout.

        Returns row columns plus `session_row` (the session of each row) and `seconds`
        (its time since the session started).
        """
        shop, rng, world = self.shop, self.rng, self.world
        count = len(device)
        bounced = rng.random(count) < shop.bounce[device]
        extra = rng.geometric(1.0 / shop.extra_views[device])
        views = np.where(bounced, 1, np.minimum(1 + extra, MAX_VIEWS))
        first_time, returning = shop.cart_lift
        cart_p = shop.cart_if_engaged[device] * np.where(new, first_time, returning)
        carted = ~bounced & (rng.random(count) < cart_p)
        lines = np.where(carted, rng.geometric(1.0 / shop.mean_cart_lines, size=count), 0)
        bought = carted & (rng.random(count) >= np.asarray(shop.cart_abandonment)[device])

        # Page views: exponential gaps, the first at the session's start.
        view_session = np.repeat(np.arange(count), views)
        first = np.concatenate(([0], np.cumsum(views)[:-1]))
        gaps = rng.exponential(VIEW_GAP_S, size=len(view_session))
        gaps[first] = 0.0
        elapsed = np.cumsum(gaps)
        view_at = elapsed - np.repeat(elapsed[first], views)
        product = rng.choice(
            len(world.product_ids), size=len(view_session), p=world.product_weights
        )

        # Carts: `lines` of the session's viewed pages, picked by a random rank.
        # Sorting session + a random fraction orders each session's views randomly (15x
        # faster than a lexsort of the two keys: the rows are already grouped).
        order = np.argsort(view_session + rng.random(len(view_session)), kind="stable")
        rank = np.empty(len(view_session), dtype=np.int64)
        rank[order] = np.arange(len(view_session)) - first[view_session[order]]
        cart_rows = np.flatnonzero(rank < lines[view_session])
        cart_at = view_at[cart_rows] + rng.exponential(CART_DELAY_S, size=len(cart_rows))
        quantity = rng.choice(len(QUANTITY_SHARES), size=len(cart_rows), p=QUANTITY_SHARES) + 1

        # Checkout: after the session's last view or cart, every line in one order.
        cart_session = view_session[cart_rows]
        end = view_at[first + views - 1].copy()
        np.maximum.at(end, cart_session, cart_at)
        checkout = end + CHECKOUT_MIN_S + rng.exponential(CHECKOUT_S, size=count)
        buy = np.flatnonzero(bought[cart_session])
        buy_session = cart_session[buy]
        buy_at = checkout[buy_session] + rank[cart_rows[buy]] * 0.2  # lines 0.2 s apart

        views_n, carts_n, buys_n = len(view_session), len(cart_rows), len(buy)
        return {
            "session_row": np.concatenate((view_session, cart_session, buy_session)),
            "seconds": np.concatenate((view_at, cart_at, buy_at)),
            "event_type": np.concatenate(
                (
                    np.full(views_n, PAGE_VIEW, np.int8),
                    np.full(carts_n, ADD_TO_CART, np.int8),
                    np.full(buys_n, PURCHASE, np.int8),
                )
            ),
            "product": np.concatenate(
                (product, product[cart_rows], product[cart_rows[buy]])
            ).astype(np.int32),
            "quantity": np.concatenate(
                (np.ones(views_n, np.int16), quantity, quantity[buy])
            ).astype(np.int16),
        }
