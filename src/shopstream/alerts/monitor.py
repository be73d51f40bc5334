"""The live business-alert check: every `alerts.interval_seconds`, beside the writer.

Each check reads the recent per-minute rows (store.minute_rows), replays the detector over
the minutes older than the lateness allowance (deterministic, so no state survives a check
but the alerts table), peeks at the newer minutes for the ratio rules, records what opened
or resolved (store.record) and sends it to the webhook.

The peek is why a checkout outage opens within a minute: a ratio compares two counts of the
same minutes, which pipeline lag delays together, so the current partial minute can be
tested at once; the traffic rule cannot (lag reads as a drop) and waits for the allowance.
Each unsettled minute is peeked at every check until it settles, so a peek only opens an
alert on the fast path's alpha divided by those looks (Bonferroni): the budget still holds.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from shopstream.alerts import store
from shopstream.alerts.announce import changes
from shopstream.alerts.budget import split_alphas
from shopstream.alerts.detector import AlertState, Clean, Minute, judge, run_series
from shopstream.alerts.rules import RULES, Rule
from shopstream.alerts.webhook import AlertEvent, send
from shopstream.config import Settings
from shopstream.warehouse.base import Warehouse

log = logging.getLogger(__name__)

# Minutes each check replays; those before are baseline only. 120: a check costs ~60 ms
# whatever the history (3 days of minutes replayed in full took 2.3 s per check).
REPLAY_MINUTES = 120
HISTORY_DAYS = 7  # shop days of history the traffic baseline averages (detector._phases)
MAX_HISTORY_MINUTES = 3 * 1440  # with real 24 h days: 3 of them, so the read stays bounded


@dataclass(frozen=True)
class Params:
    """What one check needs from the settings, derived once."""

    alpha: float
    alpha_fast: float
    alpha_peek: float
    trailing: int
    cycle: int
    open_after: int
    resolve_after: int
    lateness_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Params:
        a = settings.alerts
        budget = (a.false_alerts_budget, a.budget_days)
        fast, slow = split_alphas(*budget, len(RULES), 1.0, a.open_after)
        # a minute is peeked at from its start until it settles, once per check
        looks = max(1, math.ceil((60.0 + a.lateness_allowance_seconds) / a.interval_seconds))
        cycle = round(settings.generator.day_length_seconds / 60.0)
        return cls(
            slow, fast, fast / looks, a.trailing_minutes, cycle, a.open_after,
            a.resolve_after, a.lateness_allowance_seconds,
        )  # fmt: skip

    def window_minutes(self) -> int:
        history = min(HISTORY_DAYS * self.cycle, MAX_HISTORY_MINUTES)
        return history + self.trailing + REPLAY_MINUTES + 2


def evaluate(
    rows: Sequence[Minute],
    now: datetime,
    p: Params,
    open_since: Mapping[str, int] | None = None,
    rules: Sequence[Rule] = RULES,
) -> dict[str, AlertState]:
    """Each rule's state now (pure): the replay of the settled minutes, then the peek."""
    # A minute is settled once it ended `lateness_s` ago, on the data's clock: the end of
    # the newest minute holding on-time events (those before it were delivered in full), not
    # later than now. When Gold lags, minutes it has not delivered yet stay unsettled, so
    # lag never reads as a traffic drop.
    newest = max((int(r["minute"]) for r in rows if r.get("on_time_events")), default=None)
    clock = now.timestamp() if newest is None else min(now.timestamp(), (newest + 1) * 60.0)
    settled_end = int((clock - p.lateness_s) // 60)
    settled = [r for r in rows if int(r["minute"]) < settled_end]
    recent = [r for r in rows if int(r["minute"]) >= settled_end]
    clean: dict[str, Clean] = {}
    states, _ = run_series(
        rules, settled, alpha=p.alpha, trailing_minutes=p.trailing, cycle_minutes=p.cycle,
        k_open=p.open_after, m_resolve=p.resolve_after, alpha_fast=p.alpha_fast, clean=clean,
        start=max(0, len(settled) - REPLAY_MINUTES), open_since=open_since,
    )  # fmt: skip
    for rule in rules:
        if rule.test not in ("level_rise", "level_drop") and not states[rule.name].open:
            states[rule.name] = _peek(rule, recent, p, clean[rule.name], states[rule.name])
    return states


def _peek(
    rule: Rule, recent: Sequence[Minute], p: Params, clean: Clean, state: AlertState
) -> AlertState:
    """The rule's state after testing each unsettled minute (oldest first) as it stands,
    against the settled baseline (an unsettled minute joins no baseline)."""
    for row in recent:
        v = judge(rule, row, clean, p.trailing, p.cycle, p.alpha_peek)
        if v is not None and v.significant:
            return AlertState(rule.name, True, v.minute, 0, v.expected, v.observed, v.p_value)
    return state


def check(wh: Warehouse, p: Params, now: datetime | None = None) -> list[AlertEvent]:
    """One check: read, evaluate, record; returns what opened or resolved."""
    now = now or datetime.now(UTC)
    rows = store.minute_rows(wh, *store.window(now, p.window_minutes()))
    announced = store.open_alerts(wh)
    states = evaluate(rows, now, p, announced)
    # An alert keeps the start it was announced with while it stays open (a peek may have
    # opened it a minute before the replay would).
    for rule, since in announced.items():
        s = states.get(rule)
        if s is not None and s.open:
            states[rule] = replace(s, since_minute=since)
    _, events = changes(announced, states)
    store.record(wh, events, now)
    return events


@contextlib.contextmanager
def monitoring(wh: Warehouse, settings: Settings) -> Iterator[threading.Thread | None]:
    """Run `check` every interval in a daemon thread while the block runs (not read-only)."""
    if not settings.alerts.enabled:
        yield None
        return
    stop = threading.Event()
    params = Params.from_settings(settings)
    a = settings.alerts

    def loop() -> None:
        while not stop.wait(a.interval_seconds):
            try:
                events = check(wh, params)
            except Exception as err:  # the warehouse is away: the next check retries
                log.warning("business alert check failed: %s", err)
                continue
            url = str(a.webhook_url) if a.webhook_url else None
            send(url, events, a.webhook_timeout_seconds, a.webhook_retries)
            for e in events:
                log.warning("business alert %s %s", e.rule, "OPEN" if e.firing else "resolved")

    thread = threading.Thread(target=loop, name="business-alerts", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=10)
