"""Pieces shared by the command modules: consoles, settings from flags, JSON output."""

from __future__ import annotations

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


def print_json(data: Any) -> None:
    """Write machine-readable output to stdout."""
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
