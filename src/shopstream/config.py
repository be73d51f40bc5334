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

from shopstream.alert_settings import AlertSettings
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
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="how every client connects (producer, status, dlq and Spark's kafka.* "
        "options); a home secured by `kafka start --security sasl_ssl` sets it itself",
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism (SASL_* protocols)"
    )
    sasl_username: str | None = Field(None, description="SASL user")
    sasl_password: SecretStr | None = Field(
        None, description="SASL password; give it from a secret store, never in the file"
    )
    ssl_ca_location: Path | None = Field(
        None, description="PEM file of the CA that signed the brokers' certificates"
    )
    ssl_certificate_location: Path | None = Field(
        None, description="PEM client certificate (mutual TLS only)"
    )
    ssl_key_location: Path | None = Field(None, description="PEM client key (mutual TLS only)")
    ssl_key_password: SecretStr | None = Field(
        None, description="passphrase of the client key, if it is encrypted"
    )
    raw_topic: str = Field("raw_events", description="topic the generator writes, Silver reads")
    clean_topic: str = Field("clean_events", description="topic Silver writes, Gold reads")
    dead_letter_topic: str = Field(
        "dead_letter", description="rejected records with their reason; read by Gold and `dlq`"
    )
    raw_partitions: int = Field(
        3, ge=1, description="partitions of a new raw topic; bounds Silver's parallelism"
    )
    clean_partitions: int = Field(3, ge=1, description="partitions of a new clean topic")
    dead_letter_partitions: int = Field(
        1, ge=1, description="partitions of a new dead-letter topic"
    )
    broker_port: int = Field(0, ge=0, le=65535, description="local broker port; 0 = free port")
    data_dir: Path | None = Field(
        None, description="local broker data + state; default <home>/kafka"
    )
    brokers: Literal[1, 3] = Field(
        1,
        description="local cluster size: 3 gives replication 3 and min.insync.replicas 2",
    )
    broker_heap: str = Field("512m", description="JVM heap of each local broker (-Xmx)")

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
# DuckDB's size strings (memory_limit, max_temp_directory_size): a number and a unit.
DUCKDB_SIZE_PATTERN = r"^\d+(\.\d+)?\s*([KMGT]i?B)$"


class SparkSettings(_Section):
    """How Spark runs."""

    master: str = Field(
        "local[*]",
        description=f"where Spark runs: {MASTER_FORMS}; a cluster master runs Silver in "
        "micro-batches unless --real-time",
    )
    shuffle_partitions: int = Field(4, ge=1, description="spark.sql.shuffle.partitions")
    driver_memory: str = Field(
        "2g", pattern=MEMORY_PATTERN, description="driver JVM heap; it holds one Gold batch"
    )
    driver_host: str | None = Field(
        None, description="address executors reach the driver at (cluster masters)"
    )
    executor_memory: str = Field(
        "1g", pattern=MEMORY_PATTERN, description="heap of each executor (cluster masters)"
    )
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
    ui_host: str = Field("127.0.0.1", description="address a local master's Spark UI listens "
        "on; loopback by default, 0.0.0.0 opens it to the network (a cluster master's driver "
        "listens where executors reach it)")  # fmt: skip
    ui_port: int = Field(0, ge=0, le=65535, description="Spark UI port; 0 = free port")
    # A Gold micro-batch took 0.35-0.55 s at 10k events/s on 2 shared cores; a shorter interval
    # starts the next one as soon as the last ends instead of waiting out the interval.
    trigger_seconds: float = Field(0.1, ge=0, description="micro-batch trigger interval")
    max_offsets_per_trigger: int | None = Field(
        None, ge=1, description="most records per micro-batch and stage; unset = no limit"
    )
    # A Gold batch costs ~0.2 s of CPU whatever it carries: fewer, larger ones at low rates.
    gold_min_records: int = Field(
        2_000, ge=1, description="Gold starts a batch once this many records wait "
        "(minOffsetsPerTrigger), or after gold_max_delay_seconds")  # fmt: skip
    gold_max_delay_seconds: float = Field(
        1.0, gt=0, description="longest a waiting record delays Gold's next batch "
        "(maxTriggerDelay): freshness traded for fewer, larger batches at low rates")  # fmt: skip
    log_level: str = Field("WARN", description="Spark's log level (its log4j root level)")

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

    account: str | None = Field(None, description="account identifier, e.g. myorg-myaccount")
    user: str | None = Field(None, description="the service user with the RSA public key")
    role: str | None = Field(None, description="role to use; unset = the user's default")
    warehouse: str | None = Field(None, description="virtual warehouse; unset = the user's default")
    database: str = Field("SHOPSTREAM", description="database holding the schema")
    schema_: str = Field("ANALYTICS", alias="schema", description="schema of tables and views")
    private_key_path: Path | None = Field(None, description="PKCS#8 private key file (PEM)")
    private_key_base64: SecretStr | None = Field(
        None, description="the private key itself, base64 (instead of a file)"
    )
    private_key_passphrase: SecretStr | None = Field(
        None, description="passphrase of an encrypted private key"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WarehouseSettings(_Section):
    """Which warehouse Gold writes and the dashboard reads."""

    kind: Literal["duckdb", "snowflake"] = Field(
        "duckdb", description="which warehouse Gold writes and every reader reads"
    )
    duckdb_path: Path | None = Field(None, description="default: <home>/warehouse.duckdb")
    # Rows per DuckDB row group, set by the writer at every open (the file does not keep it).
    # Smaller groups keep the checkpoint inside Gold's commit short (bench e2e: p99 3.19 s at
    # DuckDB's 122,880, 1.19 s at 16,384) but compress worse (bench gold history: 30M events
    # took 1.5 GiB instead of 0.9 GiB).
    duckdb_row_group_size: int = Field(
        16_384,
        ge=2048,
        le=1_048_576,
        description="rows per DuckDB row group, a multiple of 2048: smaller keeps Gold's "
        "commits short, larger compresses better (docs/benchmarks.md)",
    )
    # The writer's DuckDB instance is locked at open (no files but its own, no settings
    # changes: warehouse/duckdb.py lock_down), so its limits are fixed there too.
    duckdb_memory_limit: str = Field(
        "2GB",
        pattern=DUCKDB_SIZE_PATTERN,
        description="memory DuckDB's buffer manager may use in the writing process (Gold "
        "and the SQL endpoint's clients together), e.g. 2GB; beyond it DuckDB spills",
    )
    duckdb_max_temp_size: str = Field(
        "20GB",
        pattern=DUCKDB_SIZE_PATTERN,
        description="disk DuckDB may spill to, beside the warehouse file, e.g. 20GB",
    )
    # 1 thread (2026-12-06): up's Python 0.86 -> 0.74 cores at 10k events/s; 57k-row commit +17%.
    duckdb_threads: int | None = Field(None, ge=1, description="threads of the writing "
        "process's DuckDB (Gold's commits and the SQL endpoint's clients); unset = one per "
        "core; 1 costs less CPU at steady rates, more time on large batches")  # fmt: skip
    snowflake: SnowflakeSettings = SnowflakeSettings()
    # While the warehouse is unavailable Gold retries, waiting first `retry_initial_seconds`,
    # doubling up to `retry_max_seconds` between attempts, without ever giving up.
    retry_initial_seconds: float = Field(
        0.5, gt=0, description="first wait before retrying an unavailable warehouse"
    )
    retry_max_seconds: float = Field(
        30.0, gt=0, description="longest wait between retries (the wait doubles up to it)"
    )
    # The writer lease (one Gold per warehouse): a holder that stops renewing (crashed)
    # loses it after this many seconds; the running writer renews every third of it.
    lease_ttl_seconds: float = Field(
        60.0, gt=0, description="a crashed writer's lease expires after this"
    )

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

    reporting_currency: str = Field("USD", description="currency of every revenue figure")
    currency_rates: dict[str, Decimal] = Field(
        {
            "USD": Decimal("1"),
            "EUR": Decimal("1.08"),
            "GBP": Decimal("1.27"),
            "CAD": Decimal("0.73"),
            "AUD": Decimal("0.66"),
            "JPY": Decimal("0.0067"),
        },
        description="units of reporting currency per unit of each currency; a well-formed "
        "code missing here is dead-lettered as unsupported_currency",
    )
    lateness_horizon_days: float = Field(
        DEFAULT_LATENESS_HORIZON.days,
        gt=0,
        description="events older than this are dead-lettered as too_late; also the window "
        "of Gold's deduplication",
    )
    stall_seconds: float = Field(
        30.0, gt=0, description="a stage with input waiting and no commit for this long is stalled"
    )
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


# The generator's shop: every default below is a published figure or a stated assumption,
# each with its source in docs/generator.md ("Generator model"). Device tables are keyed by
# device name; their keys must agree.
DEVICE_SHARES = {"mobile": 0.73, "desktop": 0.24, "tablet": 0.03}
# Hourly traffic index, hour 0-23 of the shop's day (only the shape matters: normalized to
# a mean of 1). Trough 4 am, peak 8 pm, lowest hour about 1/7 of the highest.
DAY_CURVE = (
    80, 55, 35, 25, 21, 23, 35, 55, 75, 90, 103, 110,
    118, 122, 118, 115, 118, 125, 135, 145, 151, 148, 130, 105,
)  # fmt: skip


class GeneratorSettings(_Section):
    """The shop the built-in generator simulates (figures and sources: docs/generator.md)."""

    customers: int = Field(
        10_000, ge=1, le=10_000_000, description="customers known at the start; new ones join"
    )
    products: int = Field(1_000, ge=1, le=1_000_000, description="catalog size")
    new_customer_share: float = Field(
        0.52, ge=0, le=1, description="share of sessions from first-time customers"
    )
    returning_cart_lift: float = Field(
        1.95, ge=1, le=10, description="returning customers add to cart this many times as often"
    )
    activity_sigma: float = Field(
        1.2, ge=0, le=3, description="log-normal spread of how often returning customers visit"
    )
    mean_page_views: float = Field(5.0, ge=1, le=40, description="page views per session")
    mean_cart_lines: float = Field(1.5, ge=1, le=10, description="products per cart")
    device_shares: dict[str, float] = Field(
        default_factory=lambda: dict(DEVICE_SHARES), description="share of sessions per device"
    )
    bounce_rate: dict[str, float] = Field(
        default_factory=lambda: {"mobile": 0.37, "desktop": 0.26, "tablet": 0.28},
        description="share of single-page sessions per device",
    )
    conversion_rate: dict[str, float] = Field(
        default_factory=lambda: {"mobile": 0.018, "desktop": 0.039, "tablet": 0.038},
        description="share of sessions with a purchase, per device",
    )
    cart_abandonment: dict[str, float] = Field(
        default_factory=lambda: {"mobile": 0.72, "desktop": 0.66, "tablet": 0.68},
        description="share of sessions with a cart and no purchase, per device",
    )
    day_length_seconds: float = Field(
        1200.0,
        ge=0,
        description="live runs: length of one shop day (the traffic curve's period); 0 = flat",
    )
    day_curve_depth: float = Field(
        1.0, ge=0, le=1, description="0 = flat traffic, 1 = the full day/night curve"
    )
    day_curve: tuple[float, ...] = Field(
        DAY_CURVE, description="traffic index per hour 0-23 of the shop's day"
    )
    incidents: list[str] = Field(
        default_factory=list, description="incidents to inject: KIND@START+DURATION[:MAGNITUDE]"
    )

    @model_validator(mode="after")
    def _shop(self) -> GeneratorSettings:
        devices = set(self.device_shares)
        for name in ("bounce_rate", "conversion_rate", "cart_abandonment"):
            table = getattr(self, name)
            if set(table) != devices:
                raise ValueError(
                    f"{name} must name the devices of device_shares ({sorted(devices)}), "
                    f"got {sorted(table)}"
                )
            if any(not 0 <= v <= 1 for v in table.values()):
                raise ValueError(f"{name} values must be between 0 and 1")
        shares = self.device_shares.values()
        if not devices or any(v < 0 for v in shares) or abs(sum(shares) - 1) > 1e-6:
            raise ValueError("device_shares must be non-negative and add up to 1")
        for device in devices:
            carts = self.conversion_rate[device] / max(1e-12, 1 - self.cart_abandonment[device])
            if carts > 1 - self.bounce_rate[device]:
                raise ValueError(
                    f"{device}: conversion_rate / (1 - cart_abandonment) = {carts:.3f} sessions "
                    f"with a cart exceed the {1 - self.bounce_rate[device]:.3f} that do not bounce"
                )
        if len(self.day_curve) != 24 or min(self.day_curve) < 0 or sum(self.day_curve) <= 0:
            raise ValueError("day_curve needs 24 non-negative hourly values, not all zero")
        return self


class DashboardSettings(_Section):
    """The web dashboard, its JSON API, /health and /metrics."""

    host: str = Field("127.0.0.1", description="listen address; loopback by default")
    port: int = Field(8000, ge=0, le=65535, description="listen port; 0 = free port")
    allowed_hosts: list[str] = Field(
        [],
        description="host names the dashboard answers to besides loopback and its listen "
        "address (the Host header, e.g. behind a proxy); others get 400. '*' allows any",
    )


class SqlSettings(_Section):
    """The read-only PostgreSQL-protocol endpoint of the process that writes DuckDB."""

    enabled: bool = Field(True, description="serve the endpoint while a process writes DuckDB")
    host: str = Field("127.0.0.1", description="listen address; loopback by default")
    port: int = Field(5433, ge=0, le=65535, description="listen port; 0 = free port")
    user: str = Field("shopstream", min_length=1, description="the one user clients log in as")
    password: SecretStr | None = Field(
        None, description="unset = generated once per home into <home>/sql-password (0600)"
    )
    tls_cert: Path | None = Field(None, description="PEM certificate; with tls_key enables TLS")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    statement_timeout_seconds: float = Field(
        30.0,
        ge=0,
        description="a client statement running longer, parsing and sending its rows "
        "included, is cancelled; 0 = no limit",
    )
    max_connections: int = Field(
        32, ge=1, description="connections at once, logged in or not; more are refused"
    )
    # Before login a client may send only a start-up packet (<= 10,000 bytes, as PostgreSQL)
    # and SCRAM messages (<= 8 KiB); these bound what it may do after.
    max_message_bytes: int = Field(
        1 << 20,
        ge=1024,
        le=1 << 30,
        description="largest message a logged-in client may send (a query's text, a Bind's "
        "parameters); a larger declared length is refused at once and the connection closed",
    )
    auth_timeout_seconds: float = Field(
        10.0, gt=0, description="a connection that has not logged in by then is closed"
    )
    idle_session_timeout_seconds: float = Field(
        600.0, ge=0, description="a logged-in client silent this long is disconnected; 0 = never"
    )
    send_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="a client that reads none of its result for this long is disconnected "
        "(its statement's snapshot would otherwise hold DuckDB's checkpoints)",
    )
    client_memory_mb: int = Field(
        1024,
        ge=16,
        description="memory the clients' running statements may grow the writing process by, "
        "together; beyond it they are cancelled (SQLSTATE 53200), Gold's commits are not",
    )

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
    generator: GeneratorSettings = GeneratorSettings()
    sql: SqlSettings = SqlSettings()
    faults: FaultSettings = FaultSettings()
    alerts: AlertSettings = AlertSettings()

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


def set_environment(name: str, value: str) -> None:
    """Set `name` for a child the library starts itself (the JVM pyspark launches)."""
    os.environ[name] = value


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
