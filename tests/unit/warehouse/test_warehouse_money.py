"""Money at the edges: the largest amount Silver accepts, many times in one customer-day,
sums exactly in every gold table and view; older DECIMAL(18,2) totals are widened in place;
`sql --format json` and the dashboard API print every digit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from wh_data import T0, events_table, make_event

from shopstream.cli.warehouse import register
from shopstream.config import load_settings
from shopstream.contract import AMOUNT_PRECISION, AMOUNT_SCALE, TOTAL_SQL_TYPE
from shopstream.dashboard.app import create_app
from shopstream.warehouse import BatchMeta, Warehouse, open_warehouse

# The largest amount that fits the contract's DECIMAL(18,2): 9999999999999999.99.
MAX_AMOUNT = Decimal(10 ** (AMOUNT_PRECISION - AMOUNT_SCALE)) - Decimal(1).scaleb(-AMOUNT_SCALE)
PURCHASES_PER_BATCH = 300
API_PURCHASES = 7
BATCHES = 2

TOTALS = {
    "customer_daily_metrics": "SELECT total_revenue FROM customer_daily_metrics",
    "hourly_metrics": "SELECT total_revenue FROM hourly_metrics",
    "product_daily_metrics": "SELECT total_revenue FROM product_daily_metrics",
    "kpis": "SELECT total_revenue FROM kpis",
    "top_customers": "SELECT total_revenue FROM top_customers",
    "daily_customer_revenue": "SELECT revenue FROM daily_customer_revenue",
    "hourly_trends": "SELECT revenue FROM hourly_trends WHERE event_type = 'PURCHASE'",
    "revenue_by_category": "SELECT revenue FROM revenue_by_category",
}


def _max_purchases(batch: int) -> list[dict[str, object]]:
    return [
        make_event(f"b{batch}-{n}", "PURCHASE", "whale", T0, MAX_AMOUNT)
        for n in range(PURCHASES_PER_BATCH)
    ]


def _commit_max_purchases(wh: Warehouse) -> None:
    for batch in range(BATCHES):
        meta = BatchMeta("gold", "q", batch)
        wh.commit_batch(events_table(_max_purchases(batch)), None, meta)


def test_maximal_amounts_in_one_customer_day_sum_exactly_everywhere(any_wh: Warehouse) -> None:
    _commit_max_purchases(any_wh)

    expected = MAX_AMOUNT * PURCHASES_PER_BATCH * BATCHES
    assert expected > MAX_AMOUNT * 2  # far beyond what a DECIMAL(18,2) total can hold
    for name, sql in TOTALS.items():
        (row,) = any_wh.query(sql)
        assert next(iter(row.values())) == expected, name


def test_init_widens_decimal_18_totals_keeping_rows(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_warehouse(load_settings(home=home)) as wh:
        wh.init()
    # Narrow the totals back to the release before, keeping one row in each table.
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    for table in ("customer_daily_metrics", "hourly_metrics", "product_daily_metrics"):
        con.execute(f"ALTER TABLE {table} ALTER COLUMN total_revenue TYPE DECIMAL(18, 2)")
    con.close()
    with open_warehouse(load_settings(home=home)) as wh:
        wh.commit_batch(events_table(_max_purchases(-1)[:1]), None, BatchMeta("gold", "q", 9))
    app = typer.Typer()
    register(app)

    result = CliRunner().invoke(app, ["warehouse", "init", "--home", str(home)])

    assert result.exit_code == 0, result.output
    widened = [line for line in result.output.splitlines() if line.startswith("migrated")]
    assert len(widened) == 3 and all(line.endswith(TOTAL_SQL_TYPE) for line in widened)
    with open_warehouse(load_settings(home=home)) as wh:
        assert wh.init() == []
        _commit_max_purchases(wh)
        (row,) = wh.query(TOTALS["customer_daily_metrics"])
        assert row["total_revenue"] == MAX_AMOUNT * (PURCHASES_PER_BATCH * BATCHES + 1)


def test_sql_json_prints_every_digit_of_money(tmp_path: Path) -> None:
    with open_warehouse(load_settings(home=tmp_path)) as wh:
        wh.init()
        _commit_max_purchases(wh)
    app = typer.Typer()
    register(app)

    result = CliRunner().invoke(
        app, ["sql", "SELECT total_revenue FROM kpis", "--format", "json", "--home", str(tmp_path)]
    )

    assert result.exit_code == 0, result.output
    expected = MAX_AMOUNT * PURCHASES_PER_BATCH * BATCHES
    # A JSON number with every digit: exact when parsed as a decimal, and the text itself.
    assert json.loads(result.output, parse_float=Decimal) == [{"total_revenue": expected}]
    assert f"{expected:f}" in result.output


@pytest.fixture
def api_client(tmp_path: Path) -> Iterator[TestClient]:
    # Kafka unreachable on purpose: the API still serves the warehouse's figures.
    settings = load_settings(home=tmp_path, kafka={"bootstrap_servers": "127.0.0.1:9"})
    with open_warehouse(settings) as wh:
        wh.init()
        sales = [
            make_event(f"e{n}", "PURCHASE", "whale", T0, MAX_AMOUNT, category="yachts")
            for n in range(API_PURCHASES)
        ]
        wh.commit_batch(events_table(sales), None, BatchMeta("gold", "q", 0))
        with TestClient(create_app(settings, warehouse=wh), base_url="http://127.0.0.1") as c:
            yield c


def test_every_money_figure_of_the_dashboard_api_has_every_digit(api_client: TestClient) -> None:
    total = f"{MAX_AMOUNT * API_PURCHASES:f}"
    overview = api_client.get("/api/overview").json()

    assert api_client.get("/api/kpis").json()["total_revenue"] == total
    assert [r["total_revenue"] for r in api_client.get("/api/hourly").json()] == [total]
    assert [r["total_revenue"] for r in api_client.get("/api/top-customers").json()] == [total]
    assert [r["revenue"] for r in api_client.get("/api/categories").json()] == [total]
    assert overview["kpis"]["total_revenue"] == total
    assert overview["top_customers"][0]["total_revenue"] == total
