"""The `shopstream` command line: thin Typer commands that parse flags and call the modules.

Each command group lives in its own module and registers itself on `commands.app`; heavy
imports (pyspark, duckdb, confluent-kafka) happen inside commands. `--version` answers
before the command tree is even built, and `from shopstream.cli import app` builds it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from shopstream import __version__


def __getattr__(name: str) -> Any:
    if name == "app":
        from shopstream.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point: user errors become one line on stderr and exit code 2."""
    # Everything this process and its children (Spark, brokers) create is the user's alone:
    # the home holds the warehouse, passwords, keys and broker data.
    os.umask(0o077)
    if sys.argv[1:] == ["--version"]:  # the commonest probe, answered without Typer
        print(f"shopstream {__version__}")
        return
    from shopstream.cli.commands import app_for
    from shopstream.cli.common import err_console
    from shopstream.errors import ShopstreamError

    try:
        app_for(sys.argv[1:])()
    except ShopstreamError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
