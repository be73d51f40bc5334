"""`shopstream sql | warehouse init | snowflake keygen|setup-sql|check`: the warehouse commands."""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from shopstream.cli.common import HomeOption, console, err_console, print_json, settings_from
from shopstream.errors import ConfigError

warehouse_app = typer.Typer(help="Create and inspect the warehouse (DuckDB or Snowflake).")
snowflake_app = typer.Typer(help="Snowflake key-pair setup and connection checks.")


class OutputFormat(StrEnum):
    """Output formats of `shopstream sql`."""

    table = "table"
    json = "json"
    csv = "csv"


def _snowflake_overrides(**flags: Any) -> dict[str, Any]:
    """Nested settings overrides for Snowflake flags (None = not given)."""
    return {"warehouse": {"snowflake": {k: v for k, v in flags.items() if v is not None}}}


def _text(value: Any) -> str:
    """A value as table/CSV text (NULL as empty, dates ISO)."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def sql(
    query: str = typer.Argument(..., help='One SQL statement, e.g. "SELECT * FROM kpis".'),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="Output format."),
    home: Path = HomeOption,
) -> None:
    """Run a read-only SQL query on the warehouse (tables and views, see `warehouse init`).

    While a pipeline holds the DuckDB file, the query goes through its SQL endpoint.
    """
    from shopstream.sqlendpoint.reader import query_rows

    names, rows = query_rows(settings_from(home), query)
    if fmt is OutputFormat.json:
        print_json([dict(zip(names, r, strict=True)) for r in rows])
    elif fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([_text(v) for v in r] for r in rows)
    else:
        from rich.table import Table

        table = Table(*names)
        for r in rows:
            table.add_row(*(_text(v) for v in r))
        console.print(table)
        err_console.print(f"{len(rows)} row(s)")


@warehouse_app.command("init")
def init(home: Path = HomeOption) -> None:
    """Create the warehouse tables (if absent), migrate older ones in place (renamed
    columns keep their rows) and (re)create its views; idempotent."""
    from shopstream.warehouse import TABLES, VIEWS, open_warehouse

    settings = settings_from(home)
    with open_warehouse(settings) as wh:
        migrated = wh.init()
        target = wh.target()
    for change in migrated:
        console.print(f"migrated {change}")
    console.print(f"warehouse ready at {target}: {len(TABLES)} tables, {len(VIEWS)} views")


@snowflake_app.command("keygen")
def keygen(
    out: Path = typer.Option(..., "--out", help="Directory for rsa_key.p8 and rsa_key.pub."),
    user: str = typer.Option(None, "--user", help="Snowflake user for the ALTER USER statement."),
    passphrase_env: str = typer.Option(
        None,
        "--passphrase-env",
        help="Encrypt the private key with the passphrase in this env var.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing pair in --out."),
) -> None:
    """Generate an RSA key pair; print the ALTER USER statement that registers it."""
    from shopstream.config import environment_variable
    from shopstream.warehouse.keys import generate_keypair

    passphrase = None
    if passphrase_env:
        passphrase = environment_variable(passphrase_env)
        if not passphrase:
            raise ConfigError(
                f"--passphrase-env {passphrase_env}: that environment variable is unset or empty."
            )
    name = user or settings_from().warehouse.snowflake.user or "<user>"
    files = generate_keypair(out, passphrase=passphrase, user=name, overwrite=force)
    err_console.print(f"private key: {files.private_key} (mode 0600)", highlight=False)
    err_console.print(f"public key:  {files.public_key}", highlight=False)
    err_console.print(
        "Register the public key (as a user admin), then set "
        "SHOPSTREAM_WAREHOUSE__SNOWFLAKE__PRIVATE_KEY_PATH:",
        highlight=False,
    )
    typer.echo(files.alter_user_sql)


@snowflake_app.command("setup-sql")
def setup_sql_cmd(
    user: str = typer.Option(None, "--user", help="Service user (default: setting or SHOPSTREAM)."),
    role: str = typer.Option(None, "--role", help="Role (default: setting or SHOPSTREAM_ROLE)."),
    warehouse: str = typer.Option(None, "--warehouse", help="Virtual warehouse (SHOPSTREAM_WH)."),
    database: str = typer.Option(None, "--database", help="Database (default: setting)."),
    schema: str = typer.Option(None, "--schema", help="Schema (default: setting)."),
    public_key: Path = typer.Option(
        None, "--public-key", help="rsa_key.pub to embed in CREATE USER (else a placeholder)."
    ),
) -> None:
    """Print the admin SQL: role, warehouse, database, schema, key-pair user and grants."""
    from shopstream.warehouse.keys import public_key_body
    from shopstream.warehouse.snowflake import setup_sql

    cfg = settings_from().warehouse.snowflake
    body = None
    if public_key is not None:
        try:
            body = public_key_body(public_key.read_bytes())
        except OSError as err:
            raise ConfigError(f"cannot read --public-key {public_key}: {err.strerror}.") from None
    typer.echo(
        setup_sql(
            user=user or cfg.user or "SHOPSTREAM",
            role=role or cfg.role or "SHOPSTREAM_ROLE",
            warehouse=warehouse or cfg.warehouse or "SHOPSTREAM_WH",
            database=database or cfg.database,
            schema=schema or cfg.schema_,
            public_key=body,
        ),
        nl=False,
    )


@snowflake_app.command("check")
def check(
    account: str = typer.Option(None, "--account", help="Account identifier (org-account)."),
    user: str = typer.Option(None, "--user"),
    role: str = typer.Option(None, "--role"),
    warehouse: str = typer.Option(None, "--warehouse"),
    database: str = typer.Option(None, "--database"),
    schema: str = typer.Option(None, "--schema"),
    private_key_path: Path = typer.Option(None, "--private-key-path"),
    timeout: int = typer.Option(30, "--timeout", help="Login timeout in seconds."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Connect with the configured key pair and report version, account, role and warehouse."""
    from shopstream.warehouse.snowflake import SnowflakeWarehouse

    settings = settings_from(
        **_snowflake_overrides(
            account=account,
            user=user,
            role=role,
            warehouse=warehouse,
            database=database,
            schema=schema,
            private_key_path=private_key_path,
        )
    )
    with SnowflakeWarehouse(settings.warehouse.snowflake, login_timeout=timeout) as wh:
        info = wh.check()
    if as_json:
        print_json(info)
        return
    console.print(
        f"connected to Snowflake {info['version']}: account {info['account']}, "
        f"user {info['user']}, role {info['role']}, warehouse {info['warehouse']}, "
        f"{info['database']}.{info['schema']}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add `sql`, `warehouse ...` and `snowflake ...` to the root app."""
    app.command("sql")(sql)
    app.add_typer(warehouse_app, name="warehouse")
    app.add_typer(snowflake_app, name="snowflake")
