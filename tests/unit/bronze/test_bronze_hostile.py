"""The hostile generator: seeded, every kind present, and each record's declared outcome is
the one the Python reference (Silver's twin) gives it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from shopstream.bronze.hostile import HOSTILE_KINDS, NEAR_MAX, HostileConfig, HostileGenerator
from shopstream.silver.reference import classify

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CONFIG = HostileConfig(
    seed=4, now_ms=int(NOW.timestamp() * 1000), max_message_bytes=200_000, near_max_every=500
)


def test_same_seed_same_records_and_every_kind_appears() -> None:
    first = HostileGenerator(CONFIG).records(3000)
    assert first == HostileGenerator(CONFIG).records(3000)
    assert first != HostileGenerator(HostileConfig(seed=5, now_ms=CONFIG.now_ms)).records(3000)
    kinds = Counter(r.kind for r in first)
    assert set(kinds) == {k.name for k in HOSTILE_KINDS} | {NEAR_MAX.name}
    # Both outcomes occur: hostile is not the same as invalid.
    assert {r.reason is None for r in first} == {True, False}


def test_near_max_records_fill_the_message_limit_without_exceeding_it() -> None:
    near = [r for r in HostileGenerator(CONFIG).records(3000) if r.kind == NEAR_MAX.name]
    assert len(near) == 6
    for r in near:
        size = len(r.value or b"") + len(r.key or b"")
        assert CONFIG.max_message_bytes * 0.99 < size < CONFIG.max_message_bytes


def test_the_reference_gives_every_record_its_declared_outcome() -> None:
    records = HostileGenerator(CONFIG).records(3000)
    wrong = Counter(
        (r.kind, r.reason, got)
        for r in records
        if (got := classify(r.value, now=NOW).reason) != (r.reason and r.reason.value)
    )
    assert not wrong, wrong
