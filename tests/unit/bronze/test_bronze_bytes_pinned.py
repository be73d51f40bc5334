"""Fixed seeds give the very same bytes and truth, release after release.

A seed is a promise: `--seed N` reproduces a run, and a refactor of the generator must
not change a single byte. The digests below were recorded from the generator as it was
before it was split into modules; a change here is a change of behaviour, never a
refactor (record new digests only when the bytes are meant to change, and say so).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson
import pytest

from shopstream.bronze.generator import EventBatch, EventGenerator, GeneratorConfig
from shopstream.bronze.noise import Noise, NoiseRates
from shopstream.bronze.truth import TruthBuilder

NOW_MS = 1_764_086_400_000 + 13 * 3_600_000  # 2025-11-25T13:00Z
EVENTS = 20_000
ARRAYS = ("reason", "duplicate", "noise", "customer", "event_type", "ts_ms", "cents",
          "currency", "product", "quantity", "has_event_id")  # fmt: skip


def _heavy() -> NoiseRates:
    return NoiseRates(**{kind.name.lower(): 0.03 for kind in Noise}, duplicate=0.05)


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
}

# Recorded from the unchanged generator (before the split into modules).
DIGESTS: dict[str, tuple[str, str, str]] = {
    "default_noise": (
        "61a9a6f7c06b370d0b6bd2977efcef1f859178995a8b49cbc7bb88a00265cf7d",
        "b7104e72ea94a68308de8fb741c1612fa12203de05239994c58e85dd93ccaf8f",
        "8e509c56cffd2bd39b421c6b141b91b4098964da2a43c025deffd4abea0448a2",
    ),
    "heavy_noise": (
        "4a7f843feb3ad90b5b48993b7d5c6f1cad96796c186baf7cf14d1bb1a98a0970",
        "a1631eb907e9029696eaae9e697463362b29485c7dff04f46751173306ae6b0d",
        "fb4f23455541721bfa4e8941594e8991cf80ed0d3249932ecfcf6647a6765f12",
    ),
    "small_world_heavy": (
        "5bb07e756e5355aafc92b38478a6cf9a52fa9cd8c5f45e9af69edfeb57be7963",
        "d2e273f28dbf442d7c27b3ef60abeabbb9f801e80d6f0f8314d7e5ed88cecceb",
        "26274ac7c9a5561e426c213aa3dddc31e458aa2d9e3a726f85b61b426b21eaed",
    ),
    "seed_compat": (
        "d32499f5194d0d09b4627035fe18671e6714c4a3f4ed48f7f9a07c785ed7344b",
        "929df609050f0f63df5519b1f0cca304187ed875ccd8d22ceda5714e4d2f74e4",
        "f2662292f9fbdde3a4c0c731f1c8c188d25532bab7aad7bea838bdce91d9b015",
    ),
    "duplicates": (
        "07c1fa3beeac3a5c378b6fc01880f625f98edbb81eab1634585d64326c5df3a7",
        "9e5491a3f2d3866d1adb70156101091b72586ae2f7a253ecfa09ab5616e91c8b",
        "0a3ee50e3df79bd9f9981b85e4f377f981be54035c2849b37f59df3a51fc33b9",
    ),
    "backfill": (
        "99280d0c4285879b65d1030fdc75073909a340e5acca85634d2189ebe37457ce",
        "9a2eb9458f8dc3b1cd5995d723a568dac7070e644e4d40b4af050d532ab81af7",
        "010a97e25081c622541f931c070b482fab663a6b5ceec897964768c0073e52f4",
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
        for array in ARRAYS:
            rows_hash.update(getattr(batch, array).tobytes())
    document = orjson.dumps(truth.result(), option=orjson.OPT_SORT_KEYS)
    return message_hash.hexdigest(), rows_hash.hexdigest(), hashlib.sha256(document).hexdigest()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fixed_seed_gives_the_recorded_bytes_and_truth(name: str) -> None:
    generator = EventGenerator(CONFIGS[name], total_events=EVENTS)
    assert _digests(generator) == DIGESTS[name]
