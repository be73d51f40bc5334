"""Realistic, reproducible shopper events, built column-wise for throughput.

A batch is generated as numpy columns (sessions, customers, products, times), rendered
to JSON bytes through a fixed template (`encoding`), then noise (`noise`) rewrites a few
rows. Every row keeps the generator's own classification (`batch.EventBatch`) so
`truth.py` can compute what a correct pipeline must end with.

Model (the customers and catalog are in `world`):
- sessions: 1 + geometric page views, each view may add to cart (`cart_rate`), each
  cart line may be bought (`purchase_rate`); amounts are price x quantity;
- event time: now (live) or spread over a backfill window ending just before now;
- `seed_compat`: the seed producer's shape instead (see `seed_compat`).

Examples:
    >>> gen = EventGenerator(GeneratorConfig(seed=7, now_ms=1_764_000_000_000))
    >>> batch = gen.next_batch(1000)
    >>> len(batch.values), batch.values[0][:13]
    (1000, b'{"event_id":"')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from shopstream.bronze.batch import (
    ADD_TO_CART,
    DAY_MS,
    MINUTE_MS,
    PAGE_VIEW,
    PURCHASE,
    EventBatch,
)
from shopstream.bronze.encoding import RowEncoder, hex_ascii
from shopstream.bronze.noise import (
    NoiseContext,
    NoiseRates,
    draw_noise,
    rewrite_rows,
    rows_to_rewrite,
    shift_times,
    unsupported_currencies,
)
from shopstream.bronze.seed_compat import seed_compat_batch, seed_compat_world
from shopstream.bronze.world import build_world
from shopstream.contract import DEFAULT_LATENESS_HORIZON
from shopstream.errors import ConfigError

if TYPE_CHECKING:
    from shopstream.config import Settings


def _default_rates() -> dict[str, Decimal]:
    from shopstream.config import PipelineSettings

    return dict(PipelineSettings().currency_rates)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate; everything that changes the bytes is here, so (config) -> bytes."""

    seed: int | None = None
    customers: int = 10_000
    products: int = 1_000
    zipf_exponent: float = 1.1
    mean_views: float = 4.0
    cart_rate: float = 0.3
    purchase_rate: float = 0.4
    backfill_days: float = 0.0
    seed_compat: bool = False
    noise: NoiseRates = field(default_factory=NoiseRates)
    currency_rates: Mapping[str, Decimal] = field(default_factory=_default_rates)
    lateness_horizon_days: float = DEFAULT_LATENESS_HORIZON / timedelta(days=1)
    # Pin "now" (epoch ms) for reproducible bytes; None = the wall clock.
    now_ms: int | None = None

    def __post_init__(self) -> None:
        if self.customers < 1 or self.products < 1:
            raise ConfigError("--customers and --products must be at least 1")
        for name in ("cart_rate", "purchase_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"--{name.replace('_', '-')} must be between 0 and 1")
        if self.mean_views < 1.0:
            raise ConfigError("--mean-views must be at least 1")
        if self.backfill_days < 0:
            raise ConfigError("--backfill-days must be >= 0")
        if self.backfill_days > self.max_backfill_days:
            raise ConfigError(
                f"--backfill-days {self.backfill_days:g} is too close to the lateness horizon "
                f"({self.lateness_horizon_days:g} days): events near the horizon would be valid "
                f"or too_late depending on when Silver runs, so the ground truth would not be "
                f"fixed. Use at most {self.max_backfill_days:g} days, or raise "
                f"pipeline.lateness_horizon_days (SHOPSTREAM_PIPELINE__LATENESS_HORIZON_DAYS)."
            )
        if not self.currency_rates:
            raise ConfigError("the currency rate table is empty; configure pipeline.currency_rates")

    @property
    def max_backfill_days(self) -> float:
        """Largest backfill leaving a safety margin (1 day, or half a short horizon)."""
        return max(0.0, self.lateness_horizon_days - min(1.0, self.lateness_horizon_days / 2))

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> GeneratorConfig:
        """Config whose rate table and horizon come from `Settings.pipeline`."""
        pipeline = settings.pipeline
        return cls(
            currency_rates=dict(pipeline.currency_rates),
            lateness_horizon_days=pipeline.lateness_horizon_days,
            **kwargs,
        )


class EventGenerator:
    """Stateful, seeded event source: `next_batch(n)` returns the next `n` messages."""

    def __init__(
        self,
        config: GeneratorConfig,
        total_events: int | None = None,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.config = config
        self.total_events = total_events
        if config.backfill_days > 0 and not total_events:
            raise ConfigError("--backfill-days needs --events N (the window is spread over N)")
        self.rng = np.random.default_rng(config.seed)
        self._clock = clock_ms or (
            (lambda: config.now_ms)
            if config.now_ms is not None
            else (lambda: time.time_ns() // 1_000_000)
        )
        self.started_ms = int(self._clock())
        self.position = 0  # rows emitted so far
        self.horizon_ms = int(config.lateness_horizon_days * DAY_MS)
        self._ring: EventBatch | None = None  # recent valid rows, sources of cross-batch duplicates
        if config.seed_compat:
            self.world = seed_compat_world(config.currency_rates)
        else:
            self.world = build_world(
                self.rng,
                config.currency_rates,
                customers=config.customers,
                products=config.products,
                zipf_exponent=config.zipf_exponent,
            )
        self.encoder = RowEncoder(self.world)
        self._unsupported = unsupported_currencies(self.world.rates)

    def batches(self, total: int | None = None, batch_size: int = 65_536) -> Iterator[EventBatch]:
        """Batches until `total` rows (default: `total_events`; None = forever)."""
        total = total if total is not None else self.total_events
        while total is None or self.position < total:
            size = batch_size if total is None else min(batch_size, total - self.position)
            yield self.next_batch(size)

    def next_batch(self, count: int, spread_ms: int = 0) -> EventBatch:
        """The next `count` rows; live timestamps spread over `spread_ms` from now."""
        if count <= 0:
            raise ValueError("batch size must be positive")
        now = int(self._clock())
        times = self._times(count, now, spread_ms)
        if self.config.seed_compat:
            batch = seed_compat_batch(self.world, self.rng, times)
        else:
            duplicates = (
                int(self.rng.binomial(count, self.config.noise.duplicate)) if count > 1 else 0
            )
            originals = count - duplicates
            base = self._render(self._sessions(originals, times[:originals]), now)
            batch = self._add_duplicates(base, duplicates)
        self.position += count
        return batch

    def _times(self, count: int, now: int, spread_ms: int) -> np.ndarray:
        """Event-time slots for the next `count` rows, ascending."""
        if self.config.backfill_days <= 0:
            return now + (np.arange(count, dtype=np.int64) * spread_ms) // max(count, 1)
        # Backfill: the run covers [start, end] linearly by row position, so batches advance
        # through the window; `end` stays a minute before now (never "future").
        total = self.total_events or count
        end = self.started_ms - MINUTE_MS
        start = end - int(self.config.backfill_days * DAY_MS)
        position = self.position + np.arange(count, dtype=np.float64)
        return (start + position / total * (end - start)).astype(np.int64)

    def _sessions(self, count: int, slots: np.ndarray) -> dict[str, np.ndarray]:
        """`count` canonical events from whole sessions, in time order."""
        cfg, rng, world = self.config, self.rng, self.world
        per_session = cfg.mean_views * (1 + cfg.cart_rate * (1 + cfg.purchase_rate))
        sessions = int(count / per_session * 1.3) + 2
        while True:  # draw enough sessions; a short draw (tiny batches) is redrawn larger
            views = np.minimum(rng.geometric(1.0 / cfg.mean_views, size=sessions), 50)
            cart_draw = rng.random(int(views.sum()))
            if len(cart_draw) * (1 + cfg.cart_rate) >= count or sessions > 4 * count + 8:
                break
            sessions *= 2
        view_session = np.repeat(np.arange(sessions), views)
        view_count = len(view_session)
        # Within-session clock: page views ~30 s apart, cart ~15 s after its view,
        # purchase ~1 min after its cart. Offsets only order rows; slots give the times.
        gaps = rng.exponential(30_000.0, size=view_count)
        elapsed = np.cumsum(gaps)
        first = np.concatenate(([0], np.cumsum(views)[:-1]))
        view_offset = elapsed - np.repeat(elapsed[first] - gaps[first], views)
        view_product = rng.choice(cfg.products, size=view_count, p=world.product_weights)
        carted = cart_draw < cfg.cart_rate
        bought = carted & (rng.random(view_count) < cfg.purchase_rate)
        cart_rows, buy_rows = np.flatnonzero(carted), np.flatnonzero(bought)
        quantity_share = [0.62, 0.22, 0.09, 0.05, 0.02]
        quantities = rng.choice(5, size=view_count, p=quantity_share).astype(np.int16) + 1
        cart_at = view_offset + rng.exponential(15_000.0, size=view_count)
        cart_offset = cart_at[cart_rows]
        buy_offset = cart_at[buy_rows] + 5_000.0 + rng.exponential(60_000.0, size=len(buy_rows))

        session = np.concatenate((view_session, view_session[cart_rows], view_session[buy_rows]))
        event_type = np.concatenate(
            (
                np.full(view_count, PAGE_VIEW),
                np.full(len(cart_rows), ADD_TO_CART),
                np.full(len(buy_rows), PURCHASE),
            )
        ).astype(np.int8)
        product = np.concatenate(
            (view_product, view_product[cart_rows], view_product[buy_rows])
        ).astype(np.int32)
        quantity = np.concatenate(
            (np.ones(view_count, np.int16), quantities[cart_rows], quantities[buy_rows])
        )
        # Sessions start spread over the batch and interleave; rows past `count` are cut.
        start = rng.random(sessions) * sessions * 60_000.0
        offsets = np.concatenate((view_offset, cart_offset, buy_offset))
        order = np.argsort(start[session] + offsets, kind="stable")[:count]
        if len(order) < count:  # only with extreme rates (e.g. mean_views=1, tiny batch)
            order = np.resize(order, count)
        session, event_type = session[order], event_type[order]
        product, quantity = product[order], quantity[order]
        session_customer = rng.choice(
            cfg.customers, size=sessions, p=world.customer_weights
        ).astype(np.int32)
        session_device = np.where(
            rng.random(sessions) < 0.8,
            world.customer_device[session_customer],
            rng.choice(len(world.devices), size=sessions, p=world.device_weights),
        ).astype(np.int8)
        session_ids = hex_ascii(rng.integers(0, 256, size=(sessions, 8), dtype=np.uint8))
        customer = session_customer[session]
        return {
            "sess_id": session_ids.view("S16").ravel()[session],
            "customer": customer,
            "device": session_device[session],
            "currency": world.customer_currency[customer],
            "event_type": event_type,
            "product": product,
            "quantity": quantity,
            "ts_ms": slots.astype(np.int64),
        }

    def _render(self, events: dict[str, np.ndarray], now: int) -> EventBatch:
        """Canonical JSON for every row, then noise on the rows drawn for it."""
        rng, count = self.rng, len(events["customer"])
        noise = draw_noise(self.config.noise.by_kind(), rng, count)
        event_type, product = events["event_type"], events["product"]
        currency, quantity = events["currency"], events["quantity"]
        ts_ms = events["ts_ms"].copy()
        has_amount = event_type != PAGE_VIEW
        cents = np.where(has_amount, self.world.price_cents[product, currency] * quantity, -1)
        shift_times(noise, ts_ms, rng)
        prefixes, values = self.encoder.encode(events, ts_ms, rng)
        keys = self.encoder.customer_keys[events["customer"]].tolist()
        batch = EventBatch(
            values=values,
            keys=keys,
            reason=np.full(count, -1, dtype=np.int8),
            duplicate=np.zeros(count, dtype=bool),
            noise=noise,
            customer=events["customer"].astype(np.int32),
            event_type=event_type.astype(np.int8),
            ts_ms=ts_ms,
            cents=cents.astype(np.int64),
            currency=np.where(has_amount, currency, -1).astype(np.int8),
            product=product.astype(np.int32),
            quantity=quantity.astype(np.int16),
            has_event_id=np.ones(count, dtype=bool),
        )
        rows = rows_to_rewrite(noise)
        if len(rows):
            # Noisy rows are rebuilt field by field (few rows; the fast path stays simple).
            row_fields = self.encoder.fields(rows, prefixes, keys, events, cents)
            context = NoiseContext(self.encoder, now, self.horizon_ms, self._unsupported)
            rewrite_rows(batch, rows, row_fields, context, rng)
        return batch

    def _add_duplicates(self, base: EventBatch, duplicates: int) -> EventBatch:
        """Resend `duplicates` valid events' exact bytes, mostly shortly after the original."""
        rng, count = self.rng, len(base)
        eligible = np.flatnonzero((base.reason < 0) & base.has_event_id)
        if duplicates and len(eligible):
            ring = self._ring
            from_ring = int(rng.binomial(duplicates, 0.3)) if ring is not None and len(ring) else 0
            sources = rng.choice(eligible, size=duplicates - from_ring)
            # A copy goes shortly after its source (same key, so same partition: the
            # original is always consumed first); copies of earlier batches go anywhere.
            at = np.minimum(sources + rng.integers(2, 2001, size=len(sources)), count)
            parts = [base.take(sources)]
            if ring is not None and from_ring:
                parts.append(ring.take(rng.integers(0, len(ring), size=from_ring)))
                at = np.concatenate((at, rng.integers(0, count + 1, size=from_ring)))
            order = np.argsort(at, kind="stable")
            copies = EventBatch.concat(parts).take(order)
            copies.duplicate[:] = True
            batch = base.insert(at[order], copies)
        else:
            batch = base
        keep = np.flatnonzero((batch.reason < 0) & batch.has_event_id & ~batch.duplicate)[-1000:]
        if len(keep):
            self._ring = batch.take(keep)
        return batch
