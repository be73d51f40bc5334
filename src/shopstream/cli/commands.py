"""The command tree: every command module registers itself on `app`, in `--help` order."""

from __future__ import annotations

import importlib

import typer

from shopstream import __version__

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
