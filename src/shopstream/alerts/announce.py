"""What to announce: the difference between the states just computed and those announced.

The detector is replayed over the recent minutes each interval (deterministic), so the
only memory is what was announced last (the alerts table, later): an alert is announced
once when it opens and once when it resolves, however often the checks run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from shopstream.alerts.detector import AlertState
from shopstream.alerts.webhook import AlertEvent


def _at(minute: int | None) -> datetime | None:
    return None if minute is None else datetime.fromtimestamp(minute * 60, tz=UTC)


def changes(
    announced: Mapping[str, int], states: Mapping[str, AlertState]
) -> tuple[dict[str, int], list[AlertEvent]]:
    """(open rule -> since minute, events to send) after this interval's states."""
    now_open = {r: s.since_minute for r, s in states.items() if s.open and s.since_minute}
    events = []
    for rule, since in now_open.items():
        if announced.get(rule) != since:
            s = states[rule]
            start = _at(since) or datetime.now(UTC)
            events.append(AlertEvent(rule, True, start, None, s.expected, s.observed, s.p_value))
    for rule, since in announced.items():
        if rule not in now_open:
            s = states.get(rule, AlertState(rule))
            start = _at(since) or datetime.now(UTC)
            # A replay's resolved minute can belong to an earlier episode of the rule (this
            # one opened on a peek): an end before the start would be no end at all.
            resolved = s.resolved_minute if (s.resolved_minute or 0) >= since else None
            end = _at(resolved) or datetime.now(UTC)
            events.append(AlertEvent(rule, False, start, end, s.expected, s.observed, s.p_value))
    return {r: int(m) for r, m in now_open.items() if m is not None}, events
