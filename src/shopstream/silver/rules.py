"""Silver's validation rules, declared once: reason code, Spark condition, Python predicate.

Both engines first reduce a raw record to the same *facts* (see `Facts`): whether it is
valid UTF-8 / JSON / an object, and each field normalized (trimmed, upper-cased, parsed)
or None when absent or unusable. A rule is then a small predicate over those facts,
written twice side by side — as a Spark column expression (the streaming job, no Python
UDF on the hot path) and as plain Python (`reference.classify`, unit-testable without
Spark). Rules are evaluated in `contract.Reason` order; the first that fails wins.

Examples:
    >>> [r.reason.value for r in RULES][:3]
    ['malformed_json', 'not_an_object', 'missing_customer_id']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shopstream.contract import (
    CURRENCY_RE,
    EVENT_TYPES,
    REASON_DESCRIPTIONS,
    REASONS,
    EventType,
    Reason,
)

if TYPE_CHECKING:
    from pyspark.sql import Column

# JSON's insignificant whitespace; Spark's plain trim() strips only spaces.
WHITESPACE = " \t\n\r"
# Offending values are quoted in details up to this many characters.
DETAIL_VALUE_CHARS = 80


@dataclass
class Facts:
    """What the Python reference knows about one record before rules run (None = absent)."""

    valid_utf8: bool = True
    empty: bool = False
    is_json: bool = False
    is_object: bool = False
    json_kind: str = ""
    customer_id: str | None = None
    event_type: str | None = None
    event_type_raw: str | None = None
    ts: datetime | None = None
    ts_raw: str | None = None
    amount: Decimal | None = None
    amount_raw: str | None = None
    reporting_amount: Decimal | None = None
    currency: str | None = None
    rate: Decimal | None = None
    now: datetime | None = None
    future_limit: datetime | None = None
    late_limit: datetime | None = None


@dataclass(frozen=True)
class Rule:
    """One validation rule: fails (record is dead-lettered) when `spark` / `python` is true."""

    reason: Reason
    description: str
    spark: Callable[[], Column]
    python: Callable[[Facts], bool]
    detail: Callable[[], Column]


def _c(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col(name)


def _quote(col: Column) -> Column:
    """'value' quoted and shortened for a detail message; 'null' when absent."""
    from pyspark.sql import functions as F

    short = F.substring(col, 1, DETAIL_VALUE_CHARS)
    return F.coalesce(F.concat(F.lit("'"), short, F.lit("'")), F.lit("absent"))


def _msg(*parts: Any) -> Column:
    from pyspark.sql import functions as F

    return F.concat(*[p if not isinstance(p, str) else F.lit(p) for p in parts])


def _malformed_detail() -> Column:
    from pyspark.sql import functions as F

    return (
        F.when(~_c("_valid_utf8"), F.lit("value is not valid UTF-8"))
        .when(_c("_empty"), F.lit("empty message"))
        .otherwise(_msg("not valid JSON: ", _quote(_c("_text"))))
    )


def _present_amount() -> Column:
    return _c("_amount_raw").isNotNull()


RULES: tuple[Rule, ...] = (
    Rule(
        Reason.MALFORMED_JSON,
        REASON_DESCRIPTIONS[Reason.MALFORMED_JSON],
        spark=lambda: ~_c("_valid_utf8") | _c("_empty") | ~_c("_is_json"),
        python=lambda f: not f.valid_utf8 or f.empty or not f.is_json,
        detail=_malformed_detail,
    ),
    Rule(
        Reason.NOT_AN_OBJECT,
        REASON_DESCRIPTIONS[Reason.NOT_AN_OBJECT],
        spark=lambda: ~_c("_is_object"),
        python=lambda f: not f.is_object,
        detail=lambda: _msg("top-level JSON value is ", _c("_json_kind"), ", not an object"),
    ),
    Rule(
        Reason.MISSING_CUSTOMER_ID,
        REASON_DESCRIPTIONS[Reason.MISSING_CUSTOMER_ID],
        spark=lambda: _c("customer_id").isNull(),
        python=lambda f: f.customer_id is None,
        detail=lambda: _msg("customer_id is absent, null or blank"),
    ),
    Rule(
        Reason.UNKNOWN_EVENT_TYPE,
        REASON_DESCRIPTIONS[Reason.UNKNOWN_EVENT_TYPE],
        spark=lambda: ~_c("event_type").isin(*EVENT_TYPES) | _c("event_type").isNull(),
        python=lambda f: f.event_type not in EVENT_TYPES,
        detail=lambda: _msg(
            "event_type ", _quote(_c("_event_type_raw")), " is not one of " + ", ".join(EVENT_TYPES)
        ),
    ),
    Rule(
        Reason.INVALID_TIMESTAMP,
        REASON_DESCRIPTIONS[Reason.INVALID_TIMESTAMP],
        spark=lambda: _c("event_timestamp").isNull(),
        python=lambda f: f.ts is None,
        detail=lambda: _msg(
            "event_timestamp ", _quote(_c("_ts_raw")), " is neither ISO-8601 nor epoch millis"
        ),
    ),
    Rule(
        Reason.FUTURE_TIMESTAMP,
        REASON_DESCRIPTIONS[Reason.FUTURE_TIMESTAMP],
        spark=lambda: _c("event_timestamp") > _c("_future_limit"),
        python=lambda f: f.ts is not None and f.future_limit is not None and f.ts > f.future_limit,
        detail=lambda: _msg(
            "event_timestamp ", _c("_ts_raw"), " is ahead of processing time ", _c("_now_text")
        ),
    ),
    Rule(
        Reason.TOO_LATE,
        REASON_DESCRIPTIONS[Reason.TOO_LATE],
        spark=lambda: _c("event_timestamp") < _c("_late_limit"),
        python=lambda f: f.ts is not None and f.late_limit is not None and f.ts < f.late_limit,
        detail=lambda: _msg(
            "event_timestamp ",
            _c("_ts_raw"),
            " is older than the lateness horizon (",
            _c("_now_text"),
            " minus the horizon)",
        ),
    ),
    Rule(
        Reason.INVALID_AMOUNT,
        REASON_DESCRIPTIONS[Reason.INVALID_AMOUNT],
        # Also invalid: an amount whose converted value does not fit DECIMAL(18,2).
        spark=lambda: (
            _present_amount()
            & (_c("amount").isNull() | (_c("_rate").isNotNull() & _c("reporting_amount").isNull()))
        ),
        python=lambda f: (
            f.amount_raw is not None
            and (f.amount is None or (f.rate is not None and f.reporting_amount is None))
        ),
        detail=lambda: _msg(
            "amount ", _quote(_c("_amount_raw")), " is not a finite number > 0 within DECIMAL(18,2)"
        ),
    ),
    Rule(
        Reason.MISSING_AMOUNT,
        REASON_DESCRIPTIONS[Reason.MISSING_AMOUNT],
        spark=lambda: (_c("event_type") == EventType.PURCHASE.value) & ~_present_amount(),
        python=lambda f: f.event_type == EventType.PURCHASE and f.amount_raw is None,
        detail=lambda: _msg("a PURCHASE needs an amount"),
    ),
    Rule(
        Reason.MISSING_CURRENCY,
        REASON_DESCRIPTIONS[Reason.MISSING_CURRENCY],
        spark=lambda: _present_amount() & _c("_currency").isNull(),
        python=lambda f: f.amount_raw is not None and f.currency is None,
        detail=lambda: _msg("amount ", _c("_amount_raw"), " has no currency"),
    ),
    Rule(
        Reason.INVALID_CURRENCY,
        REASON_DESCRIPTIONS[Reason.INVALID_CURRENCY],
        spark=lambda: _present_amount() & ~_c("_currency").rlike(CURRENCY_RE),
        python=lambda f: f.amount_raw is not None and not _is_currency(f.currency),
        detail=lambda: _msg("currency ", _quote(_c("_currency")), " is not 3 letters"),
    ),
    Rule(
        Reason.UNSUPPORTED_CURRENCY,
        REASON_DESCRIPTIONS[Reason.UNSUPPORTED_CURRENCY],
        spark=lambda: _present_amount() & _c("_rate").isNull(),
        python=lambda f: f.amount_raw is not None and f.rate is None,
        detail=lambda: _msg(
            "currency ", _c("_currency"), " is not in the rate table (pipeline.currency_rates)"
        ),
    ),
)

assert tuple(r.reason.value for r in RULES) == REASONS, "RULES must follow contract.Reason order"


def _is_currency(code: str | None) -> bool:
    return code is not None and len(code) == 3 and code.isascii() and code.isalpha()


def first_failure(facts: Facts) -> Reason | None:
    """The reason of the first failing rule (Python side), or None if the record is clean."""
    for rule in RULES:
        if rule.python(facts):
            return rule.reason
    return None


def reason_column() -> Column:
    """CASE over all rules, in order: the reason code of the first failure, else NULL."""
    from pyspark.sql import functions as F

    expr = F.when(RULES[0].spark(), F.lit(RULES[0].reason.value))
    for rule in RULES[1:]:
        expr = expr.when(rule.spark(), F.lit(rule.reason.value))
    return expr


def detail_column(reason: Column) -> Column:
    """Human-readable detail for the reason in `reason` (NULL for clean records)."""
    from pyspark.sql import functions as F

    expr = F.when(reason == RULES[0].reason.value, RULES[0].detail())
    for rule in RULES[1:]:
        expr = expr.when(reason == rule.reason.value, rule.detail())
    return expr


def describe() -> list[dict[str, str]]:
    """The rule table for docs and `--help`: order, reason code, description."""
    return [
        {"order": str(i), "reason": r.reason.value, "description": r.description}
        for i, r in enumerate(RULES, 1)
    ]
