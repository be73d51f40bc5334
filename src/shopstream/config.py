"""Typed configuration, validated at start-up.

Precedence: CLI flag > environment (`SHOPSTREAM_*`, nested with `__`, e.g.
`SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS`) > `shopstream.toml` (path from
`SHOPSTREAM_CONFIG`, default `./shopstream.toml`) > defaults. Environment variables are
read here and nowhere else (the few that are not settings too: `environment_variable`,
`child_environment`, `default_environment`). Secrets are `SecretStr` and never appear in
reprs or logs. The files of the home are named in `shopstream.home` (`Settings.files`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shopstream.contract import DEFAULT_LATENESS_HORIZON
from shopstream.errors import ConfigError
from shopstream.home import Home

CONFIG_FILE_ENV = "SHOPSTREAM_CONFIG"
DEFAULT_CONFIG_FILE = "shopstream.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Section):
    """Where Kafka is and how to talk to it."""

    bootstrap_servers: str | None = Field(
        None, description="host:port list of an existing cluster; unset = local broker"
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    ssl_key_password: SecretStr | None = None
    raw_topic: str = "raw_events"
    clean_topic: str = "clean_events"
    dead_letter_topic: str = "dead_letter"
    raw_partitions: int = Field(3, ge=1)
    clean_partitions: int = Field(3, ge=1)
    dead_letter_partitions: int = Field(1, ge=1)
    broker_port: int = Field(0, ge=0, le=65535, description="local broker port; 0 = free port")
    data_dir: Path | None = Field(
        None, description="local broker data + state; default <home>/kafka"
    )
    brokers: Literal[1, 3] = 1
    broker_heap: str = "512m"

    @field_validator("brokers", mode="before")
    @classmethod
    def _brokers_from_text(cls, value: Any) -> Any:
        # Environment variables are text, and a Literal of ints does not coerce "3".
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    @property
    def ssl(self) -> bool:
        return self.security_protocol.endswith("SSL")


# The master URLs Spark itself accepts (SparkContext.createTaskScheduler and the external
# cluster managers), checked here so a typo fails at start-up, not deep inside the JVM.
_LOCAL = r"local(\[(\d+|\*)(\s*,\s*\d+)?\])?"
_LOCAL_CLUSTER = r"local-cluster\[\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\]"
_HOST_PORT = r"[A-Za-z0-9.\-]+:\d{1,5}"
_STANDALONE = rf"spark://{_HOST_PORT}(,{_HOST_PORT})*"
_K8S = r"k8s://(https?://)?[A-Za-z0-9.\-]+(:\d{1,5})?(/\S*)?"
MASTER_PATTERN = re.compile(rf"{_LOCAL}|{_LOCAL_CLUSTER}|{_STANDALONE}|yarn|{_K8S}")
MASTER_FORMS = "local[N], local[*], spark://host:port[,host:port], yarn or k8s://https://host:port"
# Spark's memory strings: a number with an optional unit (JVM -Xmx style).
MEMORY_PATTERN = r"^\d+[kKmMgGtT]?[bB]?$"


class SparkSettings(_Section):
    """How Spark runs."""

    master: str = "local[*]"
    shuffle_partitions: int = Field(4, ge=1)
    driver_memory: str = Field("2g", pattern=MEMORY_PATTERN)
    driver_host: str | None = Field(
        None, description="address executors reach the driver at (cluster masters)"
    )
    executor_memory: str = Field("1g", pattern=MEMORY_PATTERN)
    executor_cores: int | None = Field(None, ge=1, description="unset = Spark's default")
    cores_max: int | None = Field(
        None, ge=1, description="standalone: cores this application may take in total"
    )
    register_timeout_seconds: float = Field(
        30.0, gt=0, description="cluster master: time to accept the application"
    )
    executor_timeout_seconds: float = Field(
        60.0, ge=0, description="cluster master: time for a first executor; 0 = do not wait"
    )
    ui_port: int = Field(0, ge=0, le=65535, description="Spark UI port; 0 = free port")
    # A Gold micro-batch took 0.35-0.55 s at 10k events/s on 2 shared cores; a shorter interval
    # starts the next one as soon as the last ends instead of waiting out the interval.
    trigger_seconds: float = Field(0.1, ge=0, description="micro-batch trigger interval")
    max_offsets_per_trigger: int | None = Field(None, ge=1)
    log_level: str = "WARN"

    @field_validator("master")
    @classmethod
    def _master(cls, v: str) -> str:
        v = v.strip()
        if not MASTER_PATTERN.fullmatch(v):
            raise ValueError(f"not a Spark master URL; use {MASTER_FORMS}")
        return v

    @property
    def local(self) -> bool:
        """Whether Spark runs inside this process (no cluster manager)."""
        return self.master.startswith("local")


class SnowflakeSettings(_Section):
    """Snowflake connection (key-pair auth)."""

    account: str | None = None
    user: str | None = None
    role: str | None = None
    warehouse: str | None = None
    database: str = "SHOPSTREAM"
    schema_: str = Field("ANALYTICS", alias="schema")
    private_key_path: Path | None = None
    private_key_base64: SecretStr | None = None
    private_key_passphrase: SecretStr | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WarehouseSettings(_Section):
    """Which warehouse Gold writes and the dashboard reads."""

    kind: Literal["duckdb", "snowflake"] = "duckdb"
    duckdb_path: Path | None = Field(None, description="default: <home>/warehouse.duckdb")
    # Rows per DuckDB row group, set by the writer at every open (the file does not keep it).
    # Smaller groups keep the checkpoint inside Gold's commit short (bench e2e: p99 3.19 s at
    # DuckDB's 122,880, 1.19 s at 16,384) but compress worse (bench gold history: 30M events
    # took 1.5 GiB instead of 0.9 GiB).
    duckdb_row_group_size: int = Field(16_384, ge=2048, le=1_048_576)
    snowflake: SnowflakeSettings = SnowflakeSettings()
    # While the warehouse is unavailable Gold retries, waiting first `retry_initial_seconds`,
    # doubling up to `retry_max_seconds` between attempts, without ever giving up.
    retry_initial_seconds: float = Field(0.5, gt=0)
    retry_max_seconds: float = Field(30.0, gt=0)
    # The writer lease (one Gold per warehouse): a holder that stops renewing (crashed)
    # loses it after this many seconds; the running writer renews every third of it.
    lease_ttl_seconds: float = Field(60.0, gt=0)

    @field_validator("duckdb_row_group_size")
    @classmethod
    def _row_group_size(cls, v: int) -> int:
        if v % 2048:
            raise ValueError(
                f"{v} is not a multiple of 2048 (DuckDB's vector size); use e.g. 16384"
            )
        return v


class PipelineSettings(_Section):
    """Business rules that are configuration, not contract."""

    reporting_currency: str = "USD"
    # Units of reporting currency per unit of currency.
    currency_rates: dict[str, Decimal] = {
        "USD": Decimal("1"),
        "EUR": Decimal("1.08"),
        "GBP": Decimal("1.27"),
        "CAD": Decimal("0.73"),
        "AUD": Decimal("0.66"),
        "JPY": Decimal("0.0067"),
    }
    lateness_horizon_days: float = Field(DEFAULT_LATENESS_HORIZON.days, gt=0)
    stall_seconds: float = Field(30.0, gt=0, description="no commit while input moves = stall")
    accept_data_loss: bool = Field(
        False,
        description="skip records retention deleted before a stage read them, recording the "
        "loss in pipeline_batches; unset = such a gap stops the stage",
    )

    @field_validator("currency_rates")
    @classmethod
    def _rates(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = [k for k, r in v.items() if len(k) != 3 or not k.isalpha() or r <= 0]
        if bad:
            raise ValueError(f"rates must map 3-letter codes to positive numbers: {bad}")
        return {k.upper(): r for k, r in v.items()}


class DashboardSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535, description="0 = free port")


class SqlSettings(_Section):
    """The read-only PostgreSQL-protocol endpoint of the process that writes DuckDB."""

    enabled: bool = True
    host: str = Field("127.0.0.1", description="listen address; loopback by default")
    port: int = Field(5433, ge=0, le=65535, description="0 = free port")
    user: str = Field("shopstream", min_length=1)
    password: SecretStr | None = Field(
        None, description="unset = generated once per home into <home>/sql-password (0600)"
    )
    tls_cert: Path | None = Field(None, description="PEM certificate; with tls_key enables TLS")
    tls_key: Path | None = None
    statement_timeout_seconds: float = Field(30.0, ge=0, description="0 = no limit")
    max_connections: int = Field(32, ge=1)

    @model_validator(mode="after")
    def _tls_pair(self) -> SqlSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("set both tls_cert and tls_key (PEM files), or neither")
        return self


class FaultSettings(_Section):
    """Pause points, for fault-injection runs: Gold stops at an exact point and waits there.

    Set one to a file path and Gold creates that file when it gets to the point, then waits
    while the file exists (at most `shopstream.faults.MAX_PAUSE_SECONDS`), so a run can kill
    or signal it exactly there; removing the file lets it go on. The crash and stop tests
    set them through the environment (SHOPSTREAM_FAULTS__PAUSE_IN_COMMIT=PATH). Unset, as
    in any normal use, a pause point costs one comparison.
    """

    pause_in_commit: Path | None = Field(
        None,
        description="Gold waits inside its warehouse transaction (rows written, no COMMIT)",
    )
    pause_before_read: Path | None = Field(
        None, description="Gold waits just before it reads a micro-batch out of Spark"
    )


class Settings(BaseSettings):
    """All shopstream settings."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPSTREAM_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    home: Path = Field(Path(".shopstream"), description="all local state lives here")
    kafka: KafkaSettings = KafkaSettings()
    spark: SparkSettings = SparkSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    pipeline: PipelineSettings = PipelineSettings()
    dashboard: DashboardSettings = DashboardSettings()
    sql: SqlSettings = SqlSettings()
    faults: FaultSettings = FaultSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml))

    # Derived locations: everything local sits under `home`, so two homes never interfere.
    # Their names, and every other file's in the home, are in shopstream.home.
    @property
    def state_dir(self) -> Path:
        return self.files.root

    @property
    def files(self) -> Home:
        """Every file of this home (`shopstream.home`)."""
        return Home.of(self)

    @property
    def kafka_dir(self) -> Path:
        return self.files.kafka

    @property
    def checkpoint_dir(self) -> Path:
        return self.files.checkpoints

    @property
    def log_dir(self) -> Path:
        return self.files.logs

    @property
    def duckdb_path(self) -> Path:
        return self.files.duckdb


# ---- The rest of the environment -------------------------------------------------------
# Read here too, and nowhere else: a variable a flag names (--passphrase-env), a tool's
# own (JAVA_HOME, PYSPARK_PYTHON), and what a child process inherits.


def environment_variable(name: str) -> str | None:
    """The value of the environment variable `name`, or None when it is unset."""
    return os.environ.get(name)


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with `extra` on top, for a child process."""
    return {**os.environ, **extra}


def default_environment(name: str, value: str) -> None:
    """Set `name` for a library that reads it itself (pyspark), unless it is set already."""
    os.environ.setdefault(name, value)


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "settings"
    env = "SHOPSTREAM_" + "__".join(str(p) for p in first["loc"]).upper()
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    given = first.get("input")
    shown = "" if isinstance(given, dict | SecretStr) or "password" in loc else f" (got {given!r})"
    return (
        f"invalid setting '{loc}'{shown}: {first['msg']}{more}. "
        f"Fix the flag, the environment variable {env} or {DEFAULT_CONFIG_FILE}."
    )


def load_settings(**overrides: Any) -> Settings:
    """Build settings from flags (`overrides`, nested dicts allowed), env and TOML."""
    try:
        return Settings(**_drop_none(overrides))
    except ValidationError as err:
        raise ConfigError(_describe(err)) from None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = _drop_none(v)
            if not v:
                continue
        if v is not None:
            out[k] = v
    return out
