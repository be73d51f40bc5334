"""The `shopstream` command line: thin Typer commands that parse flags and call the modules.

Each command group lives in its own module below and registers itself on `app`; heavy
imports (pyspark, duckdb, confluent-kafka) happen inside commands so `--help` is instant.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from shopstream import __version__
from shopstream.cli.common import err_console
from shopstream.errors import ShopstreamError

app = typer.Typer(
    name="shopstream",
    help="Real-time shop analytics: Kafka -> Spark -> DuckDB / Snowflake, exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "kafka",
    "produce",
    "silver",
    "gold",
    "pipeline",
    "warehouse",
    "dashboard",
    "bench",
    "docs",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shopstream {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Real-time shop analytics: Kafka -> Spark -> DuckDB / Snowflake, exactly once."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"shopstream.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point: user errors become one line on stderr and exit code 2."""
    # Everything this process and its children (Spark, brokers) create is the user's alone:
    # the home holds the warehouse, passwords, keys and broker data.
    os.umask(0o077)
    try:
        app()
    except ShopstreamError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
