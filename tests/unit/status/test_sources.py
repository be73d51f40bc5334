"""What status reads: offsets from the batch log, and rates of growing counters."""

from __future__ import annotations

import pytest

from shopstream.status.sources import RateTracker, parse_offsets


def test_parse_offsets_accepts_json_and_dicts() -> None:
    assert parse_offsets('{"t":{"0":3,"2":5}}') == {"t": {0: 3, 2: 5}}
    assert parse_offsets({"t": {"1": 2}}) == {"t": {1: 2}}
    assert parse_offsets("not json") == {} and parse_offsets(None) == {}


def test_rate_tracker_measures_growth_over_its_window() -> None:
    t = RateTracker(window=10)
    for i, n in enumerate((0, 100, 300, 300)):
        t.observe({"silver": n, "gold": None}, now=float(i))
    assert t.rate("silver") == pytest.approx(100.0)
    assert t.rate("gold") is None
    assert t.changed_at("silver") == 2.0
