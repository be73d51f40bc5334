"""The generator's truth equals an independent recomputation from the produced bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from bronze_reference import classify, recompute

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.incidents import parse_incidents
from shopstream.bronze.noise import Noise, NoiseRates
from shopstream.bronze.truth import compute_truth, read_truth, write_truth
from shopstream.bronze.truth_shop import session_rows
from shopstream.contract import REASONS

NOW_MS = 1_764_086_400_000 + 13 * 3_600_000  # 2025-11-25T13:00Z: backfill crosses midnights
NOW = datetime.fromtimestamp(NOW_MS / 1000, UTC)


def _heavy_noise() -> NoiseRates:
    """Every kind frequent enough to appear many times in a few thousand rows."""
    return NoiseRates(**{k.name.lower(): 0.03 for k in Noise}, duplicate=0.05)


# One of each kind, a window apiece, in a one-day backfill (window start = 12:59 the day before).
EVERY_INCIDENT = parse_incidents(
    [
        "checkout_outage@2h+1h",
        "payment_failures@5h+1h:0.8",
        "bad_release@8h+1h",
        "traffic_spike@11h+1h:x3",
        "traffic_drop@14h+1h:0.2",
    ]
)


def _check(cfg: GeneratorConfig, total: int, batch_size: int = 4096) -> dict:
    gen = EventGenerator(cfg, total_events=total)
    batches, truth = compute_truth(gen, total, batch_size)
    values = [v for b in batches for v in b.values]
    ref = recompute(values, NOW, dict(gen.world.rates), cfg.lateness_horizon_days)

    assert truth["raw"] == ref["raw"] == total
    assert (truth["clean"], truth["duplicates"], truth["unique"]) == (
        ref["clean"],
        ref["duplicates"],
        ref["unique"],
    )
    assert truth["raw"] == truth["clean"] + truth["dead_letter"]["total"]
    assert {r: n for r, n in truth["dead_letter"]["by_reason"].items() if n} == ref["by_reason"]
    assert {t: n for t, n in truth["by_event_type"].items() if n} == ref["by_event_type"]
    assert truth["revenue_total"] == ref["revenue_total"]
    daily = {
        (r["customer_id"], r["event_date"]): (
            r["page_views"],
            r["add_to_cart_count"],
            r["purchase_count"],
            r["total_revenue"],
        )
        for r in truth["customer_daily_metrics"]
    }
    assert daily == ref["customer_daily_metrics"]
    hourly = {
        r["event_hour"]: (
            r["page_views"],
            r["add_to_cart_count"],
            r["purchase_count"],
            r["total_revenue"],
        )
        for r in truth["hourly_metrics"]
    }
    assert hourly == ref["hourly_metrics"]
    products = {
        r["product_id"]: (
            r["page_views"],
            r["add_to_cart_count"],
            r["purchase_count"],
            r["units_sold"],
            r["total_revenue"],
        )
        for r in truth["product_metrics"]
    }
    assert products == ref["product_metrics"]
    sessions = {
        r["session_id"]: (
            r["customer_id"],
            r["device"],
            r["first_event_at"],
            r["last_event_at"],
            r["page_views"],
            r["add_to_cart_count"],
            r["purchase_count"],
            r["units"],
            r["revenue"],
        )
        for r in session_rows(truth["sessions"])
    }
    assert sessions == ref["sessions"]
    assert truth["sessions"]["sessions"] == len(ref["sessions"])
    return truth


def test_truth_matches_reference_with_every_noise_kind_live() -> None:
    cfg = GeneratorConfig(seed=11, customers=300, products=40, noise=_heavy_noise(), now_ms=NOW_MS)
    truth = _check(cfg, 20_000)
    # Every reason code actually occurs, so each rule was exercised against the reference.
    assert all(truth["dead_letter"]["by_reason"][r] > 0 for r in REASONS)
    assert truth["duplicates"] > 0


def test_truth_matches_reference_with_backfill_across_days() -> None:
    cfg = GeneratorConfig(
        seed=5, customers=500, products=60, noise=_heavy_noise(), backfill_days=5, now_ms=NOW_MS
    )
    truth = _check(cfg, 15_000, batch_size=1000)
    dates = {r["event_date"] for r in truth["customer_daily_metrics"]}
    assert len(dates) >= 5


def test_truth_matches_reference_with_default_rates_and_odd_batches() -> None:
    cfg = GeneratorConfig(seed=1, now_ms=NOW_MS, backfill_days=2)
    _check(cfg, 12_345, batch_size=777)


def test_truth_matches_reference_in_seed_compat_mode() -> None:
    cfg = GeneratorConfig(seed=2, seed_compat=True, now_ms=NOW_MS)
    truth = _check(cfg, 4000)
    assert set(truth["keys"]["by_key"]) <= {f"CUST_00{i}" for i in range(1, 6)}


def test_truth_matches_reference_with_another_rate_table() -> None:
    rates = {"USD": Decimal("1"), "EUR": Decimal("1.0837"), "CHF": Decimal("1.1333")}
    cfg = GeneratorConfig(
        seed=9, customers=200, products=30, noise=_heavy_noise(), currency_rates=rates,
        now_ms=NOW_MS,
    )  # fmt: skip
    _check(cfg, 8000)


def test_truth_matches_reference_with_every_incident_kind() -> None:
    cfg = GeneratorConfig(
        seed=6, customers=300, products=40, noise=_heavy_noise(), backfill_days=1,
        incidents=EVERY_INCIDENT, now_ms=NOW_MS,
    )  # fmt: skip
    truth = _check(cfg, 30_000, batch_size=1000)
    incidents = {i["kind"]: i for i in truth["incidents"]}
    assert list(incidents) == [i.kind.value for i in EVERY_INCIDENT]
    assert incidents["checkout_outage"]["purchases_in_window"] == 0  # nothing valid bought
    assert incidents["checkout_outage"]["affected_events"] > 0
    assert incidents["payment_failures"]["reason"] == "missing_amount"
    assert incidents["bad_release"]["reason"] == "invalid_timestamp"
    assert incidents["traffic_spike"]["factor"] == 3.0
    for incident in incidents.values():
        assert incident["wall_time"]["start"] is not None  # backfill: when it was sent


@pytest.mark.parametrize("incidents", [(), EVERY_INCIDENT], ids=["noise", "noise+incidents"])
def test_generator_classification_matches_reference_row_by_row(incidents) -> None:
    cfg = GeneratorConfig(
        seed=4, customers=100, products=20, noise=_heavy_noise(), now_ms=NOW_MS,
        backfill_days=1 if incidents else 0, incidents=incidents,
    )  # fmt: skip
    gen = EventGenerator(cfg, total_events=20_000)
    for batch in gen.batches(20_000, 5000):
        for i, raw in enumerate(batch.values):
            got = classify(raw, NOW, dict(gen.world.rates), cfg.lateness_horizon_days)["reason"]
            assert got == batch.reason_name(i), (raw, batch.noise[i], batch.incident[i])


@pytest.mark.parametrize("suffix", [".json", ".parquet"])
def test_truth_round_trips_through_json_and_parquet(tmp_path, suffix: str) -> None:
    cfg = GeneratorConfig(seed=3, customers=50, products=10, now_ms=NOW_MS)
    _, truth = compute_truth(EventGenerator(cfg), 3000)
    written = write_truth(truth, tmp_path / f"truth{suffix}")
    assert all(p.exists() for p in written)
    back = read_truth(tmp_path / f"truth{suffix}")
    assert back["customer_daily_metrics"] == truth["customer_daily_metrics"]
    assert back["sessions"] == truth["sessions"] and len(session_rows(back["sessions"])) > 100
    assert back["raw"] == truth["raw"] == 3000
