"""Dashboard fixtures: a real DuckDB warehouse filled through `commit_batch` with a small,
known dataset (dash_data.py), and settings whose Kafka is a closed port (unreachable at once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dash_data import fill

from shopstream.config import Settings, load_settings
from shopstream.infra.ports import free_port
from shopstream.warehouse import Warehouse, open_warehouse


@pytest.fixture
def offline_settings(tmp_path: Path) -> Settings:
    """A home under tmp_path; Kafka points at a port nobody listens on."""
    return load_settings(
        home=tmp_path / "home",
        kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"},
        pipeline={"stall_seconds": 5},
    )


@pytest.fixture
def filled_wh(offline_settings: Settings) -> Iterator[Warehouse]:
    """The writer's warehouse holding the known dataset."""
    wh = open_warehouse(offline_settings)
    try:
        wh.init()
        fill(wh)
        yield wh
    finally:
        wh.close()
