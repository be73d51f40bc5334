"""The day/night curve: its shape, the live send schedule, and backfill event-time density."""

from __future__ import annotations

import numpy as np
import pytest

from shopstream.bronze.batch import DAY_MS, HOUR_MS
from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.incidents import parse_incidents
from shopstream.bronze.noise import NoiseRates
from shopstream.bronze.producer import GeneratorSource
from shopstream.bronze.traffic import EventClock, SendSchedule, TrafficShape
from shopstream.config import DAY_CURVE

NOW_MS = 1_764_086_400_000 + 13 * HOUR_MS  # 2025-11-26T05:00Z
DAY_S = 1200.0  # the default live day: 20 minutes


def _hourly(counts_by_hour: np.ndarray) -> np.ndarray:
    return counts_by_hour / counts_by_hour.mean()


def test_the_curve_has_its_trough_at_night_and_its_peak_in_the_evening() -> None:
    shape = TrafficShape.default()
    ts = np.arange(0, DAY_MS, 60_000, dtype=np.float64)  # one real day, per minute
    curve = shape.multiplier(ts, DAY_MS)
    assert curve.mean() == pytest.approx(1.0, abs=1e-3)  # the configured rate is the mean
    hour_of_min, hour_of_max = ts[curve.argmin()] / HOUR_MS, ts[curve.argmax()] / HOUR_MS
    assert 3.5 <= hour_of_min <= 5.0 and 19.5 <= hour_of_max <= 21.0
    assert curve.min() / curve.max() == pytest.approx(min(DAY_CURVE) / max(DAY_CURVE), rel=0.05)
    flat = TrafficShape(DAY_S, 0.0, DAY_CURVE).multiplier(ts, DAY_MS)
    assert (flat == 1.0).all() and TrafficShape.flat().is_flat
    half = TrafficShape(DAY_S, 0.5, DAY_CURVE).multiplier(ts, DAY_MS)
    assert half.max() == pytest.approx(1 + (curve.max() - 1) / 2)


def test_a_flat_schedule_is_the_plain_rate() -> None:
    schedule = SendSchedule(250.0)
    assert schedule.seconds_for(1000) == 4.0 and schedule.rate_at(99.0) == 250.0


def test_the_live_schedule_follows_the_compressed_day_with_the_rate_as_its_mean() -> None:
    shape = TrafficShape.default()
    day_ms = DAY_S * 1000

    def intensity(ts: np.ndarray) -> np.ndarray:
        return shape.multiplier(ts, day_ms)

    schedule = SendSchedule(1000.0, intensity, step_s=0.5)
    origin = int(NOW_MS // day_ms * day_ms)  # a shop midnight
    schedule.begin(origin)
    # Events due by each shop hour's end (every 50 s), over two shop days.
    events = np.arange(0, 2_400_001, 500)
    due = np.array([schedule.seconds_for(n) for n in events])
    per_hour = np.diff(np.interp(np.arange(0, 2 * DAY_S + 1, 50.0), due, events))
    assert per_hour.sum() == pytest.approx(2 * DAY_S * 1000, rel=0.002)  # mean = the rate
    assert np.argmin(per_hour[:24]) == 4 and np.argmax(per_hour[:24]) == 20
    wanted = np.array(DAY_CURVE) / np.mean(DAY_CURVE)
    assert _hourly(per_hour[:24]) == pytest.approx(wanted, rel=0.08)
    assert np.all(np.diff(due) >= 0)


def test_live_timestamps_spread_over_the_time_the_schedule_gives_them() -> None:
    clock = [NOW_MS]
    cfg = GeneratorConfig(seed=1, rate=2000.0, noise=NoiseRates.none())
    gen = EventGenerator(cfg, clock_ms=lambda: clock[0])
    source = GeneratorSource(gen, None, gen.send_schedule())
    source.schedule.begin(NOW_MS)
    chunks = source.chunks(lambda: 100)
    for _ in range(3):
        _, _, batch = next(chunks)
        rate = source.schedule.rate_at((clock[0] - NOW_MS) / 1000)
        span = int(batch.ts_ms.max() - batch.ts_ms.min())
        assert span == pytest.approx(100 / rate * 1000 * 99 / 100, abs=2)
        clock[0] += 50


def test_backfill_event_time_follows_the_real_day() -> None:
    cfg = GeneratorConfig(seed=2, backfill_days=3, noise=NoiseRates.none(), now_ms=NOW_MS)
    gen = EventGenerator(cfg, total_events=200_000)
    ts = np.concatenate([b.ts_ms for b in gen.batches()])
    # Whole UTC days only, so each hour of the day is counted as often.
    first_day = (ts.min() // DAY_MS + 1) * DAY_MS
    whole = ts[(ts >= first_day) & (ts < first_day + 2 * DAY_MS)]
    per_hour = np.bincount((whole % DAY_MS) // HOUR_MS, minlength=24).astype(float)
    assert np.argmin(per_hour) in (3, 4, 5) and np.argmax(per_hour) in (19, 20, 21)
    wanted = np.array(DAY_CURVE) / np.mean(DAY_CURVE)
    assert _hourly(per_hour) == pytest.approx(wanted, rel=0.12)
    assert ts.min() >= NOW_MS - 3 * DAY_MS - 60_000 and ts.max() < NOW_MS


def test_day_length_off_keeps_backfills_flat_and_exact() -> None:
    clock = EventClock(0, 1_000_000, 1000, None)
    assert clock.times(np.arange(0, 1000, 250, dtype=np.float64)).tolist() == [
        0,
        250_000,
        500_000,
        750_000,
    ]
    cfg = GeneratorConfig(
        seed=2, backfill_days=2, traffic=TrafficShape.flat(), noise=NoiseRates.none(),
        now_ms=NOW_MS,
    )  # fmt: skip
    ts = np.concatenate([b.ts_ms for b in EventGenerator(cfg, total_events=48_000).batches()])
    per_hour = np.bincount((ts - ts.min()) // HOUR_MS)[:47]
    assert per_hour.min() >= 995 and per_hour.max() <= 1005


def test_a_traffic_spike_multiplies_the_live_send_rate_inside_its_window() -> None:
    cfg = GeneratorConfig(
        seed=1, rate=500.0, traffic=TrafficShape.flat(), start_ms=NOW_MS,
        incidents=parse_incidents(["traffic_spike@60s+30s:x3", "traffic_drop@120s+60s:0.2"]),
    )  # fmt: skip
    schedule = EventGenerator(cfg).send_schedule()
    assert schedule is not None
    schedule.begin(NOW_MS)

    def due_between(a: float, b: float) -> float:
        events = np.arange(0, 200_000, 10)
        times = np.array([schedule.seconds_for(n) for n in events])
        return float(np.interp(b, times, events) - np.interp(a, times, events))

    assert due_between(10, 50) / 40 == pytest.approx(500, rel=0.01)
    assert due_between(61, 89) / 28 == pytest.approx(1500, rel=0.01)
    assert due_between(121, 179) / 58 == pytest.approx(100, rel=0.01)
    assert due_between(200, 250) / 50 == pytest.approx(500, rel=0.01)
