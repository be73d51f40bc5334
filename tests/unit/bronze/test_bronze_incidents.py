"""Incidents: the flag's grammar, and each kind's effect inside its window and not outside."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from shopstream.bronze.batch import (
    ADD_TO_CART,
    HOUR_MS,
    PAGE_VIEW,
    PURCHASE,
    REASON_INDEX,
    EventBatch,
)
from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.incidents import (
    IncidentKind,
    parse_duration,
    parse_incident,
    parse_incidents,
)
from shopstream.bronze.noise import NoiseRates
from shopstream.bronze.traffic import TrafficShape
from shopstream.bronze.truth import TruthBuilder
from shopstream.contract import Reason
from shopstream.errors import ConfigError

NOW_MS = 1_764_086_400_000 + 13 * HOUR_MS  # 2025-11-26T05:00Z


def _backfill(
    specs: list[str], events: int = 120_000, seed: int = 1
) -> tuple[EventGenerator, EventBatch, dict]:
    """A flat one-day backfill without noise, so an incident is all that changes rows."""
    cfg = GeneratorConfig(
        seed=seed, backfill_days=1, traffic=TrafficShape.flat(), noise=NoiseRates.none(),
        incidents=parse_incidents(specs), now_ms=NOW_MS,
    )  # fmt: skip
    gen = EventGenerator(cfg, total_events=events)
    truth = TruthBuilder(gen)
    batches = []
    for batch in gen.batches(events, 4096):
        truth.add(batch)
        batches.append(batch)
    return gen, EventBatch.concat(batches), truth.result()


def _share(mask: np.ndarray, of: np.ndarray) -> float:
    return float((mask & of).sum() / of.sum())


@pytest.mark.parametrize(
    ("text", "kind", "start", "length", "magnitude"),
    [
        ("checkout_outage@5m+2m", IncidentKind.CHECKOUT_OUTAGE, 300, 120, 1.0),
        ("traffic_spike@1h30m+90s:x3", IncidentKind.TRAFFIC_SPIKE, 5400, 90, 3.0),
        ("bad_release@0+10m:30%", IncidentKind.BAD_RELEASE, 0, 600, 0.3),
        ("payment_failures@90+60:0.8", IncidentKind.PAYMENT_FAILURES, 90, 60, 0.8),
        ("Traffic_Drop@2m+250ms", IncidentKind.TRAFFIC_DROP, 120, 0.25, 0.25),
    ],
)
def test_incident_flags_parse(text, kind, start, length, magnitude) -> None:
    incident = parse_incident(text)
    assert (incident.kind, incident.start_s, incident.duration_s) == (kind, start, length)
    assert incident.magnitude == pytest.approx(magnitude)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("checkout@5m+2m", "unknown kind 'checkout'; use one of checkout_outage, payment"),
        ("traffic_spike@5m", "not of the form KIND@START+DURATION"),
        ("traffic_spike@5m+2m:0.5", "traffic_spike's factor must be in (1, 100]"),
        ("traffic_drop@5m+2m:x1", "traffic_drop's factor must be in [0, 1)"),
        ("bad_release@5q+2m", "'5q' is not a duration"),
        ("bad_release@1m+0s", "the duration must be positive"),
        ("payment_failures@1m+1m:half", "magnitude 'half' is not a share"),
    ],
)
def test_a_bad_incident_flag_names_the_fix(text, message) -> None:
    with pytest.raises(ConfigError, match="--incident") as err:
        parse_incident(text)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90s", "5m", "1h30m", "250ms", "2", "1d")] == [
        90, 300, 5400, 0.25, 2, 86_400,
    ]  # fmt: skip


def test_checkout_outage_stops_purchases_and_views_go_on() -> None:
    gen, batch, truth = _backfill(["checkout_outage@6h+2h"])
    inside = gen.windows[0].contains(batch.ts_ms)
    valid = batch.reason < 0
    assert not (inside & valid & (batch.event_type == PURCHASE)).any()
    outside = ~inside
    per_row_inside = (inside & (batch.event_type == PAGE_VIEW)).sum() / inside.sum()
    assert per_row_inside > 0.95  # views (and the failed checkouts, as views) go on
    assert _share(batch.event_type == ADD_TO_CART, inside) == pytest.approx(
        _share(batch.event_type == ADD_TO_CART, outside), rel=0.15
    )
    assert _share(batch.event_type == PURCHASE, outside) > 0.004
    assert inside.sum() / len(batch) == pytest.approx(2 / 24, rel=0.03)  # same traffic
    incident = truth["incidents"][0]
    assert incident["purchases_in_window"] == 0
    assert incident["affected_events"] == (batch.incident == 0).sum() > 50
    assert gen.clock is not None and gen.windows[0].start_ms == gen.clock.start_ms + 6 * HOUR_MS
    assert incident["event_time"]["start"].endswith("10:59:00.000Z")  # backfill start + 6 h


def test_payment_failures_dead_letter_a_share_of_purchases_as_missing_amount() -> None:
    gen, batch, truth = _backfill(["payment_failures@6h+12h:0.5"])
    inside = gen.windows[0].contains(batch.ts_ms)
    purchases = batch.event_type == PURCHASE
    missing = batch.reason == REASON_INDEX[Reason.MISSING_AMOUNT]
    assert (inside & purchases).sum() > 300
    assert _share(missing, inside & purchases) == pytest.approx(0.5, abs=0.08)
    assert not (missing & ~inside).any() and (batch.reason[~missing] < 0).all()
    row = orjson.loads(batch.values[int(np.flatnonzero(missing)[0])])
    assert row["event_type"] == "PURCHASE" and "amount" not in row and "currency" not in row
    assert truth["dead_letter"]["by_reason"]["missing_amount"] == int(missing.sum())


def test_a_bad_release_breaks_the_timestamp_of_a_share_of_all_events() -> None:
    gen, batch, truth = _backfill(["bad_release@2h+2h"])
    inside = gen.windows[0].contains(batch.ts_ms)
    broken = batch.reason == REASON_INDEX[Reason.INVALID_TIMESTAMP]
    assert _share(broken, inside) == pytest.approx(0.3, abs=0.03)
    assert not (broken & ~inside).any()
    for event_type in (PAGE_VIEW, ADD_TO_CART):
        assert (broken & (batch.event_type == event_type)).any()
    spelled = orjson.loads(batch.values[int(np.flatnonzero(broken)[0])])["event_timestamp"]
    assert spelled[2] == "/" and spelled[5] == "/" and "T" not in spelled
    assert truth["incidents"][0]["reason"] == "invalid_timestamp"


@pytest.mark.parametrize(
    ("spec", "factor"), [("traffic_spike@6h+2h:x3", 3.0), ("traffic_drop@6h+2h", 0.25)]
)
def test_traffic_incidents_change_event_time_density_in_their_window(spec, factor) -> None:
    gen, batch, truth = _backfill([spec])
    window = gen.windows[0]
    inside = window.contains(batch.ts_ms)
    hours_inside, hours_outside = 2.0, 22.0
    ratio = (inside.sum() / hours_inside) / ((~inside).sum() / hours_outside)
    assert ratio == pytest.approx(factor, rel=0.05)
    assert truth["incidents"][0]["events_in_window"] == int(
        (inside & (batch.reason < 0) & ~batch.duplicate).sum()
    )
    if factor > 1:  # sessions look as usual: purchases per event inside are as outside
        purchases = batch.event_type == PURCHASE
        assert _share(purchases, inside) == pytest.approx(_share(purchases, ~inside), rel=0.3)


def test_live_incidents_count_from_the_run_start() -> None:
    clock = [NOW_MS]
    cfg = GeneratorConfig(
        seed=4, rate=1000.0, start_ms=NOW_MS - 60_000, noise=NoiseRates.none(),
        incidents=parse_incidents(["checkout_outage@2m+3m"]),
    )  # fmt: skip
    gen = EventGenerator(cfg, clock_ms=lambda: clock[0])
    window = gen.windows[0]
    assert (window.start_ms, window.end_ms) == (NOW_MS + 60_000, NOW_MS + 240_000)
    truth = TruthBuilder(gen)
    bought_at = []
    while clock[0] < NOW_MS + 360_000:
        batch = gen.next_batch(1000, 1000)
        truth.add(batch)
        bought_at += batch.ts_ms[(batch.event_type == PURCHASE) & (batch.reason < 0)].tolist()
        clock[0] += 1000
    bought = np.array(bought_at)
    assert not window.contains(bought).any()
    assert (bought < window.start_ms).any() and (bought >= window.end_ms).any()
    incident = truth.result()["incidents"][0]
    assert incident["wall_time"] == incident["event_time"]  # live: event time is wall time


def test_incidents_that_cannot_happen_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="give --rate R"):
        GeneratorConfig(incidents=parse_incidents(["traffic_spike@1m+1m"]))
    with pytest.raises(ConfigError, match="drop --seed-compat"):
        GeneratorConfig(seed_compat=True, incidents=parse_incidents(["bad_release@1m+1m"]))
    with pytest.raises(ConfigError, match="does not fit the backfill of 86400 s"):
        GeneratorConfig(backfill_days=1, incidents=parse_incidents(["bad_release@23h+2h"]))
