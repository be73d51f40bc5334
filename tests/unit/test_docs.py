"""The README's reason-code table is the contract's, in the contract's order."""

from __future__ import annotations

import re
from pathlib import Path

from shopstream.contract import REASON_DESCRIPTIONS, REASONS, Reason

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reason_table_matches_contract() -> None:
    rows = re.findall(r"^\| (\d+) \| `([a-z_]+)` \| (.+?) \|$", README.read_text(), re.M)
    assert [code for _, code, _ in rows] == list(REASONS)
    assert [int(n) for n, _, _ in rows] == list(range(1, len(REASONS) + 1))
    for _, code, text in rows:
        assert text == REASON_DESCRIPTIONS[Reason(code)]
