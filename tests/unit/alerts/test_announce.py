"""Each alert is announced once on open and once on resolve, however often checks run."""

from __future__ import annotations

from shopstream.alerts.announce import changes
from shopstream.alerts.detector import AlertState


def test_open_then_repeat_then_resolve() -> None:
    opened = {"CheckoutOutage": AlertState("CheckoutOutage", True, 100, 0, 500.0, 0.0, 1e-9)}
    announced, events = changes({}, opened)
    assert announced == {"CheckoutOutage": 100}
    assert [(e.rule, e.firing) for e in events] == [("CheckoutOutage", True)]
    assert changes(announced, opened) == (announced, [])  # the next interval: nothing new
    closed = {"CheckoutOutage": AlertState("CheckoutOutage", False, resolved_minute=105)}
    announced, events = changes(announced, closed)
    assert announced == {}
    (event,) = events
    assert not event.firing and event.ends_at is not None
    assert (event.ends_at - event.starts_at).total_seconds() == 300


def test_an_alert_never_resolves_before_it_started() -> None:
    from shopstream.alerts.detector import AlertState

    announced = {"CheckoutOutage": 100}
    closed = {"CheckoutOutage": AlertState("CheckoutOutage", resolved_minute=95)}
    _, (event,) = changes(announced, closed)
    assert event.ends_at is not None and event.ends_at >= event.starts_at
