"""The issue's scenario: a pipeline holds the DuckDB file; `shopstream sql`, `status`,
`dlq show` and psql in other processes read it (the warehouse through the pipeline's SQL
endpoint), and after the stop, from the file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from shopstream_env import cli_env
from test_status import produce

from shopstream.config import Settings
from shopstream.sqlendpoint import endpoint_password, running_endpoint

EVENTS = 1_000
COUNT = "SELECT count(*) AS n FROM silver_events"


def shopstream(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopstream", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def sql(env: dict[str, str], query: str) -> subprocess.CompletedProcess[str]:
    return shopstream(env, "sql", query, "--format", "json")


def test_sql_and_psql_read_while_the_pipeline_writes(settings: Settings) -> None:
    produce(settings, EVENTS)
    env = cli_env(settings) | {"SHOPSTREAM_SQL__PORT": "0"}
    pipeline = subprocess.Popen(
        [sys.executable, "-m", "shopstream", "process"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        rows: list[dict[str, int]] = []
        while time.monotonic() < deadline and pipeline.poll() is None:
            info = running_endpoint(settings)
            if info is not None and info.pid == pipeline.pid:
                res = sql(env, COUNT)
                assert res.returncode == 0, res.stderr  # never "another process is writing it"
                rows = json.loads(res.stdout)
                if rows[0]["n"] > 0:
                    break
            time.sleep(1)
        assert pipeline.poll() is None, pipeline.communicate()[0]
        assert rows and rows[0]["n"] > 0

        if shutil.which("psql"):
            assert info is not None
            psql = subprocess.run(
                ["psql", "-X", "-A", "-t", info.url, "-c", "SELECT count(*) FROM top_customers"],
                env=os.environ | {"PGPASSWORD": endpoint_password(settings) or ""},
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert psql.returncode == 0, psql.stderr
            assert int(psql.stdout.strip()) > 0

        status = shopstream(env, "status", "--json")
        assert status.returncode in (0, 1), status.stderr  # 1 = not healthy, still answered
        warehouse = json.loads(status.stdout)["warehouse_info"]
        assert warehouse["ok"], warehouse
        assert info is not None and info.url in warehouse["target"]
        assert warehouse["batches"] > 0
        dlq = shopstream(env, "dlq", "show", "--json", "--limit", "3")
        assert dlq.returncode == 0, dlq.stderr
        assert 0 < len(json.loads(dlq.stdout)) <= 3  # Silver wrote them before Gold ran
    finally:
        pipeline.send_signal(signal.SIGINT)
        try:
            output, _ = pipeline.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            pipeline.kill()
            output, _ = pipeline.communicate()
    assert pipeline.returncode == 0, output
    assert info is not None and info.url in output  # printed where the user sees it
    assert running_endpoint(settings) is None  # the endpoint went with the pipeline
    after = sql(env, COUNT)
    assert after.returncode == 0, after.stderr  # now from the file itself
    assert json.loads(after.stdout)[0]["n"] >= rows[0]["n"]


pytestmark = pytest.mark.timeout(600)
