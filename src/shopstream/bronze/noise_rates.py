"""Every noise kind's rate, declared once: name, default, `--<name>-rate` help, reason.

Without numpy or the generator, so the CLI builds its flags from here in milliseconds
(`shopstream --help` imported numpy through `noise` for them: ~90 ms of its ~0.45 s).
How each kind changes a row lives in `noise` (`_<name>`, or `_<name>_shift` for a kind
that moves the event time), which pairs them at import and refuses a kind without one.
Entries are drawn in order and their position is the kind's value in `EventBatch.noise`;
a new kind goes at the end (see `noise`'s docstring for the pinned digests).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, make_dataclass
from typing import Self

from shopstream.contract import Reason
from shopstream.errors import ConfigError


@dataclass(frozen=True)
class NoiseRate:
    """A rate the generator draws: its name, default and the help of `--<name>-rate`."""

    name: str
    default_rate: float
    help: str
    reason: Reason | None = None  # a kind's reason; None = a valid variant, the event stays clean
    shifts_time: bool = False  # the kind moves the event time instead of rewriting the row


KIND_RATES: tuple[NoiseRate, ...] = (
    # Invalid kinds: each must be dead-lettered with its reason.
    NoiseRate(
        "malformed_json",
        0.004,
        "malformed JSON (truncated, invalid UTF-8, empty, text)",
        reason=Reason.MALFORMED_JSON,
    ),
    NoiseRate(
        "not_an_object",
        0.001,
        "JSON that is not an object",
        reason=Reason.NOT_AN_OBJECT,
    ),
    NoiseRate(
        "null_customer",
        0.004,
        "null/blank/absent customer_id",
        reason=Reason.MISSING_CUSTOMER_ID,
    ),
    NoiseRate(
        "bad_event_type",
        0.004,
        "event_type outside the set (CLICK, VIEW, PAY, ...)",
        reason=Reason.UNKNOWN_EVENT_TYPE,
    ),
    NoiseRate(
        "bad_timestamp",
        0.002,
        "unparseable or absent event_timestamp",
        reason=Reason.INVALID_TIMESTAMP,
    ),
    NoiseRate(
        "future_timestamp",
        0.002,
        "event_timestamp days in the future",
        reason=Reason.FUTURE_TIMESTAMP,
    ),
    NoiseRate(
        "too_late",
        0.002,
        "event_timestamp far beyond the lateness horizon",
        reason=Reason.TOO_LATE,
    ),
    NoiseRate(
        "bad_amount",
        0.004,
        "negative, zero, non-numeric or oversized amount",
        reason=Reason.INVALID_AMOUNT,
    ),
    NoiseRate(
        "missing_amount",
        0.002,
        "PURCHASE without amount",
        reason=Reason.MISSING_AMOUNT,
    ),
    NoiseRate(
        "null_currency",
        0.004,
        "amount without currency (null or absent)",
        reason=Reason.MISSING_CURRENCY,
    ),
    NoiseRate(
        "bad_currency",
        0.002,
        "currency that is not 3 letters",
        reason=Reason.INVALID_CURRENCY,
    ),
    NoiseRate(
        "unsupported_currency",
        0.002,
        "3-letter currency missing from the rate table",
        reason=Reason.UNSUPPORTED_CURRENCY,
    ),
    # Valid variants: a correct pipeline accepts them.
    NoiseRate(
        "type_variant",
        0.01,
        "VALID: lowercase/padded event_type, lowercase currency",
    ),
    NoiseRate(
        "string_amount",
        0.01,
        'VALID: amount as a string ("12.34")',
    ),
    NoiseRate(
        "subcent_amount",
        0.005,
        "VALID: amount with 3 decimals (rounded half-up)",
    ),
    NoiseRate(
        "alt_timestamp",
        0.01,
        "VALID: epoch millis, +hh:mm offset or naive timestamps",
    ),
    NoiseRate(
        "missing_event_id",
        0.003,
        "VALID: no event_id (Silver derives one)",
    ),
    NoiseRate(
        "out_of_order",
        0.01,
        "VALID: event time up to 1 h before its neighbours",
        shifts_time=True,
    ),
)
DUPLICATE = NoiseRate("duplicate", 0.01, "VALID: an event resent with the same event_id and bytes")
NOISE_RATES: tuple[NoiseRate, ...] = (*KIND_RATES, DUPLICATE)  # every `--<name>-rate` flag


class _NoiseRatesRules:
    """Checks and views of `NoiseRates`, whose fields come from `NOISE_RATES`."""

    def __post_init__(self) -> None:
        rates = asdict(self)  # type: ignore[call-overload]
        bad = {name: rate for name, rate in rates.items() if not 0.0 <= rate <= 1.0}
        if bad:
            raise ConfigError(f"noise rates must be between 0 and 1, got {bad}")
        if sum(self.by_kind()) > 1.0:
            raise ConfigError(
                f"noise rates add up to {sum(self.by_kind()):.3f} > 1; lower some --*-rate flags"
            )

    def by_kind(self) -> list[float]:
        """Rates in `KIND_RATES` order (duplicate excluded)."""
        return [getattr(self, kind.name) for kind in KIND_RATES]

    @classmethod
    def none(cls) -> Self:
        """All rates zero: only clean, canonical events."""
        return cls(**{rate.name: 0.0 for rate in NOISE_RATES})

    @property
    def invalid_total(self) -> float:
        """Expected fraction of events that must be dead-lettered."""
        return sum(getattr(self, kind.name) for kind in KIND_RATES if kind.reason is not None)


NoiseRates = make_dataclass(
    "NoiseRates",
    [(rate.name, float, field(default=rate.default_rate)) for rate in NOISE_RATES],
    bases=(_NoiseRatesRules,),
    frozen=True,
    namespace={
        "__module__": __name__,  # pickled into the generator process by name
        "__doc__": "Per-event probability of each noise kind (drawn before duplicates).",
    },
)


def rate_flag(name: str) -> str:
    """CLI flag spelling of a rate field, e.g. `null_customer` -> `--null-customer-rate`."""
    return "--" + name.replace("_", "-") + "-rate"
