"""Noise the generator can inject: each kind declared once in `noise_rates.KIND_RATES`.

A kind either makes an event invalid with exactly one dead-letter reason (the event is
otherwise valid, so the first failing rule is always the intended one) or is a valid
variant that a correct pipeline must normalize (lowercase types, string amounts, ...).
Duplicates are not a kind here: they resend a valid event's exact bytes (the generator
does that across rows) and have their own rate, `DUPLICATE`.

Adding a kind is one `NoiseRate` entry there and its function here (`_<name>`, or
`_<name>_shift` for a time shift): its `NoiseRates` field, its `--<kind>-rate` flag and
help, its reason in the ground truth and its application all follow from them.
Entries are drawn in order and their position is the kind's value in `EventBatch.noise`;
a new kind goes at the end, so the others keep their positions. Any new kind with a
non-zero default changes the bytes of a seeded run: re-record the pinned digests
(tests/unit/bronze/test_bronze_bytes_pinned.py) and say so in the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import IntEnum

import numpy as np

from shopstream.bronze.batch import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    PURCHASE,
    REASON_INDEX,
    EventBatch,
)
from shopstream.bronze.encoding import Fields, RowEncoder, format_cents, iso_timestamp, join_fields
from shopstream.bronze.noise_rates import DUPLICATE as DUPLICATE
from shopstream.bronze.noise_rates import KIND_RATES, NoiseRate
from shopstream.bronze.noise_rates import NOISE_RATES as NOISE_RATES
from shopstream.bronze.noise_rates import NoiseRates as NoiseRates
from shopstream.bronze.noise_rates import rate_flag as rate_flag
from shopstream.contract import EVENT_TYPES

# Value variants per kind (JSON value bytes; None = field absent). Each is unambiguous
# under the contract: e.g. no whitespace other than spaces (Spark's trim() strips only
# spaces), no empty-string amounts (absent or invalid?), no bare NaN (not JSON).
BAD_EVENT_TYPES: tuple[bytes | None, ...] = (
    b'"CLICK"',
    b'"VIEW"',
    b'"PAY"',
    b'"REFUND"',
    b'"PAGEVIEW"',
    b'""',
    b"null",
    None,
)
NULL_CUSTOMERS: tuple[bytes | None, ...] = (b"null", b'""', b'"   "', None)
BAD_TIMESTAMPS: tuple[bytes | None, ...] = (
    b'"not-a-timestamp"',
    b'"yesterday"',
    b'""',
    b"null",
    b"true",
    None,
)
BAD_AMOUNTS: tuple[bytes, ...] = (
    b"-12.5",
    b"-0.99",
    b"0",
    b"0.00",
    b'"abc"',
    b'"NaN"',
    b'"Infinity"',
    b'"12,50"',
    b"1e20",
    b'"12345678901234567.5"',
)
NULL_CURRENCIES: tuple[bytes | None, ...] = (b"null", None)
BAD_CURRENCIES: tuple[bytes, ...] = (b'"US"', b'"DOLLAR"', b'"U5D"', b'"$"', b"840", b'"E"')
# Well-formed but (normally) not in the rate table; filtered against the live table.
UNSUPPORTED_CURRENCIES: tuple[str, ...] = ("CHF", "SEK", "BRL", "INR", "XAU", "ZZZ")
NOT_OBJECTS: tuple[bytes, ...] = (b"[]", b"42", b"null", b'"PURCHASE"', b"true")
TIMESTAMP_OFFSETS_MINUTES = (120, -300, 330, 60, -480, 540)


def unsupported_currencies(rates: dict[str, Decimal]) -> list[str]:
    """Well-formed codes missing from the rate table (a made-up one if all are present)."""
    return [code for code in UNSUPPORTED_CURRENCIES if code not in rates] or ["QQQ"]


@dataclass(frozen=True)
class NoiseContext:
    """What noise needs beyond the row: the world's prices and currencies, and the clock."""

    encoder: RowEncoder
    now_ms: int
    horizon_ms: int  # the lateness horizon Silver applies
    unsupported: list[str]  # from `unsupported_currencies`


@dataclass
class NoisyRow:
    """One row being made noisy: its JSON fields, its place in the batch, its random draws."""

    batch: EventBatch
    index: int
    fields: Fields
    variant: int  # random in [0, 2**30): picks a kind's spelling or variant
    fraction: float  # random in [0, 1): sizes and distances
    context: NoiseContext

    def drop_key(self) -> None:
        """No customer to key the message by (sent with a null key)."""
        self.batch.keys[self.index], self.batch.customer[self.index] = None, -1

    def set_time(self, ts_ms: int) -> None:
        """A new event time, in the classification and the bytes."""
        self.batch.ts_ms[self.index] = ts_ms
        self.fields[b"event_timestamp"] = iso_timestamp(ts_ms)

    def ensure_amount(self) -> None:
        """Give a page view an amount (its price) so amount/currency noise applies."""
        if self.fields[b"amount"] is not None:
            return
        batch, index, encoder = self.batch, self.index, self.context.encoder
        currency = int(encoder.world.customer_currency[batch.customer[index]])
        batch.cents[index] = encoder.world.price_cents[batch.product[index], currency]
        batch.currency[index] = currency
        self.fields[b"amount"] = format_cents(int(batch.cents[index]))
        self.fields[b"currency"] = encoder.currency_json[currency]


# Row noise: rewrite the row's fields (and its classification in the batch); return the
# finished bytes, or None to serialize the fields.
RowNoise = Callable[[NoisyRow], bytes | None]
# Time noise: shifts (ms) added to the event time of `count` rows, before rendering.
TimeShift = Callable[[np.random.Generator, int], np.ndarray]


def _malformed_json(row: NoisyRow) -> bytes:
    """Corrupt the JSON object so that no JSON parser accepts it."""
    text = join_fields(row.fields)
    pick = row.variant % 7
    if pick == 0:  # truncated: any proper prefix of an object is unbalanced
        return text[: max(1, int(len(text) * row.fraction))]
    if pick == 1:  # invalid UTF-8 inside a string
        return text[:14] + b"\xff\xfe" + text[14:]
    if pick == 2:
        return b""
    if pick == 3:
        return b"not json at all"
    if pick == 4:  # Python repr, not JSON
        return text.replace(b'"', b"'")
    if pick == 5:  # trailing garbage after a complete object
        return text + b"}"
    return b"   "


def _not_an_object(row: NoisyRow) -> bytes:
    row.drop_key()
    pick = row.variant % (len(NOT_OBJECTS) + 1)
    if pick == len(NOT_OBJECTS):
        return b"[" + join_fields(row.fields) + b"]"
    return NOT_OBJECTS[pick]


def _null_customer(row: NoisyRow) -> None:
    row.fields[b"customer_id"] = NULL_CUSTOMERS[row.variant % len(NULL_CUSTOMERS)]
    row.drop_key()


def _bad_event_type(row: NoisyRow) -> None:
    row.fields[b"event_type"] = BAD_EVENT_TYPES[row.variant % len(BAD_EVENT_TYPES)]


def _bad_timestamp(row: NoisyRow) -> None:
    row.fields[b"event_timestamp"] = BAD_TIMESTAMPS[row.variant % len(BAD_TIMESTAMPS)]


def _future_timestamp(row: NoisyRow) -> None:
    # Days ahead, never near the 5-minute tolerance: the outcome cannot flip.
    row.set_time(row.context.now_ms + 2 * DAY_MS + int(row.fraction * 28 * DAY_MS))


def _too_late(row: NoisyRow) -> None:
    context = row.context
    row.set_time(
        context.now_ms - context.horizon_ms - 10 * DAY_MS - int(row.fraction * 50 * DAY_MS)
    )


def _bad_amount(row: NoisyRow) -> None:
    row.ensure_amount()
    row.fields[b"amount"] = BAD_AMOUNTS[row.variant % len(BAD_AMOUNTS)]


def _missing_amount(row: NoisyRow) -> None:
    row.batch.event_type[row.index] = PURCHASE
    row.fields[b"event_type"] = b'"PURCHASE"'
    row.fields[b"amount"] = row.fields[b"currency"] = None
    row.batch.cents[row.index], row.batch.currency[row.index] = -1, -1


def _null_currency(row: NoisyRow) -> None:
    row.ensure_amount()
    row.fields[b"currency"] = NULL_CURRENCIES[row.variant % len(NULL_CURRENCIES)]


def _bad_currency(row: NoisyRow) -> None:
    row.ensure_amount()
    row.fields[b"currency"] = BAD_CURRENCIES[row.variant % len(BAD_CURRENCIES)]


def _unsupported_currency(row: NoisyRow) -> None:
    row.ensure_amount()
    unsupported = row.context.unsupported
    row.fields[b"currency"] = b'"%s"' % unsupported[row.variant % len(unsupported)].encode()


def _type_variant(row: NoisyRow) -> None:
    name = EVENT_TYPES[row.batch.event_type[row.index]]
    spellings = (name.lower(), name.title(), f" {name} ", f"  {name.lower()}  ")
    row.fields[b"event_type"] = b'"%s"' % spellings[row.variant % 4].encode()
    currency = row.fields[b"currency"]
    if currency is not None and row.variant & 4:
        row.fields[b"currency"] = currency.lower()


def _string_amount(row: NoisyRow) -> None:
    row.ensure_amount()
    row.fields[b"amount"] = b'"%s"' % row.fields[b"amount"]


def _subcent_amount(row: NoisyRow) -> None:
    # Three decimals; Silver must round half-up to cents (x.xx5 -> up). Half the rows
    # get a random third decimal, the other half the exact tie.
    row.ensure_amount()
    cents = int(row.batch.cents[row.index])
    mils = cents * 10 + (1 + row.variant % 9 if row.variant & 16 else 5)
    row.batch.cents[row.index] = (mils + 5) // 10
    whole, fraction = divmod(mils, 1000)
    row.fields[b"amount"] = b"%d.%03d" % (whole, fraction)


def _alt_timestamp(row: NoisyRow) -> None:
    """Same instant, other accepted spelling: epoch millis, an offset, or naive (= UTC)."""
    ts_ms, pick = int(row.batch.ts_ms[row.index]), row.variant % 4
    if pick == 0:
        spelled = b"%d" % ts_ms
    elif pick == 1:
        spelled = iso_timestamp(ts_ms, None)
    else:
        offsets = TIMESTAMP_OFFSETS_MINUTES
        spelled = iso_timestamp(ts_ms, offsets[(row.variant >> 2) % len(offsets)])
    row.fields[b"event_timestamp"] = spelled


def _missing_event_id(row: NoisyRow) -> None:
    row.fields[b"event_id"] = None
    row.batch.has_event_id[row.index] = False


def _out_of_order_shift(rng: np.random.Generator, count: int) -> np.ndarray:
    # Late but within the horizon (<= 1 h), so still valid.
    return -rng.integers(MINUTE_MS, HOUR_MS, size=count)


@dataclass(frozen=True)
class NoiseKind(NoiseRate):
    """A per-row noise kind: the reason it must produce and how it changes a row.

    Exactly one of `apply` (rewrite the row's fields) and `shift_time` (move the event
    time before the row is rendered, keeping the fast path) is set.
    """

    apply: RowNoise | None = field(default=None, repr=False)
    shift_time: TimeShift | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.apply is None) == (self.shift_time is None):
            raise TypeError(f"noise kind {self.name}: set exactly one of apply, shift_time")


def _kind(rate: NoiseRate) -> NoiseKind:
    """The kind of `rate`: it rewrites rows with `_<name>`, or shifts times with `_<name>_shift`."""
    name = f"_{rate.name}_shift" if rate.shifts_time else f"_{rate.name}"
    behaviour = globals().get(name)
    if behaviour is None:
        raise TypeError(f"noise kind {rate.name} is declared in noise_rates but {name} is missing")
    key = "shift_time" if rate.shifts_time else "apply"
    return NoiseKind(**{f.name: getattr(rate, f.name) for f in fields(rate)}, **{key: behaviour})


NOISE_KINDS: tuple[NoiseKind, ...] = tuple(_kind(rate) for rate in KIND_RATES)

# Per-row arrays and the truth name kinds by position; the enum gives positions names.
Noise = IntEnum("Noise", [(kind.name.upper(), index) for index, kind in enumerate(NOISE_KINDS)])
# Kind position -> index into contract.REASONS (-1 = valid variant).
NOISE_REASON_INDEX = np.array(
    [-1 if kind.reason is None else REASON_INDEX[kind.reason] for kind in NOISE_KINDS],
    dtype=np.int8,
)
_REWRITING_KINDS = [position for position, kind in enumerate(NOISE_KINDS) if kind.apply is not None]


def apply_noise(row: NoisyRow) -> bytes:
    """The row's bytes after its kind (from `batch.noise`) rewrote it."""
    kind = NOISE_KINDS[row.batch.noise[row.index]]
    assert kind.apply is not None, kind.name  # time-shift kinds never reach here
    finished = kind.apply(row)
    return join_fields(row.fields) if finished is None else finished


def draw_noise(rates: list[float], rng: np.random.Generator, count: int) -> np.ndarray:
    """Kind position per row (-1 = none), each kind with its rate (`NoiseRates.by_kind`)."""
    if sum(rates) <= 0:
        return np.full(count, -1, dtype=np.int8)
    position = np.searchsorted(np.cumsum(rates), rng.random(count), side="right")
    return np.where(position < len(rates), position, -1).astype(np.int8)


def shift_times(noise: np.ndarray, ts_ms: np.ndarray, rng: np.random.Generator) -> None:
    """Move the event time (in place) of rows whose kind shifts time."""
    for position, kind in enumerate(NOISE_KINDS):
        if kind.shift_time is not None:
            rows = np.flatnonzero(noise == position)
            ts_ms[rows] += kind.shift_time(rng, len(rows))


def rewriting(noise: np.ndarray) -> np.ndarray:
    """Whether each row's kind rewrites its fields (rather than none, or a time shift)."""
    return np.isin(noise, _REWRITING_KINDS)


def rows_to_rewrite(noise: np.ndarray) -> np.ndarray:
    """Rows whose kind rewrites their fields (few; the fast path renders the rest)."""
    return np.flatnonzero(rewriting(noise))


def rewrite_rows(
    batch: EventBatch,
    rows: np.ndarray,
    row_fields: list[Fields],
    context: NoiseContext,
    rng: np.random.Generator,
) -> None:
    """Let each row's kind rewrite its canonical `row_fields`; set the row's reason."""
    variants = rng.integers(0, 1 << 30, size=len(rows)).tolist()
    fractions = rng.random(len(rows)).tolist()
    # The reason is fixed by the kind; rows only change their fields.
    batch.reason[rows] = NOISE_REASON_INDEX[batch.noise[rows]]
    for index, fields_, variant, fraction in zip(
        rows.tolist(), row_fields, variants, fractions, strict=True
    ):
        row = NoisyRow(batch, index, fields_, variant, fraction, context)
        batch.values[index] = apply_noise(row)
