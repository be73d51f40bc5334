"""Warehouse-test fixtures (the backends themselves are in tests/unit/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shopstream.warehouse import Warehouse


@pytest.fixture
def snapshot() -> Callable[[Warehouse], dict[str, list[dict[str, Any]]]]:
    """Every table's rows (sorted, pipeline bookkeeping of replays excluded) for comparisons."""
    from shopstream.warehouse import TABLES

    def take(wh: Warehouse) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for table in TABLES:
            rows = wh.query(f"SELECT * FROM {table}")
            for r in rows:
                r.pop("replays", None)
                r.pop("last_replayed_at", None)
            out[table] = sorted(rows, key=lambda r: repr(sorted(r.items())))
        return out

    return take
