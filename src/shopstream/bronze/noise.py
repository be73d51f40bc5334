"""Noise the generator can inject: each kind has its own rate and an intended outcome.

A kind either makes an event invalid with exactly one dead-letter reason (the event is
otherwise valid, so the first failing rule is always the intended one) or is a valid
variant that a correct pipeline must normalize (lowercase types, string amounts, ...).
Duplicates are not a kind here: they resend a valid event's exact bytes and have their
own rate on `NoiseRates.duplicate`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import IntEnum

from shopstream.contract import Reason
from shopstream.errors import ConfigError


class Noise(IntEnum):
    """Noise kinds, in the order rates are drawn; the value indexes per-row arrays."""

    MALFORMED_JSON = 0
    NOT_AN_OBJECT = 1
    NULL_CUSTOMER = 2
    BAD_EVENT_TYPE = 3
    BAD_TIMESTAMP = 4
    FUTURE_TIMESTAMP = 5
    TOO_LATE = 6
    BAD_AMOUNT = 7
    MISSING_AMOUNT = 8
    NULL_CURRENCY = 9
    BAD_CURRENCY = 10
    UNSUPPORTED_CURRENCY = 11
    # Valid variants: a correct pipeline accepts them.
    TYPE_VARIANT = 12
    STRING_AMOUNT = 13
    SUBCENT_AMOUNT = 14
    ALT_TIMESTAMP = 15
    MISSING_EVENT_ID = 16
    OUT_OF_ORDER = 17


# The dead-letter reason each invalid kind must produce; valid variants are absent.
NOISE_REASON: dict[Noise, Reason] = {
    Noise.MALFORMED_JSON: Reason.MALFORMED_JSON,
    Noise.NOT_AN_OBJECT: Reason.NOT_AN_OBJECT,
    Noise.NULL_CUSTOMER: Reason.MISSING_CUSTOMER_ID,
    Noise.BAD_EVENT_TYPE: Reason.UNKNOWN_EVENT_TYPE,
    Noise.BAD_TIMESTAMP: Reason.INVALID_TIMESTAMP,
    Noise.FUTURE_TIMESTAMP: Reason.FUTURE_TIMESTAMP,
    Noise.TOO_LATE: Reason.TOO_LATE,
    Noise.BAD_AMOUNT: Reason.INVALID_AMOUNT,
    Noise.MISSING_AMOUNT: Reason.MISSING_AMOUNT,
    Noise.NULL_CURRENCY: Reason.MISSING_CURRENCY,
    Noise.BAD_CURRENCY: Reason.INVALID_CURRENCY,
    Noise.UNSUPPORTED_CURRENCY: Reason.UNSUPPORTED_CURRENCY,
}

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


@dataclass(frozen=True)
class NoiseRates:
    """Per-event probability of each noise kind (drawn before duplicates are added)."""

    malformed_json: float = 0.004
    not_an_object: float = 0.001
    null_customer: float = 0.004
    bad_event_type: float = 0.004
    bad_timestamp: float = 0.002
    future_timestamp: float = 0.002
    too_late: float = 0.002
    bad_amount: float = 0.004
    missing_amount: float = 0.002
    null_currency: float = 0.004
    bad_currency: float = 0.002
    unsupported_currency: float = 0.002
    type_variant: float = 0.01
    string_amount: float = 0.01
    subcent_amount: float = 0.005
    alt_timestamp: float = 0.01
    missing_event_id: float = 0.003
    out_of_order: float = 0.01
    duplicate: float = 0.01

    def __post_init__(self) -> None:
        bad = {k: v for k, v in asdict(self).items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ConfigError(f"noise rates must be between 0 and 1, got {bad}")
        if sum(self.by_kind()) > 1.0:
            raise ConfigError(
                f"noise rates add up to {sum(self.by_kind()):.3f} > 1; lower some --*-rate flags"
            )

    def by_kind(self) -> list[float]:
        """Rates indexed by `Noise` value (duplicate excluded)."""
        return [getattr(self, k.name.lower()) for k in Noise]

    @classmethod
    def none(cls) -> NoiseRates:
        """All rates zero: only clean, canonical events."""
        return cls(**{f.name: 0.0 for f in fields(cls)})

    @property
    def invalid_total(self) -> float:
        """Expected fraction of events that must be dead-lettered."""
        return sum(getattr(self, k.name.lower()) for k in NOISE_REASON)


def rate_flag(name: str) -> str:
    """CLI flag spelling of a rate field, e.g. `null_customer` -> `--null-customer-rate`."""
    return "--" + name.replace("_", "-") + "-rate"
