"""The same API over Snowflake (fakesnow, through the real connector path) as over DuckDB."""

from __future__ import annotations

from typing import Any

import pytest
from dash_data import add_alerts, fill
from fastapi.testclient import TestClient

from shopstream.config import Settings
from shopstream.dashboard import create_app
from shopstream.warehouse import Warehouse

ENDPOINTS = (
    "/api/kpis",
    "/api/funnel",
    "/api/hourly",
    "/api/top-customers",
    "/api/categories",
    "/api/dead-letters",
    "/api/alerts",
)


def without_commit_times(body: Any) -> Any:
    """The two warehouses were filled moments apart: commit timestamps differ, nothing else."""
    if isinstance(body, dict):
        return {k: without_commit_times(v) for k, v in body.items() if k != "updated_at"}
    if isinstance(body, list):
        return [without_commit_times(v) for v in body]
    return body


@pytest.fixture
def snow_wh(fake_snow_wh: Warehouse, snowflake_settings: Settings) -> tuple[Settings, Warehouse]:
    """The known dataset in a fakesnow account."""
    fill(fake_snow_wh)
    return snowflake_settings, fake_snow_wh


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_snowflake_api_equals_duckdb_api(
    snow_wh: tuple[Settings, Warehouse], offline_settings: Settings, filled_wh: Warehouse
) -> None:
    snow_settings, snow = snow_wh
    for wh in (snow, filled_wh):
        add_alerts(wh)
    with (
        TestClient(create_app(snow_settings, warehouse=snow), base_url="http://127.0.0.1") as sf,
        TestClient(
            create_app(offline_settings, warehouse=filled_wh), base_url="http://127.0.0.1"
        ) as duck,
    ):
        for path in ENDPOINTS:
            got, want = sf.get(path), duck.get(path)
            assert got.status_code == want.status_code == 200, path
            assert without_commit_times(got.json()) == without_commit_times(want.json()), path
        doc = sf.get("/api/status").json()
    assert doc["unique"] == 13 and doc["duplicates"] == 1
    assert doc["warehouse_info"]["kind"] == "snowflake"
