"""The business alert rules, declared once: name, kind of test, what it watches, severity.

Every consumer (detector, store, webhook labels, /metrics, docs) reads this tuple.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Test = Literal["conversion_drop", "share_rise", "level_rise", "level_drop"]


@dataclass(frozen=True)
class Rule:
    name: str
    test: Test
    # conversion_drop: successes / trials columns; share_rise: part / whole columns;
    # level_rise / level_drop: the count column (whole unused). The dead-letter shares are
    # of all dead letters, not of events: both are counted on Silver's clock (processed
    # minute), events on event time, so a backlog Silver catches up on would read as a rise
    # against events.
    part: str
    whole: tuple[str, ...]
    severity: Literal["critical", "warning"]
    summary: str


RULES: tuple[Rule, ...] = (
    Rule(
        "CheckoutOutage",
        "conversion_drop",
        "purchases",
        ("page_views", "carts"),
        "critical",
        "purchases per (views + carts) far below the trailing ratio",
    ),
    Rule(
        "PaymentFailures",
        "share_rise",
        "dl_missing_amount",
        ("dl_total",),
        "critical",
        "share of dead letters for missing_amount far above its trailing share",
    ),
    Rule(
        "BadRelease",
        "share_rise",
        "dl_invalid_timestamp",
        ("dl_total",),
        "warning",
        "share of dead letters for invalid_timestamp far above its trailing share",
    ),
    # Traffic has one rule per direction (one-sided tails), so a drop right after a spike
    # opens its own alert: with one two-sided rule the spike's episode, still open while
    # the spike's sessions ran on, swallowed the drop (bench incidents, 2026-12-02).
    Rule(
        "TrafficSpike",
        "level_rise",
        "on_time_events",
        (),
        "warning",
        "events per minute (sent on time) far above the time-of-day baseline",
    ),
    Rule(
        "TrafficDrop",
        "level_drop",
        "on_time_events",
        (),
        "warning",
        "events per minute (sent on time) far below the time-of-day baseline",
    ),
)
