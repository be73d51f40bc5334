"""Pieces shared by the command modules: consoles, settings from flags, JSON output."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.console import Console

from shopstream.config import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

HomeOption = typer.Option(
    None, "--home", envvar="SHOPSTREAM_HOME", help="State directory (default ./.shopstream)."
)


def settings_from(home: Path | None = None, **overrides: Any) -> Settings:
    """Settings with CLI flags (None = not given) layered over env and shopstream.toml."""
    return load_settings(home=home, **overrides)


def exact_json(value: Any) -> Any:
    """orjson `default`: a Decimal as a JSON number with every digit (never via a float)."""
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(f"{value:f}")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def print_json(data: Any) -> None:
    """Write machine-readable output to stdout; decimals keep every digit."""
    options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    typer.echo(orjson.dumps(data, default=exact_json, option=options).decode())
