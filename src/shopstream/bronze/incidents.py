"""Incidents the generator injects: `KIND@START+DURATION[:MAGNITUDE]`, each kind declared once.

START counts from the run's start (live) or from the backfill window's start (backfill);
the window is [start, start + duration) in event time. Durations read like `90s`, `5m`,
`1h30m` (a bare number is seconds). MAGNITUDE is a share (`0.3` or `30%`) or a factor
(`3` or `x3`), per kind:

- checkout_outage (share, default 1): that share of the PURCHASE events whose event time
  falls in the window are never sent; the shopper's failed checkout shows as a PAGE_VIEW of
  the same product instead (back on the product page). Views and carts go on.
- payment_failures (share, default 0.5): that share of the PURCHASE events in the window
  arrive without amount and currency, and are dead-lettered as `missing_amount`.
- traffic_spike (factor, default 3): the send rate (live) or event-time density (backfill)
  is multiplied by the factor in the window; every session looks as usual.
- traffic_drop (factor, default 0.25): the same with a factor below 1 (0 = no traffic).
- bad_release (share, default 0.3): that share of all events in the window carry an
  `event_timestamp` in a client's locale format (`11/25/2025 13:00:00`), dead-lettered as
  `invalid_timestamp`.

A row is changed by at most one incident: checkout_outage first, then payment_failures,
then bad_release. Incident rows get no noise rewrite (a time-shift noise still applies).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from shopstream.bronze.batch import PAGE_VIEW, PURCHASE, REASON_INDEX
from shopstream.bronze.encoding import Fields, join_fields
from shopstream.contract import Reason
from shopstream.errors import ConfigError

if TYPE_CHECKING:
    from shopstream.bronze.batch import EventBatch


class IncidentKind(StrEnum):
    CHECKOUT_OUTAGE = "checkout_outage"
    PAYMENT_FAILURES = "payment_failures"
    TRAFFIC_SPIKE = "traffic_spike"
    TRAFFIC_DROP = "traffic_drop"
    BAD_RELEASE = "bad_release"


@dataclass(frozen=True)
class KindRule:
    """What a kind's magnitude means, its default and bounds, and the reason it causes."""

    magnitude: str  # "share" or "factor"
    default: float
    low: float  # exclusive unless `low_inclusive`
    high: float  # inclusive unless `high_exclusive`
    low_inclusive: bool = False
    high_exclusive: bool = False
    reason: Reason | None = None

    def allows(self, value: float) -> bool:
        above = value >= self.low if self.low_inclusive else value > self.low
        below = value < self.high if self.high_exclusive else value <= self.high
        return above and below

    def bounds(self) -> str:
        left = "[" if self.low_inclusive else "("
        right = ")" if self.high_exclusive else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"


RULES: dict[IncidentKind, KindRule] = {
    IncidentKind.CHECKOUT_OUTAGE: KindRule("share", 1.0, 0.0, 1.0),
    IncidentKind.PAYMENT_FAILURES: KindRule("share", 0.5, 0.0, 1.0, reason=Reason.MISSING_AMOUNT),
    IncidentKind.TRAFFIC_SPIKE: KindRule("factor", 3.0, 1.0, 100.0),
    IncidentKind.TRAFFIC_DROP: KindRule("factor", 0.25, 0.0, 1.0, True, True),
    IncidentKind.BAD_RELEASE: KindRule("share", 0.3, 0.0, 1.0, reason=Reason.INVALID_TIMESTAMP),
}
TRAFFIC_KINDS = frozenset({IncidentKind.TRAFFIC_SPIKE, IncidentKind.TRAFFIC_DROP})
CONTENT_ORDER = (
    IncidentKind.CHECKOUT_OUTAGE,
    IncidentKind.PAYMENT_FAILURES,
    IncidentKind.BAD_RELEASE,
)
FORM = "KIND@START+DURATION[:MAGNITUDE], e.g. checkout_outage@5m+2m or traffic_spike@10m+90s:x3"

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_SPEC = re.compile(
    r"(?P<kind>[a-z_]+)@(?P<start>[0-9.a-z]+)\+(?P<length>[0-9.a-z]+)(?::(?P<mag>.+))?"
)


def parse_duration(text: str) -> float:
    """`90s`, `5m`, `1h30m`, `250ms`, or a bare number of seconds -> seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 5m, 1h30m)")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


@dataclass(frozen=True)
class Incident:
    """One incident as asked: kind, offsets from the run's origin (seconds), magnitude."""

    kind: IncidentKind
    start_s: float
    duration_s: float
    magnitude: float
    spec: str

    @property
    def rule(self) -> KindRule:
        return RULES[self.kind]

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def parse_incident(text: str) -> Incident:
    """An incident from its flag text; a `ConfigError` naming the fix otherwise."""
    spec = text.strip()
    match = _SPEC.fullmatch(spec.lower())
    if match is None:
        raise ConfigError(f"--incident {text!r} is not of the form {FORM}")
    try:
        kind = IncidentKind(match["kind"])
    except ValueError:
        kinds = ", ".join(k.value for k in IncidentKind)
        raise ConfigError(
            f"--incident {text!r}: unknown kind {match['kind']!r}; use one of {kinds}"
        ) from None
    try:
        start, length = parse_duration(match["start"]), parse_duration(match["length"])
    except ValueError as err:
        raise ConfigError(f"--incident {text!r}: {err}") from None
    if length <= 0:
        raise ConfigError(f"--incident {text!r}: the duration must be positive, e.g. +2m")
    rule = RULES[kind]
    magnitude = rule.default if match["mag"] is None else _magnitude(text, match["mag"], rule)
    if not rule.allows(magnitude):
        raise ConfigError(
            f"--incident {text!r}: {kind.value}'s {rule.magnitude} must be in {rule.bounds()}, "
            f"got {magnitude:g}"
        )
    return Incident(kind, start, length, magnitude, spec)


def _magnitude(text: str, raw: str, rule: KindRule) -> float:
    value = raw.strip()
    try:
        if rule.magnitude == "share" and value.endswith("%"):
            return float(value[:-1]) / 100.0
        return float(value.removeprefix("x"))
    except ValueError:
        example = "x3" if rule.magnitude == "factor" else "0.3 or 30%"
        raise ConfigError(
            f"--incident {text!r}: magnitude {raw!r} is not a {rule.magnitude} (e.g. {example})"
        ) from None


def parse_incidents(texts: list[str] | tuple[str, ...]) -> tuple[Incident, ...]:
    return tuple(parse_incident(text) for text in texts)


@dataclass(frozen=True)
class Window:
    """An incident placed in event time: [start_ms, end_ms)."""

    incident: Incident
    start_ms: int
    end_ms: int

    @property
    def kind(self) -> IncidentKind:
        return self.incident.kind

    def contains(self, ts_ms: np.ndarray) -> np.ndarray:
        return (ts_ms >= self.start_ms) & (ts_ms < self.end_ms)


def place(incidents: tuple[Incident, ...], origin_ms: int) -> list[Window]:
    """Each incident's window, counted from `origin_ms`."""
    return [
        Window(i, origin_ms + round(i.start_s * 1000), origin_ms + round(i.end_s * 1000))
        for i in incidents
    ]


def traffic_factor(windows: list[Window], ts_ms: np.ndarray) -> np.ndarray:
    """The product of the traffic incidents' factors at each time (1 outside them)."""
    factor = np.ones(np.shape(ts_ms))
    for window in windows:
        if window.kind in TRAFFIC_KINDS:
            factor = np.where(window.contains(ts_ms), factor * window.incident.magnitude, factor)
    return factor


def mark_rows(
    windows: list[Window],
    event_type: np.ndarray,
    ts_ms: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Incident position per row (-1 = none) for the content kinds, in precedence order."""
    marked = np.full(len(ts_ms), -1, dtype=np.int8)
    order = sorted(
        (CONTENT_ORDER.index(w.kind), position)
        for position, w in enumerate(windows)
        if w.kind in CONTENT_ORDER
    )
    for _, position in order:
        window = windows[position]
        inside = window.contains(ts_ms) & (marked < 0)
        if window.kind is not IncidentKind.BAD_RELEASE:
            inside &= event_type == PURCHASE
        rows = np.flatnonzero(inside)
        if len(rows):
            chosen = rows[rng.random(len(rows)) < window.incident.magnitude]
            marked[chosen] = position
    return marked


def checkout_outage_rows(windows: list[Window], marked: np.ndarray) -> np.ndarray:
    """Rows whose purchase the outage swallowed (they become page views)."""
    outage = [p for p, w in enumerate(windows) if w.kind is IncidentKind.CHECKOUT_OUTAGE]
    return np.flatnonzero(np.isin(marked, outage)) if outage else np.zeros(0, np.int64)


def rewritten_rows(windows: list[Window], marked: np.ndarray) -> np.ndarray:
    """Rows an incident rewrites field by field (payment failures, bad releases)."""
    kinds = (IncidentKind.PAYMENT_FAILURES, IncidentKind.BAD_RELEASE)
    positions = [p for p, w in enumerate(windows) if w.kind in kinds]
    return np.flatnonzero(np.isin(marked, positions)) if positions else np.zeros(0, np.int64)


def swallow_purchases(events: dict[str, np.ndarray], rows: np.ndarray) -> None:
    """A checkout outage: the purchase rows become page views of the same product."""
    events["event_type"][rows] = PAGE_VIEW
    events["quantity"][rows] = 1


def locale_timestamp(ts_ms: int) -> bytes:
    """`"MM/DD/YYYY HH:MM:SS"`: neither ISO-8601 nor epoch millis, so invalid_timestamp."""
    parts = time.gmtime(ts_ms // 1000)
    return b'"%02d/%02d/%04d %02d:%02d:%02d"' % (
        parts.tm_mon, parts.tm_mday, parts.tm_year, parts.tm_hour, parts.tm_min, parts.tm_sec,
    )  # fmt: skip


def rewrite_rows(
    batch: EventBatch, rows: np.ndarray, row_fields: list[Fields], windows: list[Window]
) -> None:
    """Apply each marked row's incident to its fields; set its bytes and reason."""
    for index, fields in zip(rows.tolist(), row_fields, strict=True):
        window = windows[batch.incident[index]]
        if window.kind is IncidentKind.PAYMENT_FAILURES:
            fields[b"amount"] = fields[b"currency"] = None
            batch.cents[index], batch.currency[index] = -1, -1
        else:
            fields[b"event_timestamp"] = locale_timestamp(int(batch.ts_ms[index]))
        reason = window.incident.rule.reason
        assert reason is not None
        batch.reason[index] = REASON_INDEX[reason]
        batch.values[index] = join_fields(fields)


def check_fits(incidents: tuple[Incident, ...], span_s: float | None, what: str) -> None:
    """Every incident starts (and, for a backfill, ends) inside the run's span."""
    if span_s is None:
        return
    for incident in incidents:
        if incident.start_s >= span_s or (what == "backfill" and incident.end_s > span_s):
            raise ConfigError(
                f"--incident {incident.spec!r} does not fit the {what} of {span_s:g} s; "
                f"start it earlier, shorten it or lengthen the {what}"
            )
