"""`up` and `process` flags for Silver's mode, driven the way users drive them (CliRunner)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from shopstream.cli.pipeline import register


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.mark.parametrize("command", ["up", "process"])
def test_help_names_both_modes_and_the_default(cli: typer.Typer, command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "--real-time" in text and "--micro-batch" in text
    assert "Default: Real-time Mode where it can run" in text


def test_process_refuses_available_now_in_real_time_mode(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["process", "--available-now", "--real-time"])
    assert result.exit_code == 2
    assert "--available-now and --real-time exclude each other" in " ".join(result.output.split())
