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
                 "--seed-compat", "--backfill-days"):  # fmt: skip
        assert flag in out


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
