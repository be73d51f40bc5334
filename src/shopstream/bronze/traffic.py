"""When events happen: the day/night curve, traffic incidents, and the clocks they shape.

The shop's hour of day is a function of event time alone, so a run and a reader (the
business alerts) agree on it without talking: `hour = (ts_ms mod day) / day * 24`, with
`day` the configured day length in live runs (a compressed day, so a short run shows
the rhythm) and 24 real hours in backfills (event time is then real history). The curve
is the 24 hourly values of `GeneratorSettings.day_curve`, joined linearly between hour
midpoints and normalized to a mean of 1 over the day, so the configured rate is the mean
rate; `depth` blends it with a flat line (0 = flat).

- live runs: `SendSchedule` turns rate x curve x traffic incidents into "when is the n-th
  event due", which the producer sleeps on and the live timestamps follow;
- backfills: `EventClock` spreads N events over the window by the same intensity, so event
  time density has the curve's shape (and an incident's spike or drop).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from shopstream.config import GeneratorSettings

Intensity = Callable[[np.ndarray], np.ndarray]  # epoch ms -> relative rate (mean ~1)


@dataclass(frozen=True)
class TrafficShape:
    """The day/night curve: day length (live runs; 0 = flat), depth and hourly shape."""

    day_length_s: float
    depth: float
    hourly: tuple[float, ...]

    @classmethod
    def from_settings(cls, settings: GeneratorSettings) -> TrafficShape:
        return cls(settings.day_length_seconds, settings.day_curve_depth, settings.day_curve)

    @classmethod
    def default(cls) -> TrafficShape:
        from shopstream.config import GeneratorSettings

        return cls.from_settings(GeneratorSettings())

    @classmethod
    def flat(cls) -> TrafficShape:
        return cls(0.0, 0.0, (1.0,) * 24)

    @property
    def is_flat(self) -> bool:
        return self.day_length_s <= 0 or self.depth <= 0

    def multiplier(self, ts_ms: np.ndarray, day_ms: float) -> np.ndarray:
        """Traffic relative to the day's mean at each epoch-ms time (1 when flat)."""
        ts_ms = np.asarray(ts_ms)
        if self.is_flat:
            return np.ones(ts_ms.shape)
        values = np.asarray(self.hourly, dtype=np.float64)
        values = values / values.mean()
        # Hour h's value sits at h + 0.5; between midpoints the curve is linear.
        hour = np.mod(ts_ms, day_ms) / day_ms * 24.0 - 0.5
        low = np.floor(hour)
        frac = hour - low
        index = low.astype(np.int64) % 24
        curve = values[index] * (1.0 - frac) + values[(index + 1) % 24] * frac
        return 1.0 + self.depth * (curve - 1.0)

    def live_day_ms(self) -> float:
        return self.day_length_s * 1000.0


class EventClock:
    """Backfill event times: N rows spread over [start, end] by an intensity.

    Position p of N gets the time at which the intensity's integral from `start` reaches
    p/N of its total: the inverse of the cumulative intensity, tabulated on a fine grid.
    Flat: exactly `start + p/N * (end - start)`.
    """

    GRID = 100_000  # 7 days -> 6 s steps; a 1 h window -> 36 ms

    def __init__(self, start_ms: int, end_ms: int, total: int, intensity: Intensity | None) -> None:
        self.start_ms, self.end_ms, self.total = start_ms, end_ms, total
        self._grid: np.ndarray | None = None
        if intensity is not None:
            grid = np.linspace(start_ms, end_ms, self.GRID + 1)
            middle = (grid[:-1] + grid[1:]) / 2
            self._density = np.maximum(intensity(middle), 1e-12)  # keeps the table increasing
            self._cumulative = np.concatenate(([0.0], np.cumsum(self._density)))
            self._grid = grid

    def times(self, positions: np.ndarray) -> np.ndarray:
        """Event time (epoch ms) of each row position."""
        start, end = self.start_ms, self.end_ms
        if self._grid is None:
            return (start + positions / self.total * (end - start)).astype(np.int64)
        target = positions / self.total * self._cumulative[-1]
        return np.interp(target, self._cumulative, self._grid).astype(np.int64)

    def rate_at(self, position: float) -> float:
        """Events per second of event time around row `position`."""
        span_s = max(1e-3, (self.end_ms - self.start_ms) / 1000.0)
        if self._grid is None:
            return self.total / span_s
        at = np.searchsorted(self._cumulative, position / self.total * self._cumulative[-1])
        step = self._density[min(max(int(at) - 1, 0), len(self._density) - 1)]
        return self.total * step / self._cumulative[-1] * self.GRID / span_s


class SendSchedule:
    """When the n-th event of a live run is due: `rate` x intensity, from a wall-clock origin.

    Flat: n / rate seconds. Shaped: the intensity is integrated ahead in blocks of small
    steps (a fraction of a shop hour, at most 1 s), so an incident's edge moves the rate
    within one step; callers ask for increasing n, and old blocks are dropped (memory
    does not grow with the run).
    """

    BLOCK = 2048

    def __init__(
        self, rate: float, intensity: Intensity | None = None, step_s: float = 1.0
    ) -> None:
        self.rate = float(rate)
        self.intensity = intensity
        self.step_s = step_s
        self.origin_ms: int | None = None
        self._blocks: list[tuple[np.ndarray, np.ndarray]] = []  # (seconds, events by then)

    @property
    def flat(self) -> bool:
        return self.intensity is None

    def begin(self, origin_ms: int) -> None:
        """Set the wall-clock time of second 0 (the first call wins)."""
        if self.origin_ms is None:
            self.origin_ms = int(origin_ms)

    def rate_at(self, seconds: float) -> float:
        """Events per second at `seconds` after the origin."""
        if self.intensity is None or self.origin_ms is None:
            return self.rate
        at = np.array([self.origin_ms + seconds * 1000.0])
        return self.rate * float(self.intensity(at)[0])

    def seconds_for(self, events: float) -> float:
        """Seconds after the origin at which `events` events have been due."""
        if self.intensity is None:
            return events / self.rate
        if self.origin_ms is None:
            import time

            self.begin(time.time_ns() // 1_000_000)
        if not self._blocks or events < self._blocks[0][1][0]:
            self._blocks = [self._block(0.0, 0.0)]  # rewind (not met in a normal run)
        while self._blocks[-1][1][-1] < events:
            seconds, cumulative = self._blocks[-1]
            self._blocks.append(self._block(float(seconds[-1]), float(cumulative[-1])))
            self._blocks = self._blocks[-3:]
        for seconds, cumulative in self._blocks:
            if cumulative[-1] >= events:
                at = int(np.searchsorted(cumulative, events, side="left"))
                if at == 0:
                    return float(seconds[0])
                low, high = cumulative[at - 1], cumulative[at]
                frac = (events - low) / (high - low) if high > low else 0.0
                return float(seconds[at - 1] + frac * (seconds[at] - seconds[at - 1]))
        return float(self._blocks[-1][0][-1])  # unreachable: the loop extended far enough

    def _block(self, start_s: float, events: float) -> tuple[np.ndarray, np.ndarray]:
        assert self.intensity is not None and self.origin_ms is not None
        seconds = start_s + np.arange(self.BLOCK + 1) * self.step_s
        middle = self.origin_ms + (seconds[:-1] + self.step_s / 2) * 1000.0
        per_step = self.rate * np.maximum(self.intensity(middle), 0.0) * self.step_s
        return seconds, events + np.concatenate(([0.0], np.cumsum(per_step)))


def live_step_s(shape: TrafficShape) -> float:
    """Integration step of live schedules: 30 s of shop time, at most 1 s of wall time."""
    if shape.is_flat:
        return 1.0
    return min(1.0, shape.day_length_s / 2880.0)
