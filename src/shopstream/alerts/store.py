"""The alerts' warehouse side: the per-minute rows they read, the episodes they record.

Reads are bounded by the window asked for (one row per minute and per reason), never by
history; writes touch one row per alert opened, resolved or still open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shopstream.alerts.rules import RULES
from shopstream.alerts.webhook import AlertEvent
from shopstream.warehouse.base import Warehouse

_MINUTES = (
    "SELECT event_minute, events, page_views, add_to_cart_count, purchase_count, "
    "on_time_events FROM minute_metrics WHERE event_minute >= ? AND event_minute < ?"
)
_DEAD_LETTERS = (
    "SELECT processed_minute, reason, dead_letters FROM dead_letter_minutes "
    "WHERE processed_minute >= ? AND processed_minute < ?"
)
_OPEN = "SELECT rule, started_at FROM alerts WHERE resolved_at IS NULL"
_SEVERITY = {r.name: r.severity for r in RULES}
_SUMMARY = {r.name: r.summary for r in RULES}
COUNTS = ("events", "on_time_events", "page_views", "carts", "purchases", "dl_total")


def epoch_minute(t: datetime) -> int:
    """Minutes since the epoch of a naive-UTC or aware timestamp."""
    aware = t if t.tzinfo else t.replace(tzinfo=UTC)
    return int(aware.timestamp() // 60)


def stored(t: datetime) -> datetime:
    """An aware timestamp as the warehouse stores it: naive UTC."""
    return t.astimezone(UTC).replace(tzinfo=None)


def naive(minute: int) -> datetime:
    """The naive-UTC timestamp the warehouse stores for an epoch minute."""
    return datetime.fromtimestamp(minute * 60, tz=UTC).replace(tzinfo=None)


def minute_rows(wh: Warehouse, first: int, end: int) -> list[dict[str, float]]:
    """One row per minute of the newest unbroken run of covered minutes in [first, end),
    then every minute up to `end` (zeros where none): event counts, on-time events, dead
    letters per reason.

    A minute is covered when it holds on-time events (sent within ON_TIME_SECONDS of their
    event time): the stream flowed then. Minutes before the newest uncovered one are left
    out: late events fill the hour before a stream began with ~140 events a minute (seen in
    `bench incidents`), which the traffic rule read as a dead shop's history. After the
    newest covered minute, silent minutes are data (a shop that stopped now).
    """
    rows: dict[int, dict[str, float]] = {}

    def row(minute: int) -> dict[str, float]:
        return rows.setdefault(minute, {"minute": minute, **dict.fromkeys(COUNTS, 0.0)})

    bounds = [naive(first), naive(end)]
    covered = set()  # minutes the stream covered as it flowed (on-time events)
    for m, events, views, carts, purchases, on_time in wh.query_rows(_MINUTES, bounds)[1]:
        r = row(epoch_minute(m))
        r.update(events=events, page_views=views, carts=carts, purchases=purchases)
        r["on_time_events"] = on_time or 0  # NULL: a minute from before the column existed
        if on_time:
            covered.add(epoch_minute(m))
    for m, reason, n in wh.query_rows(_DEAD_LETTERS, bounds)[1]:
        r = row(epoch_minute(m))
        r[f"dl_{reason}"] = r.get(f"dl_{reason}", 0.0) + n
        r["dl_total"] += n
    if not covered:
        return []
    start = max(covered)
    while start - 1 in covered:
        start -= 1
    return [rows.get(m) or row(m) for m in range(start, end)]


def open_alerts(wh: Warehouse) -> dict[str, int]:
    """Rule -> started minute of each alert open in the warehouse (what was announced)."""
    return {r: epoch_minute(t) for r, t in wh.query_rows(_OPEN)[1]}


def record(wh: Warehouse, events: Sequence[AlertEvent], now: datetime) -> None:
    """Insert each opened alert, close each resolved one (by rule and start)."""
    stamp = stored(now)
    for e in events:
        start = stored(e.starts_at)
        if e.firing:
            # Late events can make a replay reopen an episode it had resolved: same key.
            wh.execute(
                "UPDATE alerts SET resolved_at = NULL, updated_at = ? "
                "WHERE rule = ? AND started_at = ?",
                [stamp, e.rule, start],
            )
            wh.execute(
                "INSERT INTO alerts (rule, severity, summary, started_at, resolved_at, "
                "expected, observed, p_value, detected_at, updated_at) "
                "SELECT ?, ?, ?, ?, NULL, ?, ?, ?, ?, ? "
                "WHERE NOT EXISTS (SELECT 1 FROM alerts WHERE rule = ? AND started_at = ?)",
                [*_values(e, start, stamp), e.rule, start],
            )
        else:
            end = stored(e.ends_at or now)
            wh.execute(
                "UPDATE alerts SET resolved_at = ?, updated_at = ? "
                "WHERE rule = ? AND started_at = ? AND resolved_at IS NULL",
                [end, stamp, e.rule, start],
            )


def _values(e: AlertEvent, start: datetime, stamp: datetime) -> list[Any]:
    p = max(e.p_value, 1e-300)  # a dead checkout's p underflows to 0.0; keep it a number
    return [
        e.rule,
        _SEVERITY.get(e.rule, "warning"),
        _SUMMARY.get(e.rule, e.rule),
        start,
        e.expected,
        e.observed,
        p,
        stamp,
        stamp,
    ]


def window(now: datetime, minutes: int) -> tuple[int, int]:
    """[first, end) epoch minutes of the `minutes` up to and including the current one."""
    end = epoch_minute(now + timedelta(minutes=1))
    return end - minutes, end
