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
    # level_shift: the count column (whole unused).
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
        ("events", "dl_total"),
        "critical",
        "share of events dead-lettered for missing_amount far above its trailing share",
    ),
    Rule(
        "BadRelease",
        "share_rise",
        "dl_invalid_timestamp",
        ("events", "dl_total"),
        "warning",
        "share of events dead-lettered for invalid_timestamp far above its trailing share",
    ),
    Rule(
        "TrafficAnomaly",
        "level_shift",
        "events",
        (),
        "warning",
        "events per minute outside the time-of-day baseline",
    ),
)
