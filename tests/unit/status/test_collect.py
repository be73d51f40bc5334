"""`shopstream status`: built from the home, or asked from the dashboard holding the file."""

from __future__ import annotations

import json

from dash_data import EXPECTED
from typer.testing import CliRunner

from shopstream.cli import app as cli
from shopstream.config import Settings
from shopstream.warehouse import Warehouse, open_warehouse


def test_status_command_json_and_check(offline_settings: Settings, filled_wh: Warehouse) -> None:
    filled_wh.close()  # the CLI opens the file read-only, as a second process would
    env = {"SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": offline_settings.kafka.bootstrap_servers or ""}
    home = str(offline_settings.home)
    res = CliRunner().invoke(cli, ["status", "--json", "--home", home], env=env)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    for key in ("raw", "clean", "dead_letter", "duplicates", "unique", "warehouse", "lag"):
        assert key in doc
    assert doc["unique"] == EXPECTED["unique"]
    assert doc["duplicates"] == EXPECTED["duplicates"]
    assert doc["kafka"]["reachable"] is False
    assert doc["raw"] is None  # unknown, not zero
    human = CliRunner().invoke(cli, ["status", "--check", "--home", home], env=env)
    assert human.exit_code == 1
    assert "NOT HEALTHY" in human.stdout and "kafka unreachable" in human.stdout


def test_status_asks_the_pipeline_dashboard_while_the_writer_holds_the_file(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    from shopstream.dashboard.app import DashboardServer, create_app
    from shopstream.status.collect import dashboard_file

    app = create_app(offline_settings, warehouse=filled_wh)
    server = DashboardServer(app, offline_settings, port=0)
    server.start()
    try:
        assert dashboard_file(offline_settings).is_file()
        env = {
            "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": offline_settings.kafka.bootstrap_servers or ""
        }
        home = str(offline_settings.home)
        res = CliRunner().invoke(cli, ["status", "--json", "--home", home], env=env)
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert doc["source"] == f"{server.url}/api/status"
        assert doc["unique"] == EXPECTED["unique"]
        again = CliRunner().invoke(cli, ["dashboard", "--home", home], env=env)
        assert again.exit_code == 0
        assert server.url in again.stdout  # points to the running one instead of a second
    finally:
        server.stop()
    assert not dashboard_file(offline_settings).exists()


def test_status_prefers_the_running_pipeline_even_when_the_file_is_readable(
    offline_settings: Settings, filled_wh: Warehouse
) -> None:
    """Only the pipeline's process knows its live queries, so its answer comes first."""
    from shopstream.dashboard.app import DashboardServer, create_app
    from shopstream.status.collect import collect_status
    from shopstream.status.sources import LiveState

    filled_wh.close()
    settings = offline_settings
    with open_warehouse(settings, read_only=True) as ro:
        app = create_app(settings, warehouse=ro, live=LiveState())
        server = DashboardServer(app, settings, port=0)
        server.start()
        try:
            doc = collect_status(settings)
        finally:
            server.stop()
    assert doc["source"] == f"{server.url}/api/status"
    assert doc["unique"] == EXPECTED["unique"]
    alone = collect_status(settings)  # no dashboard any more: built here from the file
    assert "source" not in alone
    assert alone["unique"] == EXPECTED["unique"]
