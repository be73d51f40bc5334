"""The README states the contract as contract.py declares it: reason codes, customer tiers."""

from __future__ import annotations

import re
from pathlib import Path

from shopstream.contract import REASON_DESCRIPTIONS, REASONS, TIER_MIN_REVENUE, Reason

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reason_table_matches_contract() -> None:
    rows = re.findall(r"^\| (\d+) \| `([a-z_]+)` \| (.+?) \|$", README.read_text(), re.M)
    assert [code for _, code, _ in rows] == list(REASONS)
    assert [int(n) for n, _, _ in rows] == list(range(1, len(REASONS) + 1))
    for _, code, text in rows:
        assert text == REASON_DESCRIPTIONS[Reason(code)]


def test_readme_states_the_contract_customer_tiers() -> None:
    *ranked, (lowest, _) = TIER_MIN_REVENUE.items()
    tiers = ", ".join(f"{tier} ≥ {low}" for tier, low in ranked) + f", else {lowest}"
    assert f"tiers {tiers}" in README.read_text()
