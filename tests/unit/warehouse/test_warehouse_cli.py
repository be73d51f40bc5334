"""The warehouse commands, driven the way users drive them (Typer's CliRunner)."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner
from wh_data import events_table, make_event

from shopstream.cli.warehouse import register
from shopstream.config import load_settings
from shopstream.warehouse import BatchMeta, open_warehouse
from shopstream.warehouse.exceptions import PrivateKeyError, QueryError
from shopstream.warehouse.keys import load_private_key_der


@pytest.fixture
def cli() -> typer.Typer:
    """A root app holding only the warehouse commands (as `shopstream` registers them)."""
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with an initialized DuckDB warehouse holding one small batch."""
    with open_warehouse(load_settings(home=tmp_path)) as wh:
        wh.init()
        rows = [
            make_event("a", "PURCHASE", "c1", amount="12.50"),
            make_event("b", "PAGE_VIEW", "c2"),
        ]
        wh.commit_batch(events_table(rows), None, BatchMeta("gold", "q", 0))
    return tmp_path


def test_warehouse_init_command(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["warehouse", "init", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "warehouse ready" in result.output
    assert (tmp_path / "warehouse.duckdb").exists()


def test_sql_json_is_an_array_of_objects(cli: typer.Typer, home: Path) -> None:
    query = "SELECT customer_id, total_revenue, customer_tier FROM top_customers ORDER BY 1"
    result = CliRunner().invoke(cli, ["sql", query, "--format", "json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"customer_id": "c1", "total_revenue": 12.5, "customer_tier": "New"},
        {"customer_id": "c2", "total_revenue": 0.0, "customer_tier": "New"},
    ]


def test_sql_csv_and_table(cli: typer.Typer, home: Path) -> None:
    query = "SELECT event_id, event_type FROM silver_events ORDER BY event_id"
    result = CliRunner().invoke(cli, ["sql", query, "--format", "csv", "--home", str(home)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [["event_id", "event_type"], ["a", "PURCHASE"], ["b", "PAGE_VIEW"]]
    table = CliRunner().invoke(cli, ["sql", query, "--home", str(home)])
    assert table.exit_code == 0 and "PURCHASE" in table.stdout


def test_sql_with_bad_sql_is_a_one_line_user_error(cli: typer.Typer, home: Path) -> None:
    result = CliRunner().invoke(cli, ["sql", "SELEC nope", "--home", str(home)])
    # main() prints ShopstreamErrors as one line and exits with their exit_code (2).
    assert isinstance(result.exception, QueryError)
    assert result.exception.exit_code == 2
    assert "\n" not in str(result.exception)


def test_keygen_command(cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY_PASSPHRASE", "s3cret-phrase")
    out = tmp_path / "keys"
    args = ["snowflake", "keygen", "--out", str(out), "--user", "LOADER"]
    result = CliRunner().invoke(cli, [*args, "--passphrase-env", "TEST_KEY_PASSPHRASE"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ALTER USER LOADER SET RSA_PUBLIC_KEY='MII")
    assert "s3cret-phrase" not in result.output
    key = out / "rsa_key.p8"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert load_private_key_der(path=key, passphrase="s3cret-phrase")


def test_setup_sql_command(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["snowflake", "setup-sql", "--user", "loader", "--role", "r1", "--database", "db1"]
    )
    assert result.exit_code == 0, result.output
    for stmt in (
        "CREATE ROLE IF NOT EXISTS R1;",
        "CREATE USER IF NOT EXISTS LOADER",
        "CREATE SCHEMA IF NOT EXISTS DB1.ANALYTICS;",
        "GRANT ROLE R1 TO USER LOADER;",
    ):
        assert stmt in result.stdout


def test_snowflake_check_command(
    cli: typer.Typer,
    fakesnow_patch: None,
    snowflake_key_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOPSTREAM_WAREHOUSE__SNOWFLAKE__ACCOUNT", "acct-1")
    monkeypatch.setenv("SHOPSTREAM_WAREHOUSE__SNOWFLAKE__USER", "LOADER")
    key = str(snowflake_key_dir / "rsa_key.p8")
    result = CliRunner().invoke(cli, ["snowflake", "check", "--private-key-path", key, "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["version"] and info["database"] == "SHOPSTREAM"
    assert (info["account"], info["user"]) == ("acct-1", "LOADER")
    plain = CliRunner().invoke(cli, ["snowflake", "check", "--private-key-path", key])
    assert plain.exit_code == 0 and "connected to Snowflake" in plain.stdout


def test_snowflake_check_with_a_bad_key_is_one_clear_line(
    cli: typer.Typer, fakesnow_patch: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPSTREAM_WAREHOUSE__SNOWFLAKE__ACCOUNT", "acct-1")
    monkeypatch.setenv("SHOPSTREAM_WAREHOUSE__SNOWFLAKE__USER", "LOADER")
    missing = tmp_path / "nope.p8"
    result = CliRunner().invoke(cli, ["snowflake", "check", "--private-key-path", str(missing)])
    assert isinstance(result.exception, PrivateKeyError)
    assert "does not exist" in str(result.exception) and "\n" not in str(result.exception)
