"""`served`: a filled DuckDB warehouse served by a real SqlEndpoint on a free port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sql_served import RELATIONS, Served, fill, order_by_all, sql_json

from shopstream.config import load_settings
from shopstream.sqlendpoint import SqlEndpoint, endpoint_password
from shopstream.warehouse import open_warehouse
from shopstream.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("pg-home")
    settings = load_settings(home=home, sql={"port": 0, "statement_timeout_seconds": 2})
    with open_warehouse(settings) as wh:
        fill(wh)  # type: ignore[arg-type]
    expected = {r: sql_json(home, order_by_all(r)) for r in RELATIONS}
    wh = open_warehouse(settings)
    assert isinstance(wh, DuckDBWarehouse)
    endpoint = SqlEndpoint(wh, settings).start()
    password = endpoint_password(settings)
    assert password
    try:
        yield Served(home, settings, wh, endpoint, password, expected)
    finally:
        endpoint.stop()
        wh.close()
