"""How a client reaches Kafka: ONE model of the connection, rendered for both clients.

`Connection` holds where Kafka is (the bootstrap servers: `kafka.bootstrap_servers`, else
the live brokers of the local cluster recorded under the home) and how to authenticate
(protocol, SASL, TLS files: the settings, with a secured local cluster's where none were
set). It renders itself for librdkafka (`librdkafka()`, confluent-kafka's config: what
`client_config` returns) and for Spark's Kafka source and sink (`spark()`, the
`kafka.`-prefixed options: what `spark_options` returns).

A new connection setting cannot reach one client and miss the other: `Connection` is
built from every field of `KafkaSettings` that is not in `NOT_CONNECTION`, and a unit
test (tests/unit/kafka/test_kafka_config.py) changes each field of `Connection` in turn
and requires both renderings to change with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from shopstream.config import KafkaSettings, Settings
from shopstream.errors import BrokerUnavailable
from shopstream.kafka.clientlog import log_config
from shopstream.kafka.security import client_security, security_dir
from shopstream.kafka.state import has_quorum, recorded_state


def bootstrap_servers(settings: Settings) -> str:
    """The configured cluster, or the local one started under this home."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    st = recorded_state(settings)
    live = st.live if st else []
    if st is None or not live:
        raise BrokerUnavailable(
            f"no Kafka broker is running for home {settings.state_dir}; start one with "
            "`shopstream kafka start` or set SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS."
        )
    if not has_quorum(len(live), len(st.brokers)):
        raise BrokerUnavailable(
            f"only {len(live)} of {len(st.brokers)} local Kafka brokers are running for home "
            f"{settings.state_dir}, too few for a quorum; restart the others with "
            "`shopstream kafka start`."
        )
    # Only live brokers: a client bootstrapping from a dead address waits out a timeout.
    return st.live_bootstrap


def effective_kafka(settings: Settings) -> KafkaSettings:
    """`settings.kafka`, with a secured local cluster's client settings where none were set.

    `kafka start --security sasl_ssl` records them under `<home>/kafka/security/`, so every
    later command connects without further configuration; a setting given explicitly (flag,
    env, toml) still wins, e.g. another password.
    """
    k = settings.kafka
    if k.bootstrap_servers:
        return k
    local = client_security(security_dir(settings))
    update = {name: v for name, v in local.items() if name not in k.model_fields_set}
    if not update:
        return k
    # Validated like any other setting (the password becomes a SecretStr).
    return KafkaSettings.model_validate(k.model_dump() | update)


# The fields of KafkaSettings that are not about reaching Kafka: which topics the pipeline
# uses, and how the local cluster runs. Every other field is a field of `Connection`
# (`bootstrap_servers` as `bootstrap`, resolved).
NOT_CONNECTION = frozenset(
    {
        "raw_topic",
        "clean_topic",
        "dead_letter_topic",
        "raw_partitions",
        "clean_partitions",
        "dead_letter_partitions",
        "broker_port",
        "data_dir",
        "brokers",
        "broker_heap",
    }
)

_PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
_SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value else ""


@dataclass(frozen=True)
class Connection:
    """Where Kafka is and how to authenticate to it; secrets stay out of its repr."""

    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = field(default=None, repr=False)
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    ssl_key_password: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def of(cls, k: KafkaSettings, bootstrap: str) -> Connection:
        """The connection `k` describes (every field but `bootstrap` copied by name)."""
        copied = {f.name: getattr(k, f.name) for f in fields(cls) if f.name != "bootstrap"}
        return cls(bootstrap, **copied)

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    @property
    def ssl(self) -> bool:
        return self.security_protocol.endswith("SSL")

    @property
    def mechanism(self) -> str:
        """The SASL mechanism: as set, else PLAIN (both clients' default)."""
        return self.sasl_mechanism or "PLAIN"

    def librdkafka(self) -> dict[str, Any]:
        """confluent-kafka's (librdkafka's) configuration keys."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
        }
        if self.sasl:
            conf["sasl.mechanism"] = self.mechanism
            conf["sasl.username"] = self.sasl_username or ""
            conf["sasl.password"] = _secret(self.sasl_password)
        if self.ssl:
            for key, val in (
                ("ssl.ca.location", self.ssl_ca_location),
                ("ssl.certificate.location", self.ssl_certificate_location),
                ("ssl.key.location", self.ssl_key_location),
            ):
                if val:
                    conf[key] = str(val)
            if self.ssl_key_password:
                conf["ssl.key.password"] = _secret(self.ssl_key_password)
        return conf

    def spark(self) -> dict[str, str]:
        """Spark's Kafka source and sink options (the Java client's keys, `kafka.`-prefixed)."""
        opts = {
            "kafka.bootstrap.servers": self.bootstrap,
            "kafka.security.protocol": self.security_protocol,
        }
        if self.sasl:
            module = _PLAIN_MODULE if self.mechanism == "PLAIN" else _SCRAM_MODULE
            opts["kafka.sasl.mechanism"] = self.mechanism
            opts["kafka.sasl.jaas.config"] = (
                f'{module} required username="{self.sasl_username or ""}" '
                f'password="{_secret(self.sasl_password)}";'
            )
        if self.ssl:
            # Java clients read PEM directly (KIP-651), so one set of files serves both clients.
            if self.ssl_ca_location:
                opts["kafka.ssl.truststore.type"] = "PEM"
                opts["kafka.ssl.truststore.location"] = str(self.ssl_ca_location)
            if self.ssl_certificate_location and self.ssl_key_location:
                opts["kafka.ssl.keystore.type"] = "PEM"
                opts["kafka.ssl.keystore.certificate.chain"] = (
                    self.ssl_certificate_location.read_text()
                )
                opts["kafka.ssl.keystore.key"] = self.ssl_key_location.read_text()
                if self.ssl_key_password:
                    opts["kafka.ssl.key.password"] = _secret(self.ssl_key_password)
        return opts


def connection(settings: Settings, bootstrap: str | None = None) -> Connection:
    """The connection every client of this command uses (`bootstrap` overrides the servers)."""
    return Connection.of(effective_kafka(settings), bootstrap or bootstrap_servers(settings))


def client_config(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """Base confluent-kafka (librdkafka) config: security included, its log to the home."""
    return connection(settings, bootstrap).librdkafka() | log_config(settings)


def spark_options(settings: Settings, bootstrap: str | None = None) -> dict[str, str]:
    """The same connection as Spark Kafka source/sink options (`kafka.`-prefixed)."""
    return connection(settings, bootstrap).spark()
