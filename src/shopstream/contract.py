"""The event contract v1: the single source for fields, enums, reason codes and schemas.

Spark schemas, validation rules, the warehouse DDL of `silver_events` and the docs
all derive from the tables below; change the contract here and nowhere else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

CONTRACT_VERSION = 1


class EventType(StrEnum):
    """Normalized event types (the seed's spelling, which its views use)."""

    PAGE_VIEW = "PAGE_VIEW"
    ADD_TO_CART = "ADD_TO_CART"
    PURCHASE = "PURCHASE"


EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)


class Reason(StrEnum):
    """Dead-letter reason codes. Declaration order is evaluation order: first failure wins."""

    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_CUSTOMER_ID = "missing_customer_id"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_TIMESTAMP = "invalid_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    TOO_LATE = "too_late"
    INVALID_AMOUNT = "invalid_amount"
    MISSING_AMOUNT = "missing_amount"
    MISSING_CURRENCY = "missing_currency"
    INVALID_CURRENCY = "invalid_currency"
    UNSUPPORTED_CURRENCY = "unsupported_currency"


REASONS: tuple[str, ...] = tuple(r.value for r in Reason)

REASON_DESCRIPTIONS: dict[Reason, str] = {
    Reason.MALFORMED_JSON: "value is not valid JSON (includes invalid UTF-8 and empty messages)",
    Reason.NOT_AN_OBJECT: "value is JSON but not an object (array, string, number, null)",
    Reason.MISSING_CUSTOMER_ID: "customer_id is absent, null or blank after trimming",
    Reason.UNKNOWN_EVENT_TYPE: "event_type is absent or not PAGE_VIEW / ADD_TO_CART / PURCHASE",
    Reason.INVALID_TIMESTAMP: "event_timestamp is absent or neither ISO-8601 nor epoch millis",
    Reason.FUTURE_TIMESTAMP: "event_timestamp is more than the future tolerance ahead of now",
    Reason.TOO_LATE: "event_timestamp is older than the lateness horizon",
    Reason.INVALID_AMOUNT: "amount is present but not a finite number > 0 that fits DECIMAL(18,2)",
    Reason.MISSING_AMOUNT: "a PURCHASE has no amount",
    Reason.MISSING_CURRENCY: "an amount is present without a currency",
    Reason.INVALID_CURRENCY: "currency is not three ASCII letters",
    Reason.UNSUPPORTED_CURRENCY: "currency is well-formed but missing from the rate table",
}

# Accepted formats of raw text fields (Python `re` and Spark `rlike` read them alike).
# ISO-8601 date-time with seconds, optional fraction and offset (none = UTC). Gate before
# parsing: Spark's cast alone also accepts "2026", "2026-11-25" and "... UTC".
ISO_TIMESTAMP_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}(:?\d{2})?)?$"
EPOCH_MILLIS_RE = r"^-?\d{1,15}$"
# A plain decimal number (what Decimal and Spark's cast both read the same way).
AMOUNT_RE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,4})?$"
CURRENCY_RE = r"^[A-Z]{3}$"
QUANTITY_RE = r"^\d{1,9}$"

# A record without event_id gets uuid5(EVENT_ID_NAMESPACE, "topic:partition:offset"): the
# same Kafka record always gets the same id, so a replay still dedups. Never change it:
# ids already in a warehouse would stop matching their replays.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2b8e-5a43-4d0e-9b7a-2c1e5f3d8a90")

# Time rules (defaults; the horizon is configurable, see config.PipelineSettings).
FUTURE_TOLERANCE = timedelta(minutes=5)
DEFAULT_LATENESS_HORIZON = timedelta(days=7)

# Money: amounts are stored as DECIMAL(AMOUNT_PRECISION, AMOUNT_SCALE), rounded half-up.
AMOUNT_PRECISION = 18
AMOUNT_SCALE = 2
AMOUNT_SQL_TYPE = f"DECIMAL({AMOUNT_PRECISION},{AMOUNT_SCALE})"
# Sums of money (every gold total, every view's revenue) are DECIMAL(38,2), the widest both
# warehouses have: an accepted amount is below 10^16, so 10^20 purchases at the maximum fit
# in any one total. A DECIMAL(18,2) total overflowed with two maximal purchases in one
# customer-day, and the commit then failed on every retry (a poison pill).
TOTAL_PRECISION = 38
TOTAL_SQL_TYPE = f"DECIMAL({TOTAL_PRECISION},{AMOUNT_SCALE})"


class CustomerTier(StrEnum):
    """Customer tiers by all-time revenue in the reporting currency, highest first."""

    VIP = "VIP"
    PREMIUM = "Premium"
    REGULAR = "Regular"
    NEW = "New"


# Lowest all-time revenue of each tier; a customer is in the first tier it reaches. The
# `top_customers` view's CASE is rendered from this table.
TIER_MIN_REVENUE: dict[CustomerTier, int] = {
    CustomerTier.VIP: 1000,
    CustomerTier.PREMIUM: 500,
    CustomerTier.REGULAR: 100,
    CustomerTier.NEW: 0,
}


@dataclass(frozen=True)
class Field:
    """One field of a record: name, portable SQL type, whether required, and its meaning."""

    name: str
    sql_type: str
    required: bool
    description: str

    @property
    def spark_type(self) -> str:
        """Spark DDL spelling of the type."""
        return _SPARK_TYPES.get(self.sql_type, self.sql_type)


_SPARK_TYPES = {"VARCHAR": "STRING", "INTEGER": "INT"}

# Raw record (value of a raw_events message). Every field is read as text first so that
# validation sees exactly what was sent: numbers keep their spelling, so "1e309" or "NaN"
# are classified rather than coerced.
RAW_FIELDS: tuple[Field, ...] = (
    Field("event_id", "VARCHAR", False, "dedup key; derived from topic/partition/offset if absent"),
    Field("event_type", "VARCHAR", True, "trimmed, case-insensitive; one of EVENT_TYPES"),
    Field("customer_id", "VARCHAR", True, "non-empty after trim; also the Kafka key"),
    Field("event_timestamp", "VARCHAR", True, "ISO-8601 (no offset = UTC) or epoch millis"),
    Field("amount", "VARCHAR", False, "number or decimal string, > 0; required for PURCHASE"),
    Field("currency", "VARCHAR", False, "ISO-4217 code; required when amount is present"),
    Field("session_id", "VARCHAR", False, "shopper session"),
    Field("product_id", "VARCHAR", False, "catalog product"),
    Field("category", "VARCHAR", False, "product category"),
    Field("quantity", "VARCHAR", False, "integer >= 1, default 1; invalid values become 1"),
    Field("device", "VARCHAR", False, "desktop / mobile / tablet / app"),
    Field("is_valid", "VARCHAR", False, "seed producer hint; ignored, never trusted"),
    Field("invalid_field", "VARCHAR", False, "seed producer hint; ignored, never trusted"),
)

# Clean record (value of a clean_events message, and the columns of silver_events).
CLEAN_FIELDS: tuple[Field, ...] = (
    Field("event_id", "VARCHAR", True, "dedup key"),
    Field("event_type", "VARCHAR", True, "one of EVENT_TYPES"),
    Field("customer_id", "VARCHAR", True, "trimmed customer id"),
    Field("event_timestamp", "TIMESTAMP", True, "event time, UTC"),
    Field("event_date", "DATE", True, "UTC date of event_timestamp"),
    Field("amount", AMOUNT_SQL_TYPE, False, "amount in the event's currency"),
    Field("currency", "VARCHAR", False, "upper-cased ISO-4217 code"),
    Field("reporting_amount", AMOUNT_SQL_TYPE, False, "amount in the reporting currency"),
    Field("session_id", "VARCHAR", False, "shopper session"),
    Field("product_id", "VARCHAR", False, "catalog product"),
    Field("category", "VARCHAR", False, "product category"),
    Field("quantity", "INTEGER", True, "units, >= 1"),
    Field("device", "VARCHAR", False, "device"),
    Field("source_partition", "INTEGER", True, "raw_events partition"),
    Field("source_offset", "BIGINT", True, "raw_events offset"),
    Field("produced_at", "TIMESTAMP", True, "Kafka timestamp of the raw record"),
    Field("validated_at", "TIMESTAMP", True, "when Silver accepted the record"),
)

# Dead-letter record (value of a dead_letter message).
DEAD_LETTER_FIELDS: tuple[Field, ...] = (
    Field("reason", "VARCHAR", True, "one of REASONS"),
    Field("detail", "VARCHAR", True, "human-readable detail, e.g. the offending value"),
    Field("source_topic", "VARCHAR", True, "topic the raw record came from"),
    Field("source_partition", "INTEGER", True, "its partition"),
    Field("source_offset", "BIGINT", True, "its offset"),
    Field("source_key", "VARCHAR", False, "its key as UTF-8, if any"),
    Field("processed_at", "TIMESTAMP", True, "when Silver rejected it"),
    Field("raw_base64", "VARCHAR", True, "the original bytes, base64"),
)


def spark_ddl(fields: tuple[Field, ...]) -> str:
    """Spark DDL schema string (`name TYPE, ...`) for a field table."""
    return ", ".join(f"`{f.name}` {f.spark_type}" for f in fields)


def field_names(fields: tuple[Field, ...]) -> list[str]:
    """Names of a field table, in order."""
    return [f.name for f in fields]
