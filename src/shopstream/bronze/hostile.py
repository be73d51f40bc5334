"""Hostile raw records, seedable: what an attacker or a broken producer sends, at volume.

Where `noise.NOISE_KINDS` makes realistic mistakes (one wrong field in an otherwise good
event), these kinds attack the parser and the sink: random bytes, nesting beyond any
parser's depth, values near the broker's maximum message size, NUL and bidi characters,
byte-order marks, numbers beyond any decimal, duplicate keys, invalid UTF-8, huge
strings and wrong types. Each kind declares the outcome the contract requires (a reason
code, or None for a record that is valid by contract and must come out clean), so a test
can hold Silver to it record by record.

Examples:
    >>> gen = HostileGenerator(HostileConfig(seed=3, now_ms=1_764_000_000_000))
    >>> records = gen.records(1000)
    >>> len(records), records == HostileGenerator(HostileConfig(3, 1_764_000_000_000)).records(1000)
    (1000, True)
    >>> sorted({r.kind for r in records}) == sorted(k.name for k in HOSTILE_KINDS)
    True
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shopstream.contract import Reason

UTF8_BOM = b"\xef\xbb\xbf"
# Jackson's default maximum nesting depth, the one Spark's JSON reader and Silver's codec
# apply: deeper values fail to parse.
PARSER_MAX_DEPTH = 1000
# Bytes the broker adds around a value in a one-record batch (header, record framing);
# a value this much below the limit still fits with its key.
RECORD_OVERHEAD = 512
# Direction and invisible characters: right-to-left override, isolates, marks, zero-width
# joiners, the BOM as a character, line/paragraph separators.
BIDI = "\u202e\u2066\u2067\u2068\u2069\u200f\u200e\u200d\u200b\ufeff\u2028\u2029"
# UTF-8 byte sequences no decoder accepts: stray continuation, overlong '/', a surrogate,
# above U+10FFFF, a truncated 3-byte sequence, bytes never used in UTF-8.
INVALID_UTF8 = (b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xff")


@dataclass(frozen=True)
class HostileConfig:
    """Seed, the clock valid events are stamped with, and the raw topic's message limit."""

    seed: int = 1
    now_ms: int = 0  # 0 = the wall clock at construction
    max_message_bytes: int = 1_000_000  # key + value; the broker's and producer's limit
    near_max_every: int = 25_000  # one near-maximum record per this many (they are big)


@dataclass(frozen=True)
class HostileRecord:
    """One raw Kafka record and the outcome the contract requires for it."""

    kind: str
    key: bytes | None
    value: bytes | None
    reason: Reason | None  # None = valid by contract: must come out clean


@dataclass
class _Draw:
    """What a kind builds from: the seeded random source and a valid event to break."""

    rng: random.Random
    now_ms: int
    max_message_bytes: int
    fields: dict[str, object] = field(default_factory=dict)

    def event(self, **overrides: object) -> bytes:
        """The valid purchase with `overrides` (`...` leaves a field out) as compact JSON."""
        merged = {k: v for k, v in (self.fields | overrides).items() if v is not ...}
        return json.dumps(merged, separators=(",", ":"), ensure_ascii=False).encode()

    def raw_event(self, **raw_values: bytes) -> bytes:
        """The valid purchase with fields given as raw JSON value bytes (appended last)."""
        body = self.event(**dict.fromkeys(raw_values, ...))[:-1]
        extra = b"".join(b',"%s":%s' % (name.encode(), v) for name, v in raw_values.items())
        return body + extra + b"}"

    def pick(self, options: tuple[bytes, ...] | str) -> bytes:
        return self.rng.choice(options)  # type: ignore[return-value]


Build = Callable[[_Draw], tuple[bytes | None, Reason | None]]


def _random_bytes(d: _Draw) -> tuple[bytes | None, Reason | None]:
    # At least one 0xFF: never UTF-8, so never JSON, whatever else the bytes happen to be.
    body = bytearray(d.rng.randbytes(d.rng.randint(0, 2048)))
    body.insert(d.rng.randint(0, len(body)), 0xFF)
    return bytes(body), Reason.MALFORMED_JSON


def _random_text(d: _Draw) -> tuple[bytes | None, Reason | None]:
    # '{' then a letter: no object can start like that.
    alphabet = "abcxyz019 :,{}[]\\/'\t"
    return ("{x" + "".join(d.rng.choices(alphabet, k=d.rng.randint(0, 512)))).encode(), (
        Reason.MALFORMED_JSON
    )


def _deep_nesting(d: _Draw) -> tuple[bytes | None, Reason | None]:
    depth = d.rng.randint(PARSER_MAX_DEPTH + 1, 4 * PARSER_MAX_DEPTH)
    shape = d.rng.randrange(3)
    if shape == 0:  # an object too deep to parse: not JSON anyone can read
        return b'{"a":' * depth + b"1" + b"}" * depth, Reason.MALFORMED_JSON
    if shape == 1:  # the same inside a field of a valid event
        return d.raw_event(meta=b"[" * depth + b"]" * depth), Reason.MALFORMED_JSON
    return b"[" * depth + b"]" * depth, Reason.MALFORMED_JSON  # too deep even for arrays


def _nesting_within_limit(d: _Draw) -> tuple[bytes | None, Reason | None]:
    # Deep but parseable (the record itself and Spark's '[' wrapper take two levels).
    depth = d.rng.randint(10, 200)
    return d.raw_event(meta=b'{"a":[' * depth + b"1" + b"]}" * depth), None


def _near_max(d: _Draw) -> tuple[bytes | None, Reason | None]:
    """A value filling the message limit: padding, a huge customer id, or a huge type."""
    room = d.max_message_bytes - RECORD_OVERHEAD - len(d.event())
    shape = d.rng.randrange(3)
    if shape == 0:
        return d.event(padding="p" * room), None
    if shape == 1:
        return d.event(customer_id="c" * room), None
    return d.event(event_type="X" * room), Reason.UNKNOWN_EVENT_TYPE


def _nul_and_bidi(d: _Draw) -> tuple[bytes | None, Reason | None]:
    text = "".join(d.rng.choices("ab\u0000" + BIDI, k=d.rng.randint(1, 40)))
    shape = d.rng.randrange(3)
    if shape == 0:  # escaped NUL and raw bidi characters in text fields
        return d.event(customer_id="c" + text, product_id=text, category=text[::-1]), None
    if shape == 1:  # only NUL and invisible characters: not blank after JSON whitespace trim
        return d.event(customer_id="\u0000" + text), None
    # A raw control character inside a string: strict JSON refuses it.
    return d.event()[:-1] + b',"note":"a\x00b"}', Reason.MALFORMED_JSON


def _bom(d: _Draw) -> tuple[bytes | None, Reason | None]:
    shape = d.rng.randrange(4)
    if shape == 0:
        return UTF8_BOM + d.event(), None  # one leading BOM is dropped
    if shape == 1:
        return UTF8_BOM + UTF8_BOM + d.event(), Reason.MALFORMED_JSON  # the second is not
    if shape == 2:
        return d.event(customer_id="\ufeffc-bom"), None  # a BOM character inside a value
    return d.event() + UTF8_BOM, Reason.MALFORMED_JSON  # trailing bytes after the object


def _huge_number(d: _Draw) -> tuple[bytes | None, Reason | None]:
    big = d.pick((b"1e400", b"-1e400", b"1e-400", b"9" * 40, b"1" + b"0" * 300 + b".5"))
    shape = d.rng.randrange(3)
    if shape == 0:  # as the amount: no decimal holds it
        return d.raw_event(amount=big), Reason.INVALID_AMOUNT
    if shape == 1:  # as a spelled amount
        return d.raw_event(amount=b'"' + big + b'"'), Reason.INVALID_AMOUNT
    # Where numbers do not matter: an extra field, or a quantity that falls back to 1.
    return d.raw_event(quantity=big, extra=big), None


def _duplicate_keys(d: _Draw) -> tuple[bytes | None, Reason | None]:
    body = d.event()[:-1]
    shape = d.rng.randrange(3)
    if shape == 0:  # the last one wins: a valid record made invalid
        return body + b',"customer_id":null}', Reason.MISSING_CUSTOMER_ID
    if shape == 1:
        return body + b',"event_type":"REFUND"}', Reason.UNKNOWN_EVENT_TYPE
    return d.event(event_type="REFUND")[:-1] + b',"event_type":"PURCHASE"}', None


def _invalid_utf8(d: _Draw) -> tuple[bytes | None, Reason | None]:
    good = d.event()
    cut = d.rng.randint(1, len(good) - 1)
    return good[:cut] + d.pick(INVALID_UTF8) + good[cut:], Reason.MALFORMED_JSON


def _huge_string(d: _Draw) -> tuple[bytes | None, Reason | None]:
    size = d.rng.randint(10_000, 100_000)
    shape = d.rng.randrange(3)
    if shape == 0:
        return d.event(session_id="s" * size), None
    if shape == 1:
        return d.event(currency="U" * size), Reason.INVALID_CURRENCY
    return d.event(event_timestamp="2" * size), Reason.INVALID_TIMESTAMP


# (raw JSON value of a field, the field, the outcome): every type where another is expected.
WRONG_TYPES: tuple[tuple[str, bytes, Reason | None], ...] = (
    ("event_type", b"[]", Reason.UNKNOWN_EVENT_TYPE),
    ("event_type", b'{"v":"PURCHASE"}', Reason.UNKNOWN_EVENT_TYPE),
    ("event_type", b"true", Reason.UNKNOWN_EVENT_TYPE),
    ("event_timestamp", b'{"t":1}', Reason.INVALID_TIMESTAMP),
    ("event_timestamp", b"[1764000000000]", Reason.INVALID_TIMESTAMP),
    ("amount", b"false", Reason.INVALID_AMOUNT),
    ("amount", b"[12.5]", Reason.INVALID_AMOUNT),
    ("amount", b'{"value":12.5}', Reason.INVALID_AMOUNT),
    ("currency", b"840", Reason.INVALID_CURRENCY),
    ("currency", b'["USD"]', Reason.INVALID_CURRENCY),
    # Text fields read any JSON value as its text (as Spark's reader does): valid.
    ("customer_id", b"12345", None),
    ("customer_id", b'{"id":"c-1"}', None),
    ("quantity", b'"many"', None),
    ("device", b"[1,2]", None),
)


def _wrong_type(d: _Draw) -> tuple[bytes | None, Reason | None]:
    name, value, reason = WRONG_TYPES[d.rng.randrange(len(WRONG_TYPES))]
    return d.raw_event(**{name: value}), reason


@dataclass(frozen=True)
class HostileKind:
    """A kind of hostile record: its name, relative weight and how to build one."""

    name: str
    weight: float
    build: Build = field(repr=False)


HOSTILE_KINDS: tuple[HostileKind, ...] = (
    HostileKind("random_bytes", 1.0, _random_bytes),
    HostileKind("random_text", 1.0, _random_text),
    HostileKind("deep_nesting", 0.3, _deep_nesting),
    HostileKind("nesting_within_limit", 0.5, _nesting_within_limit),
    HostileKind("nul_and_bidi", 1.0, _nul_and_bidi),
    HostileKind("bom", 1.0, _bom),
    HostileKind("huge_number", 1.0, _huge_number),
    HostileKind("duplicate_keys", 1.0, _duplicate_keys),
    HostileKind("invalid_utf8", 1.0, _invalid_utf8),
    HostileKind("huge_string", 0.02, _huge_string),
    HostileKind("wrong_type", 1.0, _wrong_type),
)
NEAR_MAX = HostileKind("near_max_size", 0.0, _near_max)  # placed by count, not by weight


class HostileGenerator:
    """Seeded hostile records: the same config gives the same records, byte for byte."""

    def __init__(self, config: HostileConfig) -> None:
        self.config = config
        now_ms = config.now_ms or int(datetime.now(UTC).timestamp() * 1000)
        self._rng = random.Random(config.seed)
        self._draw = _Draw(self._rng, now_ms, config.max_message_bytes)
        self._made = 0

    def _valid_fields(self) -> dict[str, object]:
        rng, now_ms = self._rng, self._draw.now_ms
        stamp = datetime.fromtimestamp((now_ms - rng.randint(1_000, 600_000)) / 1000, UTC)
        return {
            "event_id": f"hostile-{self.config.seed}-{self._made}",
            "event_type": "PURCHASE",
            "customer_id": f"c-{rng.randint(1, 999)}",
            "event_timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "amount": round(rng.uniform(1, 500), 2),
            "currency": "USD",
            "product_id": f"p-{rng.randint(1, 99)}",
            "quantity": 1,
        }

    def next(self) -> HostileRecord:
        """One hostile record (near-maximum ones every `near_max_every`, others by weight)."""
        self._draw.fields = self._valid_fields()
        every = self.config.near_max_every
        if every and self._made % every == every // 2:
            kind = NEAR_MAX
        else:
            kind = self._rng.choices(HOSTILE_KINDS, weights=_WEIGHTS)[0]
        value, reason = kind.build(self._draw)
        key = None if self._rng.random() < 0.2 else b"hostile-%d" % self._rng.randrange(1000)
        self._made += 1
        return HostileRecord(kind.name, key, value, reason)

    def records(self, count: int) -> list[HostileRecord]:
        """The next `count` records."""
        return [self.next() for _ in range(count)]


_WEIGHTS = [kind.weight for kind in HOSTILE_KINDS]
