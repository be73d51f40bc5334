"""The CLI answers before it loads what only running commands need (no timing asserted)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
sys.argv = ["shopstream", *sys.argv[1:]]
from shopstream.cli import main
try:
    main()
except SystemExit:
    pass
print("LOADED", *sorted(m for m in ("typer", "numpy", "pydantic", "shopstream.config")
                        if m in sys.modules))
"""


def _loaded(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, check=True
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("LOADED"))
    return line.split()[1:]


def test_version_answers_without_building_the_command_tree() -> None:
    assert _loaded("--version") == []


def test_help_does_not_load_the_settings() -> None:
    # pydantic and the settings model cost ~140 ms; only a command that runs reads them.
    loaded = _loaded("--help")
    assert "typer" in loaded
    assert "pydantic" not in loaded and "shopstream.config" not in loaded


def test_one_command_builds_only_its_module() -> None:
    import typer

    from shopstream.cli import commands

    registered: dict[str, str] = {}
    for module in commands.COMMAND_MODULES:
        tree = commands.build([module])
        names = [c.name for c in tree.registered_commands]
        names += [g.name for g in tree.registered_groups]
        registered |= {str(name): module for name in names}
    # The map `main` uses to build one module is what the modules really register.
    assert registered == commands.COMMANDS
    assert isinstance(commands.app_for(["sql", "SELECT 1"]), typer.Typer)
    assert commands.app_for(["--help"]) is commands.app
    loaded = _loaded("sql", "--help")
    assert "shopstream.config" not in loaded  # the sql command's help needs no settings
