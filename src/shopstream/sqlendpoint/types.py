"""DuckDB column types as PostgreSQL type OIDs, and values in PostgreSQL's text format."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

# PostgreSQL's fixed OIDs (src/include/catalog/pg_type.dat).
BOOL, BYTEA, INT8, INT2, INT4, TEXT, OID = 16, 17, 20, 21, 23, 25, 26
FLOAT4, FLOAT8, VARCHAR, DATE, TIME = 700, 701, 1043, 1082, 1083
TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC, UUID_OID, JSON = 1114, 1184, 1186, 1700, 2950, 114
UNKNOWN = 705


@dataclass(frozen=True)
class PgType:
    """What a RowDescription says about a column: type OID, size and modifier."""

    oid: int
    size: int = -1
    typmod: int = -1


_SIMPLE: dict[str, PgType] = {
    "BOOLEAN": PgType(BOOL, 1),
    "TINYINT": PgType(INT2, 2),
    "SMALLINT": PgType(INT2, 2),
    "UTINYINT": PgType(INT2, 2),
    "INTEGER": PgType(INT4, 4),
    "USMALLINT": PgType(INT4, 4),
    "BIGINT": PgType(INT8, 8),
    "UINTEGER": PgType(INT8, 8),
    # Wider than int8: numeric without a modifier, as PostgreSQL's sum(bigint) is.
    "HUGEINT": PgType(NUMERIC),
    "UBIGINT": PgType(NUMERIC),
    "UHUGEINT": PgType(NUMERIC),
    "FLOAT": PgType(FLOAT4, 4),
    "DOUBLE": PgType(FLOAT8, 8),
    "VARCHAR": PgType(VARCHAR),
    "BLOB": PgType(BYTEA),
    "DATE": PgType(DATE, 4),
    "TIME": PgType(TIME, 8),
    "TIMESTAMP": PgType(TIMESTAMP, 8),
    "TIMESTAMP_NS": PgType(TIMESTAMP, 8),
    "TIMESTAMP_MS": PgType(TIMESTAMP, 8),
    "TIMESTAMP_S": PgType(TIMESTAMP, 8),
    "TIMESTAMP WITH TIME ZONE": PgType(TIMESTAMPTZ, 8),
    "INTERVAL": PgType(INTERVAL, 16),
    "UUID": PgType(UUID_OID, 16),
    "JSON": PgType(JSON),
}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def pg_type(duckdb_type: object) -> PgType:
    """The PostgreSQL type for a DuckDB type (as `cursor.description` gives it); else text."""
    name = str(duckdb_type).upper()
    if m := _DECIMAL.fullmatch(name):
        precision, scale = int(m[1]), int(m[2])
        # PostgreSQL packs numeric(p,s) as ((p << 16) | s) + VARHDRSZ.
        return PgType(NUMERIC, -1, ((precision << 16) | scale) + 4)
    # Lists, structs, maps, enums...: their DuckDB text form, typed as text.
    return _SIMPLE.get(name, PgType(TEXT))


def to_text(value: Any) -> str:
    """A Python value from DuckDB in PostgreSQL's text output format (DateStyle ISO)."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).isoformat(sep=" ").replace("+00:00", "+00")
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _interval(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, UUID):
        return str(value)
    return str(value)


def _interval(td: timedelta) -> str:
    """PostgreSQL's `postgres` IntervalStyle, e.g. `1 day 02:03:04`."""
    days, seconds = td.days, td.seconds
    clock = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if td.microseconds:
        clock += f".{td.microseconds:06d}"
    return f"{days} day{'s' if abs(days) != 1 else ''} {clock}" if days else clock


def from_text(text: str, oid: int) -> Any:
    """A bind parameter sent as text, converted by its declared type (unknown = text)."""
    if oid in (INT2, INT4, INT8, OID):
        return int(text)
    if oid in (FLOAT4, FLOAT8):
        return float(text)
    if oid == NUMERIC:
        return Decimal(text)
    if oid == BOOL:
        return text.strip().lower() in ("t", "true", "1", "yes", "on", "y")
    if oid == DATE:
        return date.fromisoformat(text)
    if oid in (TIMESTAMP, TIMESTAMPTZ):
        return datetime.fromisoformat(text)
    return text


def from_binary(data: bytes, oid: int) -> Any:
    """A bind parameter sent in binary format (the common scalar types only)."""
    import struct

    if oid == INT2:
        return struct.unpack("!h", data)[0]
    if oid in (INT4, OID):
        return struct.unpack("!i", data)[0]
    if oid == INT8:
        return struct.unpack("!q", data)[0]
    if oid == FLOAT4:
        return struct.unpack("!f", data)[0]
    if oid == FLOAT8:
        return struct.unpack("!d", data)[0]
    if oid == BOOL:
        return data != b"\x00"
    if oid == BYTEA:
        return data
    if oid in (TEXT, VARCHAR, UNKNOWN, 0):
        return data.decode()
    if oid == NUMERIC:
        return _binary_numeric(data)
    if oid == DATE:
        return _PG_EPOCH.date() + timedelta(days=struct.unpack("!i", data)[0])
    if oid in (TIMESTAMP, TIMESTAMPTZ):
        stamp = _PG_EPOCH + timedelta(microseconds=struct.unpack("!q", data)[0])
        return stamp.replace(tzinfo=UTC) if oid == TIMESTAMPTZ else stamp
    raise ValueError(f"binary parameters of type OID {oid} are not supported; send them as text")


_PG_EPOCH = datetime(2000, 1, 1)


def _binary_numeric(data: bytes) -> Decimal:
    """PostgreSQL's binary numeric: base-10000 digits, a weight, a sign and a scale."""
    import struct

    ndigits, weight, sign, dscale = struct.unpack_from("!hhHh", data)
    if sign == 0xC000:
        return Decimal("NaN")
    digits = struct.unpack_from(f"!{ndigits}h", data, 8)
    value = sum(
        (Decimal(d) * Decimal(10000) ** (weight - i) for i, d in enumerate(digits)), Decimal(0)
    )
    value = value.quantize(Decimal(1).scaleb(-dscale)) if dscale >= 0 else value
    return -value if sign == 0x4000 else value


def to_binary(value: Any, oid: int) -> bytes:
    """A value in PostgreSQL's binary format for `oid` (clients such as pgx ask for it)."""
    import struct

    if oid == BOOL:
        return b"\x01" if value else b"\x00"
    if oid == INT2:
        return struct.pack("!h", value)
    if oid == INT4:
        return struct.pack("!i", value)
    if oid == INT8:
        return struct.pack("!q", value)
    if oid == FLOAT4:
        return struct.pack("!f", value)
    if oid == FLOAT8:
        return struct.pack("!d", value)
    if oid == NUMERIC:
        return _numeric_to_binary(Decimal(value))
    if oid == DATE:
        return struct.pack("!i", (value - _PG_EPOCH.date()).days)
    if oid in (TIMESTAMP, TIMESTAMPTZ):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return struct.pack("!q", (value - _PG_EPOCH) // timedelta(microseconds=1))
    if oid == TIME:
        since_midnight = datetime.combine(_PG_EPOCH.date(), value) - _PG_EPOCH
        return struct.pack("!q", since_midnight // timedelta(microseconds=1))
    if oid == INTERVAL:
        micros = value.seconds * 1_000_000 + value.microseconds
        return struct.pack("!qii", micros, value.days, 0)
    if oid == UUID_OID:
        return bytes(value.bytes)
    if oid == BYTEA:
        return bytes(value)
    return to_text(value).encode()  # text, varchar, json and what we send as text


def _numeric_to_binary(value: Decimal) -> bytes:
    import struct

    if value.is_nan():
        return struct.pack("!hhHh", 0, 0, 0xC000, 0)
    exponent = int(value.as_tuple().exponent)
    dscale = max(0, -exponent)
    frac_groups = -(-dscale // 4)
    n = int(abs(value).scaleb(4 * frac_groups))
    digits: list[int] = []
    while n:
        n, d = divmod(n, 10000)
        digits.insert(0, d)
    weight = len(digits) - 1 - frac_groups
    while digits and digits[-1] == 0:
        digits.pop()
    if not digits:
        weight = 0
    sign = 0x4000 if value.is_signed() and digits else 0
    return struct.pack(f"!hhHh{len(digits)}h", len(digits), weight, sign, dscale, *digits)
