"""Fixtures of the attack tests: the target endpoint, and Gold held to its promise."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from attack_target import Baseline, Target, hold_gold_to_its_promise


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    served = Target(tmp_path_factory.mktemp("attacked"))
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def baseline(target: Target) -> Baseline:
    return Baseline(target)


@pytest.fixture
def gold_first(target: Target, baseline: Baseline) -> Iterator[None]:
    """After the test's attack, Gold's promise holds (see attack_target)."""
    quiet = baseline.current()
    attacked_from = time.monotonic()
    yield
    hold_gold_to_its_promise(target, quiet, attacked_from)
