"""Generator behaviour: reproducible, realistic shape, noise as configured, clear errors."""

from __future__ import annotations

import re

import orjson
import pytest

from shopstream.bronze.encoding import random_uuids
from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.noise import Noise, NoiseRates
from shopstream.errors import ConfigError

NOW_MS = 1_764_133_200_000
UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _rows(cfg: GeneratorConfig, n: int, total: int | None = None) -> list[bytes]:
    gen = EventGenerator(cfg, total_events=total)
    return [v for b in gen.batches(n, 1000) for v in b.values]


def test_same_seed_same_bytes_and_different_seed_different_bytes() -> None:
    cfg = GeneratorConfig(seed=42, now_ms=NOW_MS)
    assert _rows(cfg, 3000) == _rows(cfg, 3000)
    assert _rows(cfg, 3000) != _rows(GeneratorConfig(seed=43, now_ms=NOW_MS), 3000)


def test_canonical_events_follow_the_contract_shape() -> None:
    gen = EventGenerator(GeneratorConfig(seed=1, noise=NoiseRates.none(), now_ms=NOW_MS))
    batch = gen.next_batch(5000)
    for raw, key in zip(batch.values, batch.keys, strict=True):
        ev = orjson.loads(raw)
        assert UUID_RE.fullmatch(ev["event_id"].encode())
        assert ev["event_type"] in ("PAGE_VIEW", "ADD_TO_CART", "PURCHASE")
        assert key == ev["customer_id"].encode()  # the Kafka key is the customer id
        assert ev["event_timestamp"].endswith("Z")
        assert ev["device"] in ("mobile", "desktop", "tablet")
        if ev["event_type"] == "PAGE_VIEW":
            assert "amount" not in ev and "currency" not in ev
        else:
            assert ev["amount"] > 0 and 1 <= ev["quantity"] <= 5
            assert ev["currency"] in gen.world.currencies
    assert len({orjson.loads(v)["event_id"] for v in batch.values}) == 5000


def test_purchases_follow_a_cart_of_the_same_session_and_product() -> None:
    # From an empty shop: an open one's first purchases may follow carts before its start.
    cfg = GeneratorConfig(seed=3, noise=NoiseRates.none(), now_ms=NOW_MS, warm_start_s=0)
    gen = EventGenerator(cfg)
    carts: set[tuple[str, str]] = set()
    for raw in gen.next_batch(20_000).values:
        ev = orjson.loads(raw)
        pair = (ev["session_id"], ev["product_id"])
        if ev["event_type"] == "ADD_TO_CART":
            carts.add(pair)
        elif ev["event_type"] == "PURCHASE":
            assert pair in carts


def test_each_noise_kind_is_injected_at_its_rate() -> None:
    rates = NoiseRates(**{k.name.lower(): 0.0 for k in Noise}, duplicate=0.0)
    for kind in Noise:
        cfg = GeneratorConfig(
            seed=2, customers=200, products=20, now_ms=NOW_MS,
            noise=NoiseRates(**{**rates.__dict__, kind.name.lower(): 0.1}),
        )  # fmt: skip
        batch = EventGenerator(cfg).next_batch(10_000)
        share = (batch.noise == kind).mean()
        assert share == pytest.approx(0.1, abs=0.015), kind


def test_duplicates_resend_identical_bytes_after_the_original() -> None:
    cfg = GeneratorConfig(seed=8, customers=100, products=10, now_ms=NOW_MS,
                          noise=NoiseRates(duplicate=0.1))  # fmt: skip
    gen = EventGenerator(cfg)
    seen: dict[bytes, int] = {}
    dups = 0
    for batch in gen.batches(20_000, 4000):
        for raw, dup in zip(batch.values, batch.duplicate.tolist(), strict=True):
            if dup:
                assert raw in seen  # the original was sent earlier (same or earlier batch)
                dups += 1
            elif raw.startswith(b'{"event_id"'):
                seen[raw] = 1
    assert dups == pytest.approx(2000, rel=0.1)


def test_lowercase_and_padded_types_are_valid_variants() -> None:
    only_variants = NoiseRates(**{**NoiseRates.none().__dict__, "type_variant": 1.0})
    cfg = GeneratorConfig(seed=5, now_ms=NOW_MS, noise=only_variants)
    batch = EventGenerator(cfg).next_batch(500)
    types = {orjson.loads(v)["event_type"] for v in batch.values}
    assert any(t != t.upper() for t in types) and any(t != t.strip() for t in types)
    assert (batch.reason < 0).all()


def test_backfill_spreads_over_the_window_and_respects_the_horizon() -> None:
    cfg = GeneratorConfig(seed=1, backfill_days=3, noise=NoiseRates.none(), now_ms=NOW_MS)
    gen = EventGenerator(cfg, total_events=30_000)
    ts = [t for b in gen.batches() for t in b.ts_ms.tolist()]
    assert NOW_MS - 3 * 86_400_000 - 60_000 <= min(ts) < NOW_MS - 2.9 * 86_400_000
    assert NOW_MS - 3_600_000 < max(ts) < NOW_MS


def test_backfill_at_the_horizon_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="lateness horizon"):
        GeneratorConfig(backfill_days=7)
    with pytest.raises(ConfigError, match="--events"):
        EventGenerator(GeneratorConfig(backfill_days=2))


def test_noise_rates_must_be_probabilities() -> None:
    with pytest.raises(ConfigError):
        NoiseRates(malformed_json=1.5)
    with pytest.raises(ConfigError, match="add up"):
        NoiseRates(malformed_json=0.6, null_customer=0.6)


def test_seed_compat_reproduces_the_seed_shape() -> None:
    gen = EventGenerator(GeneratorConfig(seed=1, seed_compat=True, now_ms=NOW_MS))
    batch = gen.next_batch(8000)
    events = [orjson.loads(v) for v in batch.values]
    assert {e["customer_id"] for e in events} - {None} == {f"CUST_00{i}" for i in range(1, 6)}
    assert all(
        list(e) == ["event_id", "customer_id", "event_type", "amount", "currency",
                    "event_timestamp", "is_valid", "invalid_field"]
        for e in events
    )  # fmt: skip
    invalid = [e for e in events if not e["is_valid"]]
    assert len(invalid) / len(events) == pytest.approx(0.25, abs=0.02)
    assert {e["invalid_field"] for e in invalid} == {
        "customer_id",
        "event_type",
        "amount",
        "currency",
    }
    assert {e["event_type"] for e in events} == {
        "PAGE_VIEW",
        "ADD_TO_CART",
        "PURCHASE",
        "CLICK",
        "VIEW",
        "PAY",
    }
    assert (batch.reason >= 0).sum() == len(invalid)


def test_random_uuids_are_version_4() -> None:
    import numpy as np

    ids = random_uuids(np.random.default_rng(0), 1000).tolist()
    assert all(UUID_RE.fullmatch(i) for i in ids) and len(set(ids)) == 1000
