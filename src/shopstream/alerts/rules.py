"""The business alert rules, declared once: name, kind of test, what it watches, severity.

Every consumer (detector, store, webhook labels, /metrics, docs) reads this tuple.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Test = Literal["conversion_drop", "share_rise", "level_shift"]


@dataclass(frozen=True)
class Rule:
    name: str
    test: Test
    # conversion_drop: successes / trials columns; share_rise: part / whole columns;
    # level_shift: the count column (whole unused). The dead-letter shares are of all dead
    # letters, not of events: both are counted on Silver's clock (processed minute), events
    # on event time, so a backlog Silver catches up on would read as a rise against events.
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
    Rule(
        "TrafficAnomaly",
        "level_shift",
        "on_time_events",
        (),
        "warning",
        "events per minute (sent on time) outside the time-of-day baseline",
    ),
)
