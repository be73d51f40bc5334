"""`shopstream produce` / `bench producer` flags and errors that need no broker."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shopstream.bronze.noise import NoiseRates, rate_flag
from shopstream.cli import app

runner = CliRunner()


def test_every_noise_kind_has_its_own_rate_flag() -> None:
    out = runner.invoke(app, ["produce", "--help"], env={"COLUMNS": "200"}).output
    for name in NoiseRates.__dataclass_fields__:
        assert rate_flag(name) in out
    for flag in ("--events", "--duration", "--rate", "--seed", "--truth", "--from-file",
                 "--seed-compat", "--backfill-days", "--incident", "--day-length",
                 "--customers", "--mean-views", "--cart-rate", "--purchase-rate"):  # fmt: skip
        assert flag in out


def test_up_has_the_shop_flags() -> None:
    out = runner.invoke(app, ["up", "--help"], env={"COLUMNS": "200"}).output
    assert "--incident" in out and "--day-length" in out


def test_bench_group_has_the_producer_benchmark() -> None:
    out = runner.invoke(app, ["bench", "--help"], env={"COLUMNS": "200"}).output
    assert "producer" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "10", "--backfill-days", "7"], "lateness horizon"),
        (["--backfill-days", "2", "--duration", "5"], "--events"),
        (["-n", "10", "--rate", "fast"], "--rate"),
        ([], "how much to send"),
        (["-n", "10", "--malformed-json-rate", "0.7", "--null-customer-rate", "0.7"], "add up"),
        (["-n", "10", "--incident", "checkout@5m+2m"], "unknown kind 'checkout'"),
        (["-n", "10", "--incident", "bad_release@5m"], "KIND@START+DURATION"),
        (["-n", "10", "--incident", "traffic_spike@1m+1m"], "give --rate R"),
        (["-n", "10", "--seed-compat", "--incident", "bad_release@1m+1m"], "drop --seed-compat"),
        (["--rate", "100", "--duration", "60", "--incident", "bad_release@2m+1m"], "does not fit"),
        (["-n", "10", "--day-length", "soon"], "--day-length"),
        (["-n", "10", "--cart-rate", "0.9"], "--cart-rate 0.9"),
    ],
)
def test_bad_flags_fail_before_touching_kafka(args: list[str], message: str, tmp_path) -> None:
    env = {"SHOPSTREAM_HOME": str(tmp_path), "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = runner.invoke(app, ["produce", *args], env=env)
    assert result.exit_code != 0
    assert message in str(result.exception) or message in result.output


def test_from_file_rejects_generator_only_flags(tmp_path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"{}\n")
    result = runner.invoke(app, ["produce", "--from-file", str(path), "--truth", "t.json"])
    assert "--from-file" in str(result.exception)


def test_up_checks_generator_flags_before_starting_anything(tmp_path) -> None:
    env = {"SHOPSTREAM_HOME": str(tmp_path), "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = runner.invoke(app, ["up", "--incident", "checkout_outage@1m+0s"], env=env)
    assert "the duration must be positive" in str(result.exception)
    result = runner.invoke(
        app, ["up", "--no-generator", "--incident", "bad_release@1m+1m"], env=env
    )
    assert "drop --no-generator" in str(result.exception)


def test_a_bad_incident_is_one_line_and_exit_code_2(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = os.environ | {
        "SHOPSTREAM_HOME": str(tmp_path),
        "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "COLUMNS": "400",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "shopstream", "produce", "-n", "5", "--incident", "nope@1m+1m"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown kind 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
