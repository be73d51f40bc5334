"""Alertmanager-compatible webhook (payload version "4"), sent off the caller's thread.

Gold must never wait on, or crash from, a receiver: `send` returns at once; a daemon
thread POSTs with a bounded timeout and a bounded number of retries, and logs failures.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shopstream.alerts.rules import RULES

log = logging.getLogger(__name__)
_SEVERITY = {r.name: r.severity for r in RULES}
_SUMMARY = {r.name: r.summary for r in RULES}
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "not ended"


@dataclass(frozen=True)
class AlertEvent:
    rule: str
    firing: bool
    starts_at: datetime
    ends_at: datetime | None
    expected: float
    observed: float
    p_value: float


def _iso(t: datetime | None) -> str:
    return ZERO_TIME if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(events: Sequence[AlertEvent], external_url: str = "") -> dict[str, object]:
    """The v4 webhook body; status is "firing" when any alert in it fires."""
    alerts = [
        {
            "status": "firing" if e.firing else "resolved",
            "labels": {"alertname": e.rule, "severity": _SEVERITY.get(e.rule, "warning")},
            "annotations": {
                "summary": _SUMMARY.get(e.rule, e.rule),
                "expected": f"{e.expected:.1f}",
                "observed": f"{e.observed:.1f}",
                "p_value": f"{e.p_value:.3g}",
            },
            "startsAt": _iso(e.starts_at),
            "endsAt": _iso(None if e.firing else e.ends_at),
            "generatorURL": external_url,
            "fingerprint": f"shopstream-{e.rule}-{int(e.starts_at.timestamp())}",
        }
        for e in events
    ]
    firing = any(e.firing for e in events)
    return {
        "version": "4",
        "groupKey": '{}:{alertname=~"shopstream business"}',
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": "shopstream",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": external_url,
        "alerts": alerts,
    }


def post(url: str, body: dict[str, object], timeout: float, retries: int) -> bool:
    """POST `body` as JSON; True on a 2xx. Blocking: call it through `send`."""
    data = json.dumps(body).encode()
    for attempt in range(retries + 1):
        req = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                if 200 <= resp.status < 300:
                    return True
        except (OSError, ValueError) as err:  # URLError/HTTPError/timeouts are OSErrors
            log.warning("alert webhook attempt %d failed: %s", attempt + 1, err)
        time.sleep(min(5.0, 0.2 * 2**attempt))
    return False


def send(
    url: str | None, events: Sequence[AlertEvent], timeout: float, retries: int
) -> threading.Thread | None:
    """Fire and forget: returns the sending thread (tests join it), None when nothing to send."""
    if not url or not events:
        return None
    t = threading.Thread(
        target=post, args=(url, payload(events), timeout, retries), daemon=True, name="alert-hook"
    )
    t.start()
    return t
