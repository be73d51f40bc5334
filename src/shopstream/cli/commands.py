"""The command tree: every command module registers itself on the app, in `--help` order.

A run of one command builds only the module that registers it (`app_for`): `shopstream
sql` then imports neither the producer's numpy nor Spark's helpers (the whole tree took
~0.45 s of its start on this 2-core machine, python -X importtime / cProfile). `--help`,
an unknown command and `from shopstream.cli import app` get the whole tree.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

import typer

from shopstream import __version__

HELP = "Real-time shop analytics: Kafka -> Spark -> DuckDB / Snowflake, exactly once."

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
# Each top-level command or group -> the module registering it; a unit test holds this to
# what the modules register (tests/unit/test_cli_startup.py).
COMMANDS = {
    "kafka": "kafka",
    "produce": "produce",
    "silver": "silver",
    "dlq": "silver",
    "gold": "gold",
    "up": "pipeline",
    "process": "pipeline",
    "reset": "pipeline",
    "sql": "warehouse",
    "warehouse": "warehouse",
    "snowflake": "warehouse",
    "dashboard": "dashboard",
    "status": "dashboard",
    "bench": "bench",
    "docs": "docs",
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shopstream {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Real-time shop analytics: Kafka -> Spark -> DuckDB / Snowflake, exactly once."""


def build(modules: Iterable[str] = COMMAND_MODULES) -> typer.Typer:
    """A command tree with the commands of `modules`."""
    tree = typer.Typer(
        name="shopstream",
        help=HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    tree.callback()(_root)
    for name in modules:
        importlib.import_module(f"shopstream.cli.{name}").register(tree)
    return tree


def app_for(argv: Sequence[str]) -> typer.Typer:
    """The tree for one run: only the named command's module when the first word names one."""
    module = COMMANDS.get(argv[0]) if argv else None
    return build([module]) if module is not None else __getattr__("app")


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole tree, built once on first use
        globals()["app"] = tree = build()
        return tree
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
