"""Config: precedence, validation messages, secrets."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import shopstream
from shopstream.config import load_settings
from shopstream.errors import ConfigError


def test_defaults_put_state_under_home(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path)
    assert s.checkpoint_dir == tmp_path.resolve() / "checkpoints"
    assert s.duckdb_path == tmp_path.resolve() / "warehouse.duckdb"
    assert s.kafka.raw_partitions == 3
    assert s.warehouse.kind == "duckdb"


def test_precedence_flag_over_env_over_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "shopstream.toml"
    toml.write_text('[kafka]\nraw_topic = "from_toml"\nclean_topic = "clean_toml"\n')
    monkeypatch.setenv("SHOPSTREAM_CONFIG", str(toml))
    assert load_settings().kafka.raw_topic == "from_toml"
    monkeypatch.setenv("SHOPSTREAM_KAFKA__RAW_TOPIC", "from_env")
    s = load_settings()
    assert s.kafka.raw_topic == "from_env"
    assert s.kafka.clean_topic == "clean_toml"  # nested sources merge, not replace
    assert load_settings(kafka={"raw_topic": "from_flag"}).kafka.raw_topic == "from_flag"


def test_invalid_value_names_field_and_fix() -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(kafka={"raw_partitions": 0})
    msg = str(e.value)
    assert "kafka.raw_partitions" in msg
    assert "SHOPSTREAM_KAFKA__RAW_PARTITIONS" in msg
    assert "\n" not in msg


def test_unknown_warehouse_kind_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSTREAM_WAREHOUSE__KIND", "oracle")
    with pytest.raises(ConfigError, match=r"warehouse\.kind"):
        load_settings()


def test_broker_count_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSTREAM_KAFKA__BROKERS", "3")
    assert load_settings().kafka.brokers == 3
    monkeypatch.setenv("SHOPSTREAM_KAFKA__BROKERS", "2")
    with pytest.raises(ConfigError, match=r"kafka\.brokers.*1 or 3"):
        load_settings()


def test_duckdb_row_group_size_must_suit_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSTREAM_WAREHOUSE__DUCKDB_ROW_GROUP_SIZE", "65536")
    assert load_settings().warehouse.duckdb_row_group_size == 65_536
    monkeypatch.setenv("SHOPSTREAM_WAREHOUSE__DUCKDB_ROW_GROUP_SIZE", "10000")
    with pytest.raises(ConfigError, match=r"duckdb_row_group_size.*multiple of 2048") as e:
        load_settings()
    assert "\n" not in str(e.value)


def test_secrets_never_in_repr_or_errors() -> None:
    s = load_settings(
        kafka={"security_protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": "hunter2"},
        warehouse={"snowflake": {"private_key_passphrase": "s3cret-pass"}},
    )
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())
    assert "s3cret-pass" not in repr(s)
    with pytest.raises(ConfigError) as e:
        load_settings(kafka={"sasl_password": "hunter2", "raw_partitions": -1})
    assert "hunter2" not in str(e.value)


def test_bad_currency_rates_rejected() -> None:
    with pytest.raises(ConfigError, match="currency_rates"):
        load_settings(pipeline={"currency_rates": {"DOLLARS": 1}})


def test_pause_points_are_settings_set_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shopstream.faults import PAUSE_BEFORE_READ_ENV, PAUSE_IN_COMMIT_ENV, pause_at

    assert load_settings().faults.pause_in_commit is None  # never set in normal use
    monkeypatch.setenv(PAUSE_IN_COMMIT_ENV, str(tmp_path / "in-commit"))
    monkeypatch.setenv(PAUSE_BEFORE_READ_ENV, str(tmp_path / "before-read"))
    faults = load_settings().faults
    assert (faults.pause_in_commit, faults.pause_before_read) == (
        tmp_path / "in-commit",
        tmp_path / "before-read",
    )
    pause_at(None)  # returns at once
    assert not (tmp_path / "in-commit").exists()


def _environment_reads(path: Path) -> list[str]:
    """`os.environ` / `os.getenv` / `os.putenv` (and `from os import ...` of them) in a file."""
    names = {"environ", "getenv", "putenv", "environb", "getenvb", "unsetenv"}
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in names:
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                found.append(f"{path.name}:{node.lineno} os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"{path.name}:{node.lineno} {a.name}" for a in node.names if a.name in names]
    return found


def test_environment_variables_are_read_in_config_only() -> None:
    src = Path(shopstream.__file__).resolve().parent
    config = src / "config.py"
    assert _environment_reads(config)  # the check sees what it looks for
    elsewhere = [
        hit for p in sorted(src.rglob("*.py")) if p != config for hit in _environment_reads(p)
    ]
    assert elsewhere == [], "read it in config.py (environment_variable, child_environment)"
