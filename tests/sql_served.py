"""A DuckDB warehouse with rows in every table, and what serving it needs (fixture `served`).

The test process plays the pipeline: it holds the file for writing, so other readers must go
through the endpoint. `expected` holds every relation's rows as `shopstream sql --format json`
printed them from the file before the endpoint started (the same command, direct path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from dash_data import add_alerts
from typer.testing import CliRunner
from wh_data import T0, dead_letters_table, events_table, make_dead_letter, make_event

from shopstream.cli.warehouse import register
from shopstream.config import Settings
from shopstream.sqlendpoint import SqlEndpoint
from shopstream.warehouse import TABLES, VIEWS, BatchMeta
from shopstream.warehouse.duckdb import DuckDBWarehouse

RELATIONS = (*TABLES, *VIEWS)


def fill(wh: DuckDBWarehouse) -> None:
    """Two batches over three customers, two days, all event types, dead letters, alerts."""
    wh.init()
    first = [
        make_event("e1", "PAGE_VIEW", "c1"),
        make_event("e2", "ADD_TO_CART", "c1", ts=T0 + timedelta(minutes=5)),
        make_event("e3", "PURCHASE", "c1", ts=T0 + timedelta(minutes=9), amount="1250.75"),
        make_event("e4", "PAGE_VIEW", "c2", ts=T0 + timedelta(hours=2), category=None),
        make_event("e5", "PURCHASE", "c3", amount="99.99", currency="EUR", rate=Decimal("1.08")),
    ]
    wh.commit_batch(
        events_table(first),
        dead_letters_table([make_dead_letter(7), make_dead_letter(8, "malformed_json")]),
        BatchMeta("gold", "q-1", 0),
    )
    later = T0 + timedelta(days=1)
    second = [
        make_event("e6", "PURCHASE", "c2", ts=later, amount="600.00", quantity=3),
        make_event("e7", "PAGE_VIEW", "c3", ts=later + timedelta(hours=1), product_id=None),
        make_event("e1", "PAGE_VIEW", "c1"),  # a duplicate: counted, not added
    ]
    wh.commit_batch(events_table(second), None, BatchMeta("gold", "q-1", 1))
    add_alerts(wh)  # what the business-alert monitor records (shopstream.alerts)


def sql_json(home: Path, query: str) -> Any:
    """`shopstream sql QUERY --format json --home HOME`, parsed."""
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["sql", query, "--format", "json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def order_by_all(relation: str) -> str:
    return f"SELECT * FROM {relation} ORDER BY ALL"


@dataclass
class Served:
    """A running endpoint over a filled warehouse, and what the file said before it ran."""

    home: Path
    settings: Settings
    wh: DuckDBWarehouse
    endpoint: SqlEndpoint
    password: str
    expected: dict[str, Any]

    @property
    def conninfo(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.endpoint.port,
            "user": self.settings.sql.user,
            "password": self.password,
            "dbname": "shopstream",
            "sslmode": "disable",
        }

    @property
    def url_with_password(self) -> str:
        return self.endpoint.url.replace("@", f":{self.password}@", 1)
