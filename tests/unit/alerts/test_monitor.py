"""The live check against a real warehouse (DuckDB and Snowflake via fakesnow): it reads the
per-minute tables, opens an alert once (peeking at the partial minute for a dead checkout),
keeps it open while the incident lasts, resolves it after recovery, and stays silent on
normal noise. The rows are written to minute_metrics / dead_letter_minutes directly: that
the commit keeps those tables exact is tested in tests/unit/warehouse."""

from __future__ import annotations

import http.server
import json
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from shopstream.alerts import monitor, store
from shopstream.alerts.webhook import AlertEvent
from shopstream.config import load_settings
from shopstream.warehouse import Warehouse

M0 = 29_700_000  # an epoch minute (2026-06-18): the series starts here
PARAMS = monitor.Params.from_settings(load_settings())
INSERT_MINUTE = (
    "INSERT INTO minute_metrics (event_minute, events, page_views, add_to_cart_count, "
    "purchase_count, total_revenue, on_time_events, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)"
)


def _at(minute: int, seconds: float = 0.0) -> datetime:
    return datetime.fromtimestamp(minute * 60 + seconds, tz=UTC)


def _poisson(rng: random.Random, mu: float) -> int:
    return max(0, round(rng.gauss(mu, mu**0.5)))


def _minute(
    wh: Warehouse, minute: int, rng: random.Random, *, conv: float = 0.02, share: float = 1.0
) -> None:
    """One minute of a shop at ~2,500 events: `share` of the minute sent, `conv` purchases
    per view or cart, and the usual trickle of dead letters (2 reasons)."""
    views = _poisson(rng, 2200 * share)
    carts = _poisson(rng, 250 * share)
    purchases = _poisson(rng, (views + carts) * conv) if conv else 0
    n = views + carts + purchases
    wh.execute(INSERT_MINUTE, [store.naive(minute), n, views, carts, purchases, n, _at(minute)])
    for reason, mu in (("invalid_amount", 30 * share), ("missing_amount", 2 * share)):
        if n := _poisson(rng, mu):
            wh.execute(
                "INSERT INTO dead_letter_minutes VALUES (?, ?, ?)", [store.naive(minute), reason, n]
            )


def _kinds(events: list[AlertEvent]) -> list[tuple[str, bool]]:
    return [(e.rule, e.firing) for e in events]


def _open_rows(wh: Warehouse) -> list[dict[str, Any]]:
    return wh.query("SELECT rule, started_at, resolved_at FROM alerts ORDER BY started_at")


def test_a_dead_checkout_opens_in_its_first_minute_once_and_resolves(any_wh: Warehouse) -> None:
    rng = random.Random(3)
    for m in range(M0, M0 + 30):
        _minute(any_wh, m, rng)
    # The outage starts with minute 30; 40 s of it have arrived (views go on, no purchases).
    _minute(any_wh, M0 + 30, rng, conv=0.0, share=40 / 60)
    # The minute is not settled (lateness allowance 60 s): only the peek can open it now.
    opened = monitor.check(any_wh, PARAMS, _at(M0 + 30, 41))
    assert _kinds(opened) == [("CheckoutOutage", True)]
    assert opened[0].starts_at == _at(M0 + 30) and opened[0].observed == 0
    # Announced once: later checks during the outage add nothing, the row stays open.
    for table, col in (
        ("minute_metrics", "event_minute"),
        ("dead_letter_minutes", "processed_minute"),
    ):
        any_wh.execute(f"DELETE FROM {table} WHERE {col} = ?", [store.naive(M0 + 30)])
    _minute(any_wh, M0 + 30, rng, conv=0.0)  # the rest of minute 30 has arrived
    _minute(any_wh, M0 + 31, rng, conv=0.0)
    assert monitor.check(any_wh, PARAMS, _at(M0 + 32, 30)) == []
    (row,) = _open_rows(any_wh)
    assert row["rule"] == "CheckoutOutage" and row["resolved_at"] is None
    assert row["started_at"].replace(tzinfo=None) == store.naive(M0 + 30)
    # Recovery: three settled normal minutes resolve it, at the third.
    for m in range(M0 + 32, M0 + 36):
        _minute(any_wh, m, rng)
    assert monitor.check(any_wh, PARAMS, _at(M0 + 35, 59)) == []  # two settled: 32, 33
    resolved = monitor.check(any_wh, PARAMS, _at(M0 + 36, 1))
    assert _kinds(resolved) == [("CheckoutOutage", False)]
    (row,) = _open_rows(any_wh)
    assert row["resolved_at"].replace(tzinfo=None) == store.naive(M0 + 34)
    assert monitor.check(any_wh, PARAMS, _at(M0 + 36, 20)) == []


def test_payment_failures_open_from_the_dead_letter_minutes(duck_wh: Warehouse) -> None:
    rng = random.Random(5)
    for m in range(M0, M0 + 20):
        _minute(duck_wh, m, rng)
    for m in (M0 + 20, M0 + 21):
        _minute(duck_wh, m, rng)
        # half of the ~60 purchases a minute arrive without an amount
        duck_wh.execute(
            "DELETE FROM dead_letter_minutes WHERE processed_minute = ? "
            "AND reason = 'missing_amount'",
            [store.naive(m)],
        )
        duck_wh.execute(
            "INSERT INTO dead_letter_minutes VALUES (?, 'missing_amount', 30)", [store.naive(m)]
        )
    events = monitor.check(duck_wh, PARAMS, _at(M0 + 23, 5))
    assert _kinds(events) == [("PaymentFailures", True)]
    assert events[0].starts_at == _at(M0 + 20)


def test_normal_noise_opens_nothing_checked_every_interval(duck_wh: Warehouse) -> None:
    rng = random.Random(11)
    for m in range(M0, M0 + 60):
        _minute(duck_wh, m, rng)
        for s in (0, 15, 30, 45):
            assert monitor.check(duck_wh, PARAMS, _at(m, s + 50)) == [], (m, s)
    assert _open_rows(duck_wh) == []


def test_a_mutation_that_ignores_the_peek_is_slower(duck_wh: Warehouse) -> None:
    """The peek is what opens within the first minute: without it the same data opens
    nothing until the minute settles (this test fails if the peek never runs)."""
    rng = random.Random(3)
    for m in range(M0, M0 + 30):
        _minute(duck_wh, m, rng)
    _minute(duck_wh, M0 + 30, rng, conv=0.0, share=40 / 60)
    rows = store.minute_rows(duck_wh, *store.window(_at(M0 + 30, 41), PARAMS.window_minutes()))
    slow = monitor.Params(**{**PARAMS.__dict__, "alpha_peek": 0.0})
    assert not monitor.evaluate(rows, _at(M0 + 30, 41), slow)["CheckoutOutage"].open
    assert monitor.evaluate(rows, _at(M0 + 30, 41), PARAMS)["CheckoutOutage"].open


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        size = int(self.headers["Content-Length"])
        self.bodies.append(json.loads(self.rfile.read(size)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.bodies = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


def test_the_monitor_thread_records_and_posts_an_outage(duck_wh: Warehouse, receiver: str) -> None:
    now = datetime.now(UTC)
    first = store.epoch_minute(now) - 30
    rng = random.Random(8)
    for m in range(first, first + 30):
        _minute(duck_wh, m, rng)
    _minute(duck_wh, first + 30, rng, conv=0.0)  # the current minute: a dead checkout
    settings = load_settings(alerts={"interval_seconds": 0.2, "webhook_url": receiver})
    with monitor.monitoring(duck_wh, settings):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _Receiver.bodies:
            time.sleep(0.1)
    assert [r["rule"] for r in _open_rows(duck_wh)] == ["CheckoutOutage"]
    (body,) = _Receiver.bodies
    assert body["status"] == "firing"
    assert body["alerts"][0]["labels"]["alertname"] == "CheckoutOutage"


def test_disabled_alerts_start_no_thread(duck_wh: Warehouse) -> None:
    settings = load_settings(alerts={"enabled": False})
    with monitor.monitoring(duck_wh, settings) as thread:
        assert thread is None


def test_an_episode_reopened_by_a_replay_is_the_same_row(any_wh: Warehouse) -> None:
    """Late events can turn a resolved episode open again with the same start: one row."""
    start = _at(M0)
    opened = AlertEvent("CheckoutOutage", True, start, None, 300.0, 0.0, 1e-40)
    closed = AlertEvent("CheckoutOutage", False, start, _at(M0 + 4), 300.0, 0.0, 1e-40)
    for events in ([opened], [closed], [opened]):
        store.record(any_wh, events, _at(M0 + 5))
    (row,) = _open_rows(any_wh)
    assert row["resolved_at"] is None


def _rows(minutes: int, outage_from: int, seed: int) -> list[dict[str, float]]:
    rng = random.Random(seed)
    rows = []
    for m in range(minutes):
        views, carts = _poisson(rng, 2200), _poisson(rng, 250)
        purchases = 0 if m >= outage_from else _poisson(rng, (views + carts) * 0.02)
        n = views + carts + purchases
        rows.append({"minute": M0 + m, "events": n, "on_time_events": n, "page_views": views,
                     "carts": carts, "purchases": purchases, "dl_total": 30})  # fmt: skip
    return rows


def test_an_outage_longer_than_the_replayed_span_stays_open() -> None:
    """The replay covers the last REPLAY_MINUTES; an episode open from before keeps its
    minutes out of the baseline, so three hours of zero purchases never read as normal."""
    minutes = 30 + 3 * 60
    rows = _rows(minutes, outage_from=30, seed=4)
    now = _at(M0 + minutes, 30)
    assert monitor.evaluate(rows, now, PARAMS, {"CheckoutOutage": M0 + 30})["CheckoutOutage"].open
    # Without the alerts table's memory the outage has become the baseline: the check
    # would resolve it (this is what the open_since argument prevents).
    assert not monitor.evaluate(rows, now, PARAMS)["CheckoutOutage"].open


def test_late_events_in_the_hour_before_the_stream_are_no_dead_shop(duck_wh: Warehouse) -> None:
    """Late events fill the hour before a stream began (~140 a minute at 1,000 events/s,
    none sent on time): the history starts with the first covered minute, so the traffic
    rule sees no dead shop to compare the stream with."""
    rng = random.Random(6)
    for m in range(M0 + 40, M0 + 100):
        n = _poisson(rng, 140)
        duck_wh.execute(INSERT_MINUTE, [store.naive(m), n, n, 0, 0, 0, _at(m)])
    for m in range(M0 + 100, M0 + 140):
        _minute(duck_wh, m, rng)
    now = _at(M0 + 140, 10)
    rows = store.minute_rows(duck_wh, *store.window(now, PARAMS.window_minutes()))
    assert rows[0]["minute"] == M0 + 100 and rows[-1]["minute"] == M0 + 140
    assert monitor.check(duck_wh, PARAMS, now) == []


def test_gold_lagging_minutes_behind_is_no_traffic_drop() -> None:
    """Nothing delivered for the last 4 minutes (Gold behind): those minutes are not
    settled on the data's clock, so the traffic rule does not read them as zeros."""
    rows = _rows(45, outage_from=45, seed=9)
    now = _at(M0 + 45 + 4, 30)
    filled = [
        *rows,
        *({**dict.fromkeys(store.COUNTS, 0.0), "minute": M0 + 45 + i} for i in range(5)),
    ]
    assert not any(s.open for s in monitor.evaluate(filled, now, PARAMS).values())
