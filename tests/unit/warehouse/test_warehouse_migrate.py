"""`warehouse init` brings a warehouse created by an earlier release to the current schema,
keeping its rows: a real DuckDB file and a fakesnow account built with the old DDL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import typer
from typer.testing import CliRunner
from wh_data import T0, events_table, make_event

from shopstream.cli.warehouse import register
from shopstream.config import Settings, load_settings
from shopstream.contract import TOTAL_SQL_TYPE
from shopstream.warehouse import BatchMeta, Warehouse, open_warehouse

# product_daily_metrics as the release before the rename created it.
LEGACY_PRODUCT_DDL = """
CREATE TABLE product_daily_metrics (
    product_id VARCHAR NOT NULL,
    event_date DATE NOT NULL,
    category VARCHAR,
    views BIGINT NOT NULL,
    carts BIGINT NOT NULL,
    purchases BIGINT NOT NULL,
    units_sold BIGINT NOT NULL,
    revenue DECIMAL(18, 2) NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (product_id, event_date)
)
"""
LEGACY_ROWS = [
    ("p1", T0.date(), "books", 7, 3, 2, 3, Decimal("45.50")),
    ("p2", date(2026, 11, 19), None, 1, 0, 0, 0, Decimal("0.00")),
]
RENAMES = [
    "product_daily_metrics.views -> page_views",
    "product_daily_metrics.carts -> add_to_cart_count",
    "product_daily_metrics.purchases -> purchase_count",
    "product_daily_metrics.revenue -> total_revenue",
]
CURRENT = (
    "SELECT product_id, event_date, category, page_views, add_to_cart_count, purchase_count, "
    "units_sold, total_revenue FROM product_daily_metrics ORDER BY product_id"
)


def _legacy_inserts() -> list[str]:
    return [
        "INSERT INTO product_daily_metrics VALUES ("
        f"'{p}', DATE '{d}', {f'{c!r}' if c else 'NULL'}, {v}, {a}, {b}, {u}, {r}, "
        "TIMESTAMP '2026-11-20 10:00:00')"
        for p, d, c, v, a, b, u, r in LEGACY_ROWS
    ]


def _product_rows(wh: Warehouse) -> list[tuple[object, ...]]:
    return [tuple(r.values()) for r in wh.query(CURRENT)]


def _columns(wh: Warehouse) -> list[str]:
    names, _ = wh.query_rows("SELECT * FROM product_daily_metrics WHERE 1 = 0")
    return names


def _fresh_columns(tmp_path: Path) -> list[str]:
    with open_warehouse(load_settings(home=tmp_path / "fresh")) as wh:
        wh.init()
        return _columns(wh)


def _assert_migrated_and_usable(wh: Warehouse, tmp_path: Path) -> None:
    assert _product_rows(wh) == [tuple(row[:8]) for row in LEGACY_ROWS]
    assert _columns(wh) == _fresh_columns(tmp_path)
    # Gold's upsert adds onto the migrated row.
    sale = make_event("e1", "PURCHASE", "c9", amount="10.00", product_id="p1", quantity=2)
    wh.commit_batch(events_table([sale]), None, BatchMeta("gold", "q", 0))
    p1 = wh.query(CURRENT)[0]
    assert (p1["purchase_count"], p1["units_sold"], p1["total_revenue"]) == (3, 5, Decimal("55.50"))


def test_init_renames_old_duckdb_columns_keeping_rows(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute(LEGACY_PRODUCT_DDL)
    for insert in _legacy_inserts():
        con.execute(insert)
    con.close()
    app = typer.Typer()
    register(app)

    result = CliRunner().invoke(app, ["warehouse", "init", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert [line.removeprefix("migrated ") for line in result.output.splitlines()[:4]] == RENAMES

    again = CliRunner().invoke(app, ["warehouse", "init", "--home", str(home)])
    assert again.exit_code == 0 and "migrated" not in again.output
    with open_warehouse(load_settings(home=home)) as wh:
        _assert_migrated_and_usable(wh, tmp_path)


def test_init_renames_old_snowflake_columns_keeping_rows(
    fakesnow_patch: None, snowflake_settings: Settings, tmp_path: Path
) -> None:
    with open_warehouse(snowflake_settings) as wh:
        wh.query(LEGACY_PRODUCT_DDL)
        for insert in _legacy_inserts():
            wh.query(insert)

        # The legacy table's DECIMAL(18,2) revenue is also widened to the contract's total.
        assert wh.init() == [*RENAMES, f"product_daily_metrics.total_revenue -> {TOTAL_SQL_TYPE}"]
        assert wh.init() == []
        _assert_migrated_and_usable(wh, tmp_path)
