"""Detector on synthetic minute series with a day/night curve: quiet on noise, catches each kind."""

from __future__ import annotations

import math
import random

import pytest

from shopstream.alerts.budget import per_window_alpha, split_alphas
from shopstream.alerts.detector import run_series
from shopstream.alerts.rules import RULES
from shopstream.alerts.stats import binom_lower_tail, binom_upper_tail

CYCLE = 20  # minutes per shop day, the generator's default 1200 s
ALPHA = per_window_alpha(1.0, 30.0, len(RULES), 1.0, 2)
KW = {"alpha": ALPHA, "trailing_minutes": 10, "cycle_minutes": CYCLE, "k_open": 2, "m_resolve": 3}


def _poisson(rng: random.Random, mu: float) -> int:
    # Normal approximation is fine at these means (hundreds+); exact enough for a test.
    return max(0, round(rng.gauss(mu, math.sqrt(mu))))


def _series(
    minutes: int, seed: int, rate: float = 600.0, incident: tuple[str, int, int] | None = None
) -> list[dict[str, float]]:
    rng = random.Random(seed)
    rows = []
    for m in range(minutes):
        curve = 1.0 + 0.7 * math.sin(2 * math.pi * m / CYCLE)  # day/night: 0.3x .. 1.7x
        kind, start, end = incident or ("", -1, -1)
        hit = start <= m < end
        level = {"drop": 0.3, "spike": 3.0}.get(kind, 1.0) if hit else 1.0
        mu = rate * curve * level
        events = _poisson(rng, mu)
        views = sum(1 for _ in range(events) if rng.random() < 0.6)
        carts = sum(1 for _ in range(events) if rng.random() < 0.1)
        conv = 0.0 if hit and kind == "checkout" else 0.05
        purchases = sum(1 for _ in range(views + carts) if rng.random() < conv)
        miss_p = 0.2 if hit and kind == "payment" else 0.0005
        bad_p = 0.2 if hit and kind == "release" else 0.0005
        miss = sum(1 for _ in range(events) if rng.random() < miss_p)
        bad = sum(1 for _ in range(events) if rng.random() < bad_p)
        # the other reasons' dead letters (noise), the dead-letter rules' denominator
        other = sum(1 for _ in range(events) if rng.random() < 0.02)
        rows.append(
            {
                "minute": 30_000_000 + m,
                "events": events,
                "on_time_events": events,
                "page_views": views,
                "carts": carts,
                "purchases": purchases,
                "dl_missing_amount": miss,
                "dl_invalid_timestamp": bad,
                "dl_total": miss + bad + other,
            }
        )
    return rows


def test_tails_match_exact_small_cases() -> None:
    assert binom_lower_tail(3, 10, 0.5) == pytest.approx(176 / 1024)
    assert binom_upper_tail(7, 10, 0.5) == pytest.approx(176 / 1024)
    assert binom_upper_tail(0, 10, 0.5) == 1.0
    assert binom_lower_tail(0, 60_000, 0.01) < 1e-200


def test_fast_path_opens_a_dead_checkout_in_its_first_minute_and_not_on_noise() -> None:
    fast, slow = split_alphas(1.0, 30.0, len(RULES), 1.0, 2)
    assert pytest.approx(0.5 / 216_000) == fast  # 5 rules * 30 days * 1440 minutes
    kw = {**KW, "alpha": slow, "alpha_fast": fast}
    rows = _series(80, 11, incident=("checkout", 50, 55))
    _, episodes = run_series(RULES, rows, **kw)
    assert episodes[0][:2] == ("CheckoutOutage", rows[50]["minute"])
    states, _ = run_series(RULES, rows[:51], **kw)  # only the first incident minute seen
    assert states["CheckoutOutage"].open
    for seed in range(5):
        assert run_series(RULES, _series(80, seed), **kw)[1] == []


def test_alpha_follows_the_budget() -> None:
    # 5 rules * 30 days * 1440 windows = 216,000 checks; k=2 -> sqrt(1/216000)
    assert pytest.approx((1 / 216_000) ** 0.5) == ALPHA


@pytest.mark.parametrize("seed", range(5))
def test_no_false_alert_on_normal_noise_with_a_day_curve(seed: int) -> None:
    _, episodes = run_series(RULES, _series(80, seed), **KW)
    assert episodes == []


@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        ("checkout", "CheckoutOutage"),
        ("payment", "PaymentFailures"),
        ("release", "BadRelease"),
        ("drop", "TrafficDrop"),
        ("spike", "TrafficSpike"),
    ],
)
def test_each_kind_is_detected_and_resolves(kind: str, rule: str) -> None:
    start, end = 50, 55
    rows = _series(80, 7, incident=(kind, start, end))
    _, episodes = run_series(RULES, rows, **KW)
    mine = [e for e in episodes if e[0] == rule]
    assert mine, episodes
    _, opened, resolved = mine[0]
    base = rows[0]["minute"]
    assert opened == base + start  # since = the first significant window (k=2 confirms)
    assert resolved is not None and resolved >= base + end


def _drifting(minutes: int, seed: int, outage_at: int | None = None) -> list[dict[str, float]]:
    """Conversion that wanders minute to minute (sessions check out together, the mix moves
    with the day): each minute's rate is 0.05 times a lognormal factor with sigma 0.15."""
    rng = random.Random(seed)
    rows = _series(minutes, seed)
    for r in rows:
        rate = (
            0.0 if outage_at is not None and r["minute"] - rows[0]["minute"] >= outage_at else 0.05
        )
        mu = (r["page_views"] + r["carts"]) * rate * math.exp(rng.gauss(0.0, 0.15))
        r["purchases"] = _poisson(rng, mu) if mu else 0
    return rows


def test_overdispersed_conversion_opens_nothing_but_a_dead_checkout_still_opens() -> None:
    fast, slow = split_alphas(1.0, 30.0, len(RULES), 1.0, 2)
    kw = {**KW, "alpha": slow, "alpha_fast": fast}
    for seed in range(20):
        _, episodes = run_series(RULES, _drifting(80, seed), **kw)
        assert [e for e in episodes if e[0] == "CheckoutOutage"] == [], seed
    rows = _drifting(80, 3, outage_at=60)
    states, _ = run_series(RULES, rows[:61], **kw)
    assert states["CheckoutOutage"].open  # in its first minute, on the fast path


def test_a_spike_stays_out_of_the_drop_rules_baseline_for_the_next_day() -> None:
    # A 3x spike in day 3 (minutes 40-45): one day later, at the same phase, normal traffic
    # must not read as a drop against a baseline the spike lifted.
    rows = _series(100, 11, incident=("spike", 40, 45))
    _, episodes = run_series(RULES, rows, **KW)
    assert [e[0] for e in episodes] == ["TrafficSpike"], episodes
