"""Realistic, reproducible shopper events, built column-wise for throughput.

A batch is generated as numpy columns (sessions, customers, products, times), rendered
to JSON bytes through a fixed template (`encoding`), then noise (`noise`) and incidents
(`incidents`) rewrite a few rows. Every row keeps the generator's own classification
(`batch.EventBatch`) so `truth.py` can compute what a correct pipeline must end with.

Model (figures: `config.GeneratorSettings`, sources: docs/generator.md):
- `sessions`: whole sessions (views -> cart -> purchase, per device, first-time or
  returning customer, `shop`), merged in time across batches;
- `customers`: a log-normal activity tail and first-time customers joining the base;
- `traffic`: event time follows the send schedule (live: rate x day curve x traffic
  incidents) or spreads over a backfill window with the same shape;
- `seed_compat`: the seed producer's shape instead (flat, no sessions, no incidents).

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
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from shopstream.bronze import incidents as incident_rules
from shopstream.bronze.batch import (
    DAY_MS,
    MINUTE_MS,
    PAGE_VIEW,
    EventBatch,
)
from shopstream.bronze.encoding import RowEncoder
from shopstream.bronze.incidents import TRAFFIC_KINDS, Incident, Window, place, traffic_factor
from shopstream.bronze.noise import (
    NoiseContext,
    NoiseRates,
    draw_noise,
    rewrite_rows,
    rewriting,
    rows_to_rewrite,
    shift_times,
    unsupported_currencies,
)
from shopstream.bronze.seed_compat import seed_compat_batch, seed_compat_world
from shopstream.bronze.sessions import WARM_UP_S, SessionPlanner
from shopstream.bronze.shop import ShopModel
from shopstream.bronze.traffic import EventClock, Intensity, SendSchedule, TrafficShape, live_step_s
from shopstream.bronze.world import build_world
from shopstream.contract import DEFAULT_LATENESS_HORIZON
from shopstream.errors import ConfigError

if TYPE_CHECKING:
    from shopstream.config import GeneratorSettings, Settings

# Events per second sessions are laid out at when a run sends as fast as it can: the
# timestamps are then all "now", so this only sizes the buffer of sessions in flight.
AS_FAST_AS_POSSIBLE_EPS = 100.0


def _default_rates() -> dict[str, Decimal]:
    from shopstream.config import PipelineSettings

    return dict(PipelineSettings().currency_rates)


@cache
def _defaults() -> GeneratorSettings:
    from shopstream.config import GeneratorSettings

    return GeneratorSettings()


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate; everything that changes the bytes is here, so (config) -> bytes."""

    seed: int | None = None
    customers: int = field(default_factory=lambda: _defaults().customers)
    products: int = field(default_factory=lambda: _defaults().products)
    shop: ShopModel = field(default_factory=ShopModel.default)
    traffic: TrafficShape = field(default_factory=TrafficShape.default)
    incidents: tuple[Incident, ...] = ()
    # Mean events per second of a live run (the day curve's mean); None = as fast as possible.
    rate: float | None = None
    # Sessions already in flight at the start: those begun up to this long before (0: none).
    warm_start_s: float = WARM_UP_S
    backfill_days: float = 0.0
    seed_compat: bool = False
    noise: NoiseRates = field(default_factory=NoiseRates)
    currency_rates: Mapping[str, Decimal] = field(default_factory=_default_rates)
    lateness_horizon_days: float = DEFAULT_LATENESS_HORIZON / timedelta(days=1)
    # The run's origin (epoch ms) incidents count from; None = the clock when it starts.
    # Pinned by the CLI so a generator process and the truth agree on the windows.
    start_ms: int | None = None
    # Pin "now" (epoch ms) for reproducible bytes; None = the wall clock.
    now_ms: int | None = None

    def __post_init__(self) -> None:
        if self.customers < 1 or self.products < 1:
            raise ConfigError("--customers and --products must be at least 1")
        if self.rate is not None and self.rate <= 0:
            raise ConfigError("--rate must be positive (or 'max')")
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
        self._check_incidents()

    def _check_incidents(self) -> None:
        if not self.incidents:
            return
        if self.seed_compat:
            raise ConfigError("--incident needs the shop model; drop --seed-compat")
        if self.backfill_days > 0:
            incident_rules.check_fits(self.incidents, self.backfill_days * 86_400, "backfill")
        elif self.rate is None and any(i.kind in TRAFFIC_KINDS for i in self.incidents):
            raise ConfigError(
                "a traffic incident changes the send rate: give --rate R (events per second) "
                "or --backfill-days D"
            )

    @property
    def max_backfill_days(self) -> float:
        """Largest backfill leaving a safety margin (1 day, or half a short horizon)."""
        return max(0.0, self.lateness_horizon_days - min(1.0, self.lateness_horizon_days / 2))

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> GeneratorConfig:
        """Config from `Settings` (rate table, horizon, the generator section); `kwargs` win."""
        pipeline, shop = settings.pipeline, settings.generator
        values: dict[str, Any] = {
            "currency_rates": dict(pipeline.currency_rates),
            "lateness_horizon_days": pipeline.lateness_horizon_days,
            "customers": shop.customers,
            "products": shop.products,
            "shop": ShopModel.from_settings(shop),
            "traffic": TrafficShape.from_settings(shop),
            "incidents": incident_rules.parse_incidents(shop.incidents),
        }
        return cls(**(values | kwargs))


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
        self.started_ms = int(config.start_ms if config.start_ms is not None else self._clock())
        self.position = 0  # rows emitted so far
        self.horizon_ms = int(config.lateness_horizon_days * DAY_MS)
        self._ring: EventBatch | None = None  # recent valid rows, sources of cross-batch duplicates
        self.planner: SessionPlanner | None = None
        if config.seed_compat:
            self.world = seed_compat_world(config.currency_rates)
        else:
            shop = config.shop
            self.world = build_world(
                self.rng,
                config.currency_rates,
                customers=config.customers,
                products=config.products,
                devices=shop.devices,
                device_shares=shop.device_shares,
                activity_sigma=shop.activity_sigma,
            )
            self.planner = SessionPlanner(shop, self.world, self.rng, config.warm_start_s)
        self.encoder = RowEncoder(self.world)
        self._unsupported = unsupported_currencies(self.world.rates)
        self.clock: EventClock | None = None  # backfill only
        if config.backfill_days > 0:
            end = self.started_ms - MINUTE_MS  # never "future"
            start = end - int(config.backfill_days * DAY_MS)
            self.windows: list[Window] = place(config.incidents, start)
            self.clock = EventClock(start, end, total_events or 1, self._intensity(DAY_MS))
        else:
            self.windows = place(config.incidents, self.started_ms)
        self._live_intensity = self._intensity(config.traffic.live_day_ms())

    def _intensity(self, day_ms: float) -> Intensity | None:
        """Relative traffic at epoch-ms times (curve x traffic incidents); None when flat."""
        traffic = self.config.traffic
        has_traffic = any(w.kind in TRAFFIC_KINDS for w in self.windows)
        if self.config.seed_compat or (traffic.is_flat and not has_traffic):
            return None

        def intensity(ts_ms: np.ndarray) -> np.ndarray:
            return traffic.multiplier(ts_ms, day_ms) * traffic_factor(self.windows, ts_ms)

        return intensity

    def send_schedule(self) -> SendSchedule | None:
        """When each live event is due: the config's rate shaped by the day and incidents."""
        if self.config.rate is None:
            return None
        step = live_step_s(self.config.traffic)
        return SendSchedule(self.config.rate, self._live_intensity, step)

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
        if self.config.seed_compat or self.planner is None:
            batch = seed_compat_batch(self.world, self.rng, times)
        else:
            duplicates = (
                int(self.rng.binomial(count, self.config.noise.duplicate)) if count > 1 else 0
            )
            originals = count - duplicates
            events = self.planner.next_rows(originals, self._events_per_second(now))
            events["ts_ms"] = times[:originals]
            batch = self._add_duplicates(self._render(events, now), duplicates)
        self.position += count
        return batch

    def _times(self, count: int, now: int, spread_ms: int) -> np.ndarray:
        """Event-time slots for the next `count` rows, ascending."""
        if self.clock is None:
            return now + (np.arange(count, dtype=np.int64) * spread_ms) // max(count, 1)
        # Backfill: rows advance through the window by position; it ends a minute before now.
        return self.clock.times(self.position + np.arange(count, dtype=np.float64))

    def _events_per_second(self, now: int) -> float:
        """The run's rate at this point: seconds within a session become row positions."""
        if self.clock is not None:
            return self.clock.rate_at(float(self.position))
        if self.config.rate is None:
            return AS_FAST_AS_POSSIBLE_EPS
        if self._live_intensity is None:
            return self.config.rate
        return self.config.rate * float(self._live_intensity(np.array([now]))[0])

    def _render(self, events: dict[str, np.ndarray], now: int) -> EventBatch:
        """Canonical JSON for every row, then noise and incidents on the rows drawn for them."""
        rng, count = self.rng, len(events["customer"])
        noise = draw_noise(self.config.noise.by_kind(), rng, count)
        ts_ms = events["ts_ms"].copy()
        shift_times(noise, ts_ms, rng)
        incident = self._mark_incidents(events, ts_ms, noise)
        event_type, product = events["event_type"], events["product"]
        quantity = events["quantity"]
        currency = events["currency"] = self.world.customer_currency[events["customer"]]
        has_amount = event_type != PAGE_VIEW
        cents = np.where(has_amount, self.world.price_cents[product, currency] * quantity, -1)
        prefixes, values, keys = self.encoder.encode(events, ts_ms, rng)
        batch = EventBatch(
            values=values,
            keys=list(keys),  # noise may drop a key; `keys` keeps the canonical ones
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
            session=events["session"],
            device=events["device"],
            new_customer=events["new_customer"],
            incident=incident,
        )
        rows = rows_to_rewrite(noise)
        if len(rows):
            # Noisy rows are rebuilt field by field (few rows; the fast path stays simple).
            row_fields = self.encoder.fields(rows, prefixes, keys, events, cents)
            context = NoiseContext(self.encoder, now, self.horizon_ms, self._unsupported)
            rewrite_rows(batch, rows, row_fields, context, rng)
        rows = incident_rules.rewritten_rows(self.windows, incident)
        if len(rows):
            row_fields = self.encoder.fields(rows, prefixes, keys, events, cents)
            incident_rules.rewrite_rows(batch, rows, row_fields, self.windows)
        return batch

    def _mark_incidents(
        self, events: dict[str, np.ndarray], ts_ms: np.ndarray, noise: np.ndarray
    ) -> np.ndarray:
        """Incident per row (-1 = none); a checkout outage turns its purchases into views.

        A row an incident rewrites gets no rewriting noise (its time shift, if any, stays).
        """
        if not any(w.kind not in TRAFFIC_KINDS for w in self.windows):
            return np.full(len(ts_ms), -1, dtype=np.int8)
        marked = incident_rules.mark_rows(self.windows, events["event_type"], ts_ms, self.rng)
        incident_rules.swallow_purchases(
            events, incident_rules.checkout_outage_rows(self.windows, marked)
        )
        rewritten = incident_rules.rewritten_rows(self.windows, marked)
        noise[rewritten] = np.where(rewriting(noise[rewritten]), -1, noise[rewritten])
        return marked

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
