"""Fixed seeds give the very same bytes and truth, release after release.

A seed is a promise: `--seed N` reproduces a run, and a refactor of the generator must
not change a single byte. A change here is a change of behaviour, never a refactor
(record new digests only when the bytes are meant to change, and say so).

Recorded anew when the session model replaced the per-event one (issue 22): sessions,
customers joining the base, the day curve, incidents. `seed_compat`'s messages and rows
kept the digests recorded before the generator was split into modules; its truth digest
changed only by the sections added then (customers, sessions, incidents, the config).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson
import pytest

from shopstream.bronze.generator import EventBatch, EventGenerator, GeneratorConfig
from shopstream.bronze.incidents import parse_incidents
from shopstream.bronze.noise import Noise, NoiseRates
from shopstream.bronze.truth import TruthBuilder

NOW_MS = 1_764_086_400_000 + 13 * 3_600_000  # 2025-11-26T05:00Z
EVENTS = 20_000
# The seed-era columns; the session model's (session, device, ...) are in ARRAYS_SINCE_22.
ARRAYS = ("reason", "duplicate", "noise", "customer", "event_type", "ts_ms", "cents",
          "currency", "product", "quantity", "has_event_id")  # fmt: skip
ARRAYS_SINCE_22 = ("session", "device", "new_customer", "incident")


def _heavy() -> NoiseRates:
    return NoiseRates(**{kind.name.lower(): 0.03 for kind in Noise}, duplicate=0.05)


EVERY_KIND = parse_incidents(
    [
        "checkout_outage@1h+3h",
        "payment_failures@5h+3h",
        "bad_release@9h+3h",
        "traffic_spike@13h+3h",
        "traffic_drop@17h+3h",
    ]
)
CONFIGS: dict[str, GeneratorConfig] = {
    "default_noise": GeneratorConfig(seed=11, now_ms=NOW_MS),
    "heavy_noise": GeneratorConfig(seed=12, now_ms=NOW_MS, noise=_heavy()),
    "small_world_heavy": GeneratorConfig(
        seed=13, now_ms=NOW_MS, customers=50, products=7, noise=_heavy()
    ),
    "seed_compat": GeneratorConfig(seed=14, now_ms=NOW_MS, seed_compat=True),
    "duplicates": GeneratorConfig(
        seed=15, now_ms=NOW_MS, noise=NoiseRates(**{**NoiseRates.none().__dict__, "duplicate": 0.2})
    ),
    "backfill": GeneratorConfig(seed=16, now_ms=NOW_MS, backfill_days=3, noise=_heavy()),
    "incidents": GeneratorConfig(
        seed=17, now_ms=NOW_MS, backfill_days=1, noise=_heavy(), incidents=EVERY_KIND
    ),
    "live_rate": GeneratorConfig(seed=18, now_ms=NOW_MS, rate=1000.0, noise=_heavy()),
}

DIGESTS: dict[str, tuple[str, str, str]] = {
    "default_noise": (
        "03eca958b820260e47448cf94531cc14f52a5365174bf56e0be388f66c6ccf93",
        "cb6a1bccccbd5d6cec4fdd4d9e784097e2016cc532aca131c923d8303992244d",
        "224431a8c11a2a484b09577565d87426bf576bdbe7febd8a574abfe803b4c214",
    ),
    "heavy_noise": (
        "a2992ecf888c58d17c54d6fbad815b396714eb5879b24b5d3f964057214d4ea5",
        "3117e7c1e904e92639bd158da640f24fcd58cb4f019cee56a062549145ad3ced",
        "a023440d73a340007d4a184dc2cd7579f10f9a1feca880eda45e81c51053d17d",
    ),
    "small_world_heavy": (
        "f4faa65871d4ae6e0a546972a113dd5c7b117b96117eefeb3e6b5b3b0d8ca23e",
        "32e6f7e48c6a69e72e5c8eef4ca501b874db816166ca905cdbe7ec22fe8300c3",
        "d33b427583c4ebb6f98a64d7e76a58609d62226bbcf234dda8d5a0ab11f3e155",
    ),
    "seed_compat": (
        "d32499f5194d0d09b4627035fe18671e6714c4a3f4ed48f7f9a07c785ed7344b",
        "929df609050f0f63df5519b1f0cca304187ed875ccd8d22ceda5714e4d2f74e4",
        "daff4631f6da3e93cad854e7f83dae1ced200cdd0e66abb01060697167ea3c75",
    ),
    "duplicates": (
        "12ed8dab9c8038697aab7e93d699c74cc84969203581d0b9b129055cbad165bd",
        "8243861cf072508748e00b21d05d48188808b906f0f4d5cc6ea3c53d8885a65c",
        "aac17b2878d4381544416c3c14208d723c84b347905e92b8926f74a412342612",
    ),
    "backfill": (
        "824f82ceb9640d325a2edae9c77e3d55233ede2d0c54ccab8eb5f948158e2c04",
        "6b39dba60f6a9e10fcb8601dc953f6eb80e500e49fc6ccb032e108c9a606c374",
        "d03c26feff0a6158c3023a1e26658cadd3b12cc08baef1fd52ca6abd52a004d3",
    ),
    "incidents": (
        "b2163b4c6be7a96f9d89c6957c88e081fadd8eba8f208c3ba4d0b15506fce7e5",
        "59650c78709c95e15331285422e325eb0200e7192ab8623e724dc3a5461af5c4",
        "c339078165d7749a844db3c739409af8343f8aab0f3b05994434d26efa4033f3",
    ),
    "live_rate": (
        "787dd52fcf35129e738163453cdd4cf93814d8e3b3f2bae69c4a142c007a1442",
        "7841029124d08b10aa403fd904e2b309059c2f53bfaa25323f046292dc53faf0",
        "93ba45fe17434bbb1b5cf1be22544a6c9c3dcbfd823d5dfe04d90174758b58f5",
    ),
}


def _batches(generator: EventGenerator) -> Iterable[EventBatch]:
    """The run as the producer drives it: fixed-size batches, live ones spread over time."""
    if generator.config.backfill_days:
        yield from generator.batches(EVENTS, 4096)
        return
    while generator.position < EVENTS:
        yield generator.next_batch(min(3000, EVENTS - generator.position), spread_ms=700)


def _digests(generator: EventGenerator) -> tuple[str, str, str]:
    """SHA-256 of (keys and values in order, per-row classification, truth document)."""
    message_hash, rows_hash = hashlib.sha256(), hashlib.sha256()
    truth = TruthBuilder(generator)
    for batch in _batches(generator):
        truth.add(batch)
        for key, value in zip(batch.keys, batch.values, strict=True):
            message_hash.update(b"-" if key is None else b"k%d:%s" % (len(key), key))
            message_hash.update(b"v%d:%s" % (len(value), value))
        for array in ARRAYS if generator.config.seed_compat else ARRAYS + ARRAYS_SINCE_22:
            rows_hash.update(getattr(batch, array).tobytes())
    result = truth.result()
    for incident in result["incidents"]:
        del incident["wall_time"]  # when a backfill's window was sent: the clock, not the seed
    document = orjson.dumps(result, option=orjson.OPT_SORT_KEYS)
    return message_hash.hexdigest(), rows_hash.hexdigest(), hashlib.sha256(document).hexdigest()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fixed_seed_gives_the_recorded_bytes_and_truth(name: str) -> None:
    generator = EventGenerator(CONFIGS[name], total_events=EVENTS)
    assert _digests(generator) == DIGESTS[name]
