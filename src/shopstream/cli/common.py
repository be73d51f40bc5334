"""Pieces shared by the command modules: consoles, settings from flags, JSON output."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import typer
from rich.console import Console

if TYPE_CHECKING:  # config imports pydantic (~140 ms): only commands that run need it
    from shopstream.config import Settings

console = Console()
err_console = Console(stderr=True)

HomeOption = typer.Option(
    None, "--home", envvar="SHOPSTREAM_HOME", help="State directory (default ./.shopstream)."
)


def settings_from(home: Path | None = None, **overrides: Any) -> Settings:
    """Settings with CLI flags (None = not given) layered over env and shopstream.toml.

    The home is made private (0700) here, once per command, before anything is put in it.
    """
    from shopstream.config import load_settings

    settings = load_settings(home=home, **overrides)
    private_dir(settings.state_dir)
    return settings


def private_dir(path: Path) -> None:
    """Create `path` owner-only, or make it so if it is ours and wider (an older home, 0755)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(0o700)


def exact_json(value: Any) -> Any:
    """orjson `default`: a Decimal as a JSON number with every digit (never via a float)."""
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(f"{value:f}")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def print_json(data: Any) -> None:
    """Write machine-readable output to stdout; decimals keep every digit."""
    options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    typer.echo(orjson.dumps(data, default=exact_json, option=options).decode())
