"""Realistic, reproducible shopper events, built column-wise for throughput.

A batch is generated as numpy columns (sessions, customers, products, times), rendered
to JSON bytes through a fixed template, then noise is applied to a few rows. Every row
keeps the generator's own classification (valid or which reason, duplicate or not,
customer, type, time, amount) so `truth.py` can compute what a correct pipeline must
end with without parsing the bytes again.

Model:
- customers (default 10,000) with Zipf-like activity, a home currency and a device;
- a catalog of products in categories, log-normal prices in the reporting currency,
  converted to each customer's currency at the configured rate;
- sessions: 1 + geometric page views, each view may add to cart (`cart_rate`), each
  cart line may be bought (`purchase_rate`); amounts are price x quantity;
- event time: now (live) or spread over a backfill window ending just before now.

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
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from shopstream.bronze.noise import (
    BAD_AMOUNTS,
    BAD_CURRENCIES,
    BAD_EVENT_TYPES,
    BAD_TIMESTAMPS,
    NOISE_REASON,
    NOT_OBJECTS,
    NULL_CURRENCIES,
    NULL_CUSTOMERS,
    UNSUPPORTED_CURRENCIES,
    Noise,
    NoiseRates,
)
from shopstream.contract import EVENT_TYPES, REASONS, Reason
from shopstream.errors import ConfigError

if TYPE_CHECKING:
    from shopstream.config import Settings

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

PAGE_VIEW, ADD_TO_CART, PURCHASE = 0, 1, 2  # indexes into contract.EVENT_TYPES

CATEGORIES: dict[str, float] = {  # category -> median price in the reporting currency
    "electronics": 120.0,
    "fashion": 45.0,
    "home": 60.0,
    "beauty": 25.0,
    "sports": 55.0,
    "books": 15.0,
    "toys": 30.0,
    "grocery": 8.0,
    "garden": 40.0,
    "automotive": 70.0,
}
DEVICES: dict[str, float] = {"mobile": 0.5, "desktop": 0.3, "app": 0.15, "tablet": 0.05}
CURRENCY_WEIGHTS: dict[str, float] = {
    "USD": 0.6, "EUR": 0.2, "GBP": 0.1, "CAD": 0.05, "AUD": 0.03, "JPY": 0.02,
}  # fmt: skip
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW"})  # priced in whole units

SEED_COMPAT_CUSTOMERS = tuple(f"CUST_{i:03d}" for i in range(1, 6))
SEED_COMPAT_INVALID_RATE = 0.25
SEED_COMPAT_BAD_TYPES = (b'"CLICK"', b'"VIEW"', b'"PAY"')

_HEX2 = np.array([b"%02x" % i for i in range(256)]).view(np.uint16)  # byte -> 2 hex chars
_REASON_INDEX = {r: i for i, r in enumerate(REASONS)}


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
    lateness_horizon_days: float = 7.0
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
    noise: np.ndarray  # int8 Noise kind or -1
    customer: np.ndarray  # int32
    event_type: np.ndarray  # int8 index into EVENT_TYPES
    ts_ms: np.ndarray  # int64 UTC epoch millis
    cents: np.ndarray  # int64 amount in minor units of `currency`, -1 = no amount
    currency: np.ndarray  # int8 index into generator.currencies, -1 = none
    product: np.ndarray  # int32, -1 = none
    quantity: np.ndarray  # int16
    has_event_id: np.ndarray  # bool

    _ARRAYS = (
        "reason", "duplicate", "noise", "customer", "event_type", "ts_ms", "cents",
        "currency", "product", "quantity", "has_event_id",
    )  # fmt: skip

    def __len__(self) -> int:
        return len(self.values)

    def take(self, order: np.ndarray) -> EventBatch:
        """Rows in `order` (an index array)."""
        idx = order.tolist()
        vals, keys = self.values, self.keys
        return EventBatch(
            [vals[i] for i in idx],
            [keys[i] for i in idx],
            *(getattr(self, a)[order] for a in self._ARRAYS),
        )

    def head(self, n: int) -> EventBatch:
        """The first `n` rows (what was sent when a run stops mid-batch)."""
        return EventBatch(
            self.values[:n], self.keys[:n], *(getattr(self, a)[:n] for a in self._ARRAYS)
        )

    def insert(self, at: np.ndarray, rows: EventBatch) -> EventBatch:
        """`rows` inserted before the indexes `at` (ascending), without re-copying per row."""
        values: list[bytes] = []
        keys: list[bytes | None] = []
        prev = 0
        for j, p in enumerate(at.tolist()):
            values += self.values[prev:p]
            keys += self.keys[prev:p]
            values.append(rows.values[j])
            keys.append(rows.keys[j])
            prev = p
        values += self.values[prev:]
        keys += self.keys[prev:]
        arrays = (np.insert(getattr(self, a), at, getattr(rows, a)) for a in self._ARRAYS)
        return EventBatch(values, keys, *arrays)

    @staticmethod
    def concat(parts: list[EventBatch]) -> EventBatch:
        """Rows of several batches, in order."""
        return EventBatch(
            [v for p in parts for v in p.values],
            [k for p in parts for k in p.keys],
            *(np.concatenate([getattr(p, a) for p in parts]) for a in EventBatch._ARRAYS),
        )

    def reason_name(self, i: int) -> str | None:
        """Reason code of row `i`, or None when valid."""
        r = int(self.reason[i])
        return None if r < 0 else REASONS[r]


def _hex(raw: np.ndarray) -> np.ndarray:
    """(n, k) uint8 -> (n, 2k) uint8 ASCII lowercase hex (one table lookup per byte)."""
    return _HEX2[raw].view(np.uint8).reshape(raw.shape[0], raw.shape[1] * 2)


def _uuid_into(out: np.ndarray, col: int, rng: np.random.Generator) -> None:
    """Write random version-4 UUIDs (36 ASCII chars) into out[:, col:col+36]."""
    raw = rng.integers(0, 256, size=(out.shape[0], 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h, c = _hex(raw), col
    out[:, c : c + 8] = h[:, 0:8]
    out[:, c + 9 : c + 13] = h[:, 8:12]
    out[:, c + 14 : c + 18] = h[:, 12:16]
    out[:, c + 19 : c + 23] = h[:, 16:20]
    out[:, c + 24 : c + 36] = h[:, 20:32]
    out[:, [c + 8, c + 13, c + 18, c + 23]] = ord("-")


def random_uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` random RFC 4122 version-4 UUID strings as an `S36` array, without uuid4() per row."""
    out = np.empty((n, 36), dtype=np.uint8)
    _uuid_into(out, 0, rng)
    return out.view("S36").ravel()


def _iso_body(ts_ms: np.ndarray) -> np.ndarray:
    """Epoch millis -> (n, 23) uint8 `YYYY-MM-DDTHH:MM:SS.mmm`."""
    body = np.ascontiguousarray(ts_ms.astype("datetime64[ms]").astype("S23"))
    return body.view(np.uint8).reshape(-1, 23)


def iso_utc(ts_ms: np.ndarray) -> np.ndarray:
    """Epoch millis -> `"YYYY-MM-DDTHH:MM:SS.mmmZ"` JSON strings (quoted), as an `S26` array."""
    out = np.empty((len(ts_ms), 26), dtype=np.uint8)
    out[:, 0] = out[:, 25] = ord('"')
    out[:, 1:24] = _iso_body(ts_ms)
    out[:, 24] = ord("Z")
    return out.view("S26").ravel()


def format_cents(cents: int) -> bytes:
    """Minor units -> JSON number text: 1234 -> 12.34, 1200 -> 12."""
    whole, frac = divmod(cents, 100)
    return b"%d" % whole if frac == 0 else b"%d.%02d" % (whole, frac)


def _iso_one(ts_ms: int, offset_min: int | None = 0) -> bytes:
    """One timestamp as ISO-8601 JSON string: offset 0 = `Z`, None = naive, else `+hh:mm`."""
    local = ts_ms + (offset_min or 0) * MINUTE_MS
    secs, ms = divmod(local, 1000)
    t = time.gmtime(secs)
    body = b"%04d-%02d-%02dT%02d:%02d:%02d.%03d" % (*t[:6], ms)
    if offset_min is None:
        suffix = b""
    elif offset_min == 0:
        suffix = b"Z"
    else:
        h, m = divmod(abs(offset_min), 60)
        suffix = (b"+" if offset_min > 0 else b"-") + b"%02d:%02d" % (h, m)
    return b'"' + body + suffix + b'"'


def _zipf_weights(n: int, s: float, rng: np.random.Generator) -> np.ndarray:
    """Zipf-like probabilities over `n` items, ranks shuffled so id order says nothing."""
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    rng.shuffle(w)
    return w / w.sum()


def _weighted(names: dict[str, float], allowed: list[str]) -> tuple[list[str], np.ndarray]:
    """Names restricted to `allowed` (unknown ones weighted like the smallest), normalized."""
    floor = min(names.values())
    picked = list(allowed)
    w = np.array([names.get(n, floor) for n in picked], dtype=np.float64)
    return picked, w / w.sum()


# Row template for canonical events; noisy rows go through `_join_fields` instead.
_SEED_TEMPLATE = (
    b'{"event_id":"%s","customer_id":%s,"event_type":%s,"amount":%s,"currency":%s,'
    b'"event_timestamp":%s,"is_valid":%s,"invalid_field":%s}'
)
_FIELD_ORDER = (
    b"event_id", b"event_type", b"customer_id", b"event_timestamp", b"amount", b"quantity",
    b"currency", b"session_id", b"product_id", b"category", b"device",
)  # fmt: skip


_Fields = dict[bytes, bytes | None]  # field name -> JSON value bytes; None = absent
_NOISE_REASON_INDEX = np.array(
    [_REASON_INDEX[NOISE_REASON[k]] if k in NOISE_REASON else -1 for k in Noise], dtype=np.int8
)


def _join_fields(row: _Fields) -> bytes:
    """JSON object from field -> JSON value bytes; None = field absent."""
    return b"{" + b",".join([b'"' + k + b'":' + v for k, v in row.items() if v is not None]) + b"}"


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
        self._now = self.started_ms
        self._noise_fns = {
            k.value: getattr(self, f"_noise_{k.name.lower()}")
            for k in Noise
            if k != Noise.OUT_OF_ORDER
        }
        self._build_world()

    # -- the world: currencies, customers, catalog -----------------------------------------

    def _build_world(self) -> None:
        cfg, rng = self.config, self.rng
        rates = {k.upper(): Decimal(v) for k, v in cfg.currency_rates.items()}
        self.rates = rates
        self.currencies, cur_w = _weighted(CURRENCY_WEIGHTS, sorted(rates))
        self.currency_json = [b'"%s"' % c.encode() for c in self.currencies]
        self.unsupported = [c for c in UNSUPPORTED_CURRENCIES if c not in rates] or ["QQQ"]
        if cfg.seed_compat:
            self.customer_ids = list(SEED_COMPAT_CUSTOMERS)
            self.product_ids, self.product_category = [], []
            return
        n_c, n_p = cfg.customers, cfg.products
        width = max(5, len(str(n_c)))
        self.customer_ids = [f"CUST_{i:0{width}d}" for i in range(1, n_c + 1)]
        self.customer_weights = _zipf_weights(n_c, cfg.zipf_exponent, rng)
        self.customer_currency = rng.choice(len(self.currencies), size=n_c, p=cur_w).astype(np.int8)
        self.devices, dev_w = _weighted(DEVICES, list(DEVICES))
        self.device_p = dev_w
        self.customer_device = rng.choice(len(self.devices), size=n_c, p=dev_w).astype(np.int8)

        cats = list(CATEGORIES)
        pcat = rng.integers(0, len(cats), size=n_p)
        median = np.array([CATEGORIES[c] for c in cats])[pcat]
        price = np.maximum(1.0, np.round(median * rng.lognormal(0.0, 0.6, size=n_p)))
        ref_cents = (price * 100 - 1).astype(np.int64)  # x.99 pricing, in reporting currency
        self.product_ids = [f"SKU-{i:06d}" for i in range(1, n_p + 1)]
        self.product_category = [cats[c] for c in pcat]
        self.product_weights = _zipf_weights(n_p, 1.0, rng)
        # price_cents[product, currency]: the shop lists local prices; rounding to the
        # currency's unit happens here, so amounts are exact in minor units.
        self.price_cents = np.empty((n_p, len(self.currencies)), dtype=np.int64)
        for j, cur in enumerate(self.currencies):
            local = ref_cents / float(rates[cur])
            if cur in ZERO_DECIMAL_CURRENCIES:
                local = np.maximum(1, np.round(local / 100)) * 100
            self.price_cents[:, j] = np.maximum(1, np.round(local)).astype(np.int64)

        self._cust_key = np.array([c.encode() for c in self.customer_ids])
        # Canonical rows are prefix + tail + device suffix. The prefix is fixed-width
        # (uuid, zero-padded customer id, ms timestamp, session id), so a whole batch of
        # prefixes is one uint8 matrix; tails and suffixes are looked up in small tables.
        width = len(self._cust_key[0])
        pre = (
            b'{"event_id":"' + b"u" * 36 + b'","customer_id":"' + b"c" * width
            + b'","event_timestamp":"' + b"t" * 23 + b'Z","session_id":"' + b"s" * 16 + b'",'
        )  # fmt: skip
        self._prefix_row = np.frombuffer(pre, dtype=np.uint8)
        self._col_uuid, self._col_cust = pre.index(b"u" * 36), pre.index(b"c" * width)
        self._col_ts, self._col_sess = pre.index(b"t" * 23), pre.index(b"s" * 16)
        self._cust_matrix = self._cust_key.view(np.uint8).reshape(n_c, width)
        self._type_json = [b'"%s"' % t.encode() for t in EVENT_TYPES]
        self._device_suffix = np.array([b',"device":"%s"}' % d.encode() for d in self.devices])
        # Tail per (product, combo): combo 0 = page view, else (type, currency, quantity).
        combos = [(PAGE_VIEW, -1, 1)] + [
            (t, j, q)
            for t in (ADD_TO_CART, PURCHASE)
            for j in range(len(self.currencies))
            for q in range(1, 6)
        ]
        table = []
        for p in range(n_p):
            prod = b'"product_id":"%s","category":"%s"' % (
                self.product_ids[p].encode(),
                self.product_category[p].encode(),
            )
            for t, j, q in combos:
                if t == PAGE_VIEW:
                    table.append(b'"event_type":"PAGE_VIEW",' + prod)
                    continue
                table.append(
                    b'"event_type":"%s","amount":%s,"quantity":%d,"currency":"%s",%s'
                    % (
                        EVENT_TYPES[t].encode(),
                        format_cents(int(self.price_cents[p, j]) * q),
                        q,
                        self.currencies[j].encode(),
                        prod,
                    )
                )
        self._tail = np.array(table)
        # JSON values for noisy rows, which are rebuilt field by field.
        self._product_json = [b'"%s"' % p.encode() for p in self.product_ids]
        self._category_json = [b'"%s"' % c.encode() for c in self.product_category]
        self._device_json = [b'"%s"' % d.encode() for d in self.devices]
        self._combos = len(combos)

    def _tail_index(
        self, etype: np.ndarray, product: np.ndarray, cur: np.ndarray, qty: np.ndarray
    ) -> np.ndarray:
        """Row of `_tail` for each event."""
        n_cur = len(self.currencies)
        combo = 1 + ((etype.astype(np.int64) - 1) * n_cur + cur) * 5 + qty - 1
        combo = np.where(etype == PAGE_VIEW, 0, combo)
        return product.astype(np.int64) * self._combos + combo

    # -- batches ---------------------------------------------------------------------------

    def batches(self, total: int | None = None, batch_size: int = 65_536) -> Iterator[EventBatch]:
        """Batches until `total` rows (default: `total_events`; None = forever)."""
        total = total if total is not None else self.total_events
        while total is None or self.position < total:
            n = batch_size if total is None else min(batch_size, total - self.position)
            yield self.next_batch(n)

    def next_batch(self, n: int, spread_ms: int = 0) -> EventBatch:
        """The next `n` rows; live timestamps spread over `spread_ms` from now."""
        if n <= 0:
            raise ValueError("batch size must be positive")
        now = int(self._clock())
        times = self._times(n, now, spread_ms)
        if self.config.seed_compat:
            batch = self._seed_compat_batch(n, times, now)
        else:
            n_dup = int(self.rng.binomial(n, self.config.noise.duplicate)) if n > 1 else 0
            base = self._render(self._sessions(n - n_dup, times[: n - n_dup]), now)
            batch = self._add_duplicates(base, n_dup)
        self.position += n
        return batch

    def _times(self, n: int, now: int, spread_ms: int) -> np.ndarray:
        """Event-time slots for the next `n` rows, ascending."""
        if self.config.backfill_days <= 0:
            return now + (np.arange(n, dtype=np.int64) * spread_ms) // max(n, 1)
        # Backfill: the run covers [start, end] linearly by row position, so batches advance
        # through the window; `end` stays a minute before now (never "future").
        total = self.total_events or n
        end = self.started_ms - MINUTE_MS
        start = end - int(self.config.backfill_days * DAY_MS)
        pos = self.position + np.arange(n, dtype=np.float64)
        return (start + pos / total * (end - start)).astype(np.int64)

    def _sessions(self, n: int, slots: np.ndarray) -> dict[str, np.ndarray]:
        """`n` canonical events from whole sessions, in time order."""
        cfg, rng = self.config, self.rng
        per_session = cfg.mean_views * (1 + cfg.cart_rate * (1 + cfg.purchase_rate))
        s = int(n / per_session * 1.3) + 2
        while True:  # draw enough sessions; a short draw (tiny batches) is redrawn larger
            views = np.minimum(rng.geometric(1.0 / cfg.mean_views, size=s), 50)
            carted_p = rng.random(int(views.sum()))
            if len(carted_p) * (1 + cfg.cart_rate) >= n or s > 4 * n + 8:
                break
            s *= 2
        v_sess = np.repeat(np.arange(s), views)
        nv = len(v_sess)
        # Within-session clock: page views ~30 s apart, cart ~15 s after its view,
        # purchase ~1 min after its cart. Offsets only order rows; slots give the times.
        gaps = rng.exponential(30_000.0, size=nv)
        csum = np.cumsum(gaps)
        first = np.concatenate(([0], np.cumsum(views)[:-1]))
        v_off = csum - np.repeat(csum[first] - gaps[first], views)
        v_prod = rng.choice(cfg.products, size=nv, p=self.product_weights)
        carted = carted_p < cfg.cart_rate
        bought = carted & (rng.random(nv) < cfg.purchase_rate)
        c_idx, b_idx = np.flatnonzero(carted), np.flatnonzero(bought)
        qty_all = rng.choice(5, size=nv, p=[0.62, 0.22, 0.09, 0.05, 0.02]).astype(np.int16) + 1
        cart_at = v_off + rng.exponential(15_000.0, size=nv)
        c_off = cart_at[c_idx]
        b_off = cart_at[b_idx] + 5_000.0 + rng.exponential(60_000.0, size=len(b_idx))

        sess = np.concatenate((v_sess, v_sess[c_idx], v_sess[b_idx]))
        etype = np.concatenate(
            (
                np.full(nv, PAGE_VIEW),
                np.full(len(c_idx), ADD_TO_CART),
                np.full(len(b_idx), PURCHASE),
            )
        ).astype(np.int8)
        prod = np.concatenate((v_prod, v_prod[c_idx], v_prod[b_idx])).astype(np.int32)
        qty = np.concatenate((np.ones(nv, np.int16), qty_all[c_idx], qty_all[b_idx]))
        # Sessions start spread over the batch and interleave; rows past `n` are cut.
        start = rng.random(s) * s * 60_000.0
        vtime = start[sess] + np.concatenate((v_off, c_off, b_off))
        order = np.argsort(vtime, kind="stable")[:n]
        if len(order) < n:  # only with extreme rates (e.g. mean_views=1, tiny batch)
            order = np.resize(order, n)
        sess, etype, prod, qty = sess[order], etype[order], prod[order], qty[order]
        cust = rng.choice(cfg.customers, size=s, p=self.customer_weights).astype(np.int32)
        dev = np.where(
            rng.random(s) < 0.8,
            self.customer_device[cust],
            rng.choice(len(self.devices), size=s, p=self.device_p),
        ).astype(np.int8)
        sess_ids = _hex(rng.integers(0, 256, size=(s, 8), dtype=np.uint8)).view("S16").ravel()
        c = cust[sess]
        return {
            "sess_id": sess_ids[sess],
            "customer": c,
            "device": dev[sess],
            "currency": self.customer_currency[c],
            "event_type": etype,
            "product": prod,
            "quantity": qty,
            "ts_ms": slots.astype(np.int64),
        }

    # -- rendering and noise ---------------------------------------------------------------

    def _render(self, ev: dict[str, np.ndarray], now: int) -> EventBatch:
        """Canonical JSON for every row, then noise on the rows drawn for it."""
        rng, n = self.rng, len(ev["customer"])
        rates = self.config.noise.by_kind()
        noise = np.full(n, -1, dtype=np.int8)
        if sum(rates) > 0:
            cum = np.cumsum(rates)
            u = rng.random(n)
            k = np.searchsorted(cum, u, side="right")
            noise = np.where(k < len(rates), k, -1).astype(np.int8)

        etype, prod, cur, qty = ev["event_type"], ev["product"], ev["currency"], ev["quantity"]
        ts = ev["ts_ms"].copy()
        has_amount = etype != PAGE_VIEW
        cents = np.where(has_amount, self.price_cents[prod, cur] * qty, -1)
        # Out-of-order: late but within the horizon (<= 1 h), so still valid.
        ooo = np.flatnonzero(noise == Noise.OUT_OF_ORDER)
        ts[ooo] -= rng.integers(MINUTE_MS, HOUR_MS, size=len(ooo))

        mat = np.empty((n, len(self._prefix_row)), dtype=np.uint8)
        mat[:] = self._prefix_row
        _uuid_into(mat, self._col_uuid, rng)
        cw = self._cust_matrix.shape[1]
        mat[:, self._col_cust : self._col_cust + cw] = self._cust_matrix[ev["customer"]]
        mat[:, self._col_ts : self._col_ts + 23] = _iso_body(ts)
        mat[:, self._col_sess : self._col_sess + 16] = ev["sess_id"].view(np.uint8).reshape(n, 16)
        prefix = mat.view(f"S{mat.shape[1]}").ravel().tolist()
        tail = self._tail[self._tail_index(etype, prod, cur, qty)].tolist()
        suffix = self._device_suffix[ev["device"]].tolist()
        values = [b"%s%s%s" % row for row in zip(prefix, tail, suffix, strict=True)]
        cust_key = self._cust_key[ev["customer"]].tolist()

        batch = EventBatch(
            values=values,
            keys=cust_key,  # type: ignore[arg-type]
            reason=np.full(n, -1, dtype=np.int8),
            duplicate=np.zeros(n, dtype=bool),
            noise=noise,
            customer=ev["customer"].astype(np.int32),
            event_type=etype.astype(np.int8),
            ts_ms=ts,
            cents=cents.astype(np.int64),
            currency=np.where(has_amount, cur, -1).astype(np.int8),
            product=prod.astype(np.int32),
            quantity=qty.astype(np.int16),
            has_event_id=np.ones(n, dtype=bool),
        )
        slow = np.flatnonzero((noise >= 0) & (noise != Noise.OUT_OF_ORDER))
        if len(slow):
            # Noisy rows are rebuilt field by field (few rows; the fast path stays simple).
            variant = rng.integers(0, 1 << 30, size=len(slow)).tolist()
            extra = rng.random(len(slow)).tolist()
            cu, ct, cs = self._col_uuid, self._col_ts, self._col_sess
            rows = slow.tolist()
            # The reason is fixed by the kind; rows only change their fields.
            batch.reason[slow] = _NOISE_REASON_INDEX[noise[slow]]
            fns = [self._noise_fns[k] for k in noise[slow].tolist()]
            self._now = now
            s_prod, s_type = prod[slow].tolist(), etype[slow].tolist()
            s_dev, s_cents = ev["device"][slow].tolist(), cents[slow].tolist()
            s_qty, s_cur = qty[slow].tolist(), cur[slow].tolist()
            for j, i in enumerate(rows):
                pre, p = prefix[i], s_prod[j]
                fields = {
                    b"event_id": pre[cu - 1 : cu + 37],
                    b"event_type": self._type_json[s_type[j]],
                    b"customer_id": b'"' + cust_key[i] + b'"',
                    b"event_timestamp": pre[ct - 1 : ct + 25],
                    b"amount": None,
                    b"quantity": None,
                    b"currency": None,
                    b"session_id": pre[cs - 1 : cs + 17],
                    b"product_id": self._product_json[p],
                    b"category": self._category_json[p],
                    b"device": self._device_json[s_dev[j]],
                }
                if s_cents[j] >= 0:
                    fields[b"amount"] = format_cents(s_cents[j])
                    fields[b"quantity"] = b"%d" % s_qty[j]
                    fields[b"currency"] = self.currency_json[s_cur[j]]
                out = fns[j](batch, i, fields, variant[j], extra[j])
                batch.values[i] = _join_fields(fields) if out is None else out
        return batch

    def _alt_timestamp(self, ts_ms: int, v: int) -> bytes:
        """Same instant, other accepted spelling: epoch millis, an offset, or naive (= UTC)."""
        pick = v % 4
        if pick == 0:
            return b"%d" % ts_ms
        if pick == 1:
            return _iso_one(ts_ms, None)
        return _iso_one(ts_ms, (120, -300, 330, 60, -480, 540)[(v >> 2) % 6])

    def _ensure_amount(self, b: EventBatch, i: int, f: dict[bytes, bytes | None]) -> None:
        """Give a page view an amount (its price) so amount/currency noise applies."""
        if f[b"amount"] is None:
            c = int(self.customer_currency[b.customer[i]])
            b.cents[i] = self.price_cents[b.product[i], c]
            b.currency[i] = c
            f[b"amount"] = format_cents(int(b.cents[i]))
            f[b"currency"] = self.currency_json[c]

    # Noise, one method per kind: mutate row `i` (JSON fields `f`, arrays of `b`); return
    # the finished bytes, or None to serialize `f`. `v`, `x` are the row's random draws.

    def _noise_malformed_json(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> bytes:
        return _malform(_join_fields(f), v, x)

    def _noise_not_an_object(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> bytes:
        b.keys[i], b.customer[i] = None, -1
        pick = v % (len(NOT_OBJECTS) + 1)
        return b"[" + _join_fields(f) + b"]" if pick == len(NOT_OBJECTS) else NOT_OBJECTS[pick]

    def _noise_null_customer(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        f[b"customer_id"] = NULL_CUSTOMERS[v % len(NULL_CUSTOMERS)]
        b.keys[i], b.customer[i] = None, -1

    def _noise_bad_event_type(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        f[b"event_type"] = BAD_EVENT_TYPES[v % len(BAD_EVENT_TYPES)]

    def _noise_bad_timestamp(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        f[b"event_timestamp"] = BAD_TIMESTAMPS[v % len(BAD_TIMESTAMPS)]

    def _noise_future_timestamp(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        # Days ahead, never near the 5-minute tolerance: the outcome cannot flip.
        ts = self._now + 2 * DAY_MS + int(x * 28 * DAY_MS)
        b.ts_ms[i] = ts
        f[b"event_timestamp"] = _iso_one(ts)

    def _noise_too_late(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        ts = self._now - self.horizon_ms - 10 * DAY_MS - int(x * 50 * DAY_MS)
        b.ts_ms[i] = ts
        f[b"event_timestamp"] = _iso_one(ts)

    def _noise_bad_amount(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        self._ensure_amount(b, i, f)
        f[b"amount"] = BAD_AMOUNTS[v % len(BAD_AMOUNTS)]

    def _noise_missing_amount(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        b.event_type[i] = PURCHASE
        f[b"event_type"] = b'"PURCHASE"'
        f[b"amount"] = f[b"currency"] = None
        b.cents[i], b.currency[i] = -1, -1

    def _noise_null_currency(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        self._ensure_amount(b, i, f)
        f[b"currency"] = NULL_CURRENCIES[v % len(NULL_CURRENCIES)]

    def _noise_bad_currency(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        self._ensure_amount(b, i, f)
        f[b"currency"] = BAD_CURRENCIES[v % len(BAD_CURRENCIES)]

    def _noise_unsupported_currency(
        self, b: EventBatch, i: int, f: _Fields, v: int, x: float
    ) -> None:
        self._ensure_amount(b, i, f)
        f[b"currency"] = b'"%s"' % self.unsupported[v % len(self.unsupported)].encode()

    def _noise_type_variant(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        name = EVENT_TYPES[b.event_type[i]]
        spelled = (name.lower(), name.title(), f" {name} ", f"  {name.lower()}  ")[v % 4]
        f[b"event_type"] = b'"%s"' % spelled.encode()
        if f[b"currency"] is not None and v & 4:
            f[b"currency"] = f[b"currency"].lower()

    def _noise_string_amount(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        self._ensure_amount(b, i, f)
        f[b"amount"] = b'"%s"' % f[b"amount"]

    def _noise_subcent_amount(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        # Three decimals; Silver must round half-up to cents (x.xx5 -> up).
        self._ensure_amount(b, i, f)
        cents = int(b.cents[i])
        mils = cents * 10 + 1 + v % 9 if v & 16 else cents * 10 + 5  # else: the exact tie
        b.cents[i] = (mils + 5) // 10
        whole, frac = divmod(mils, 1000)
        f[b"amount"] = b"%d.%03d" % (whole, frac)

    def _noise_alt_timestamp(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        f[b"event_timestamp"] = self._alt_timestamp(int(b.ts_ms[i]), v)

    def _noise_missing_event_id(self, b: EventBatch, i: int, f: _Fields, v: int, x: float) -> None:
        f[b"event_id"] = None
        b.has_event_id[i] = False

    def _add_duplicates(self, base: EventBatch, n_dup: int) -> EventBatch:
        """Resend `n_dup` valid events' exact bytes, mostly shortly after the original."""
        rng, n = self.rng, len(base)
        eligible = np.flatnonzero((base.reason < 0) & base.has_event_id)
        if n_dup and len(eligible):
            ring = self._ring
            from_ring = int(rng.binomial(n_dup, 0.3)) if ring is not None and len(ring) else 0
            src = rng.choice(eligible, size=n_dup - from_ring)
            # A copy goes shortly after its source (same key, so same partition: the
            # original is always consumed first); copies of earlier batches go anywhere.
            at = np.minimum(src + rng.integers(2, 2001, size=len(src)), n)
            parts = [base.take(src)]
            if from_ring:
                ring_rows = rng.integers(0, len(ring), size=from_ring)  # type: ignore[arg-type]
                parts.append(ring.take(ring_rows))  # type: ignore[union-attr]
                at = np.concatenate((at, rng.integers(0, n + 1, size=from_ring)))
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

    # -- seed compatibility ----------------------------------------------------------------

    def _seed_compat_batch(self, n: int, times: np.ndarray, now: int) -> EventBatch:
        """The seed producer's shape: 5 customers, uppercase types, 25% invalid, hint flags."""
        rng = self.rng
        cust = rng.integers(0, len(SEED_COMPAT_CUSTOMERS), size=n).astype(np.int32)
        etype = rng.integers(0, 3, size=n).astype(np.int8)
        cents = rng.integers(1000, 50_001, size=n).astype(np.int64)
        usd = self.currencies.index("USD") if "USD" in self.currencies else 0
        bad = np.where(rng.random(n) < SEED_COMPAT_INVALID_RATE, rng.integers(0, 4, size=n), -1)
        cust_json = np.array([b'"%s"' % c.encode() for c in SEED_COMPAT_CUSTOMERS])[cust].tolist()
        keys: list[bytes | None] = [c.encode() for c in SEED_COMPAT_CUSTOMERS]  # type: ignore[misc]
        key_list = [keys[c] for c in cust.tolist()]
        type_json = np.array([b'"%s"' % t.encode() for t in EVENT_TYPES])[etype].tolist()
        amount = [format_cents(c) for c in cents.tolist()]
        currency = [self.currency_json[usd]] * n
        valid_json, invalid_field = [b"true"] * n, [b"null"] * n
        reason = np.full(n, -1, dtype=np.int8)
        customer = cust.copy()
        for i in np.flatnonzero(bad >= 0).tolist():
            kind = int(bad[i])
            valid_json[i] = b"false"
            if kind == 0:
                cust_json[i], key_list[i], customer[i] = b"null", None, -1
                invalid_field[i], reason[i] = (
                    b'"customer_id"',
                    _REASON_INDEX[Reason.MISSING_CUSTOMER_ID],
                )
            elif kind == 1:
                type_json[i] = SEED_COMPAT_BAD_TYPES[i % 3]
                invalid_field[i], reason[i] = (
                    b'"event_type"',
                    _REASON_INDEX[Reason.UNKNOWN_EVENT_TYPE],
                )
            elif kind == 2:
                amount[i] = b"-" + amount[i]
                invalid_field[i], reason[i] = b'"amount"', _REASON_INDEX[Reason.INVALID_AMOUNT]
            else:
                currency[i] = b"null"
                invalid_field[i], reason[i] = b'"currency"', _REASON_INDEX[Reason.MISSING_CURRENCY]
        ids = random_uuids(rng, n).tolist()
        ts_json = iso_utc(times).tolist()
        values = [
            _SEED_TEMPLATE % row
            for row in zip(
                ids,
                cust_json,
                type_json,
                amount,
                currency,
                ts_json,
                valid_json,
                invalid_field,
                strict=True,
            )
        ]
        return EventBatch(
            values=values,
            keys=key_list,
            reason=reason,
            duplicate=np.zeros(n, dtype=bool),
            noise=np.full(n, -1, dtype=np.int8),
            customer=customer,
            event_type=etype,
            ts_ms=times.astype(np.int64),
            cents=cents,
            currency=np.full(n, usd, dtype=np.int8),
            product=np.full(n, -1, dtype=np.int32),
            quantity=np.ones(n, dtype=np.int16),
            has_event_id=np.ones(n, dtype=bool),
        )


def _malform(row: bytes, v: int, x: float) -> bytes:
    """Corrupt a JSON object so that no JSON parser accepts it."""
    pick = v % 7
    if pick == 0:  # truncated: any proper prefix of an object is unbalanced
        return row[: max(1, int(len(row) * x))]
    if pick == 1:  # invalid UTF-8 inside a string
        return row[:14] + b"\xff\xfe" + row[14:]
    if pick == 2:
        return b""
    if pick == 3:
        return b"not json at all"
    if pick == 4:  # Python repr, not JSON
        return row.replace(b'"', b"'")
    if pick == 5:  # trailing garbage after a complete object
        return row + b"}"
    return b"   "
