"""How a client reaches Kafka: the bootstrap servers and the security settings.

With `kafka.bootstrap_servers` set, that cluster; otherwise the local one recorded under
the home (its live brokers only), with a secured local cluster's client settings where
none were set. `client_config` renders the connection for librdkafka (confluent-kafka),
`spark_options` for Spark's Kafka source and sink.
"""

from __future__ import annotations

from typing import Any

from shopstream.config import KafkaSettings, Settings
from shopstream.errors import BrokerUnavailable
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


def client_config(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """Base confluent-kafka (librdkafka) config, security included."""
    k = effective_kafka(settings)
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap or bootstrap_servers(settings),
        "security.protocol": k.security_protocol,
    }
    if k.sasl:
        conf["sasl.mechanism"] = k.sasl_mechanism or "PLAIN"
        conf["sasl.username"] = k.sasl_username or ""
        conf["sasl.password"] = k.sasl_password.get_secret_value() if k.sasl_password else ""
    if k.ssl:
        for key, val in (
            ("ssl.ca.location", k.ssl_ca_location),
            ("ssl.certificate.location", k.ssl_certificate_location),
            ("ssl.key.location", k.ssl_key_location),
        ):
            if val:
                conf[key] = str(val)
        if k.ssl_key_password:
            conf["ssl.key.password"] = k.ssl_key_password.get_secret_value()
    return conf


def spark_options(settings: Settings, bootstrap: str | None = None) -> dict[str, str]:
    """The same connection as Spark Kafka source/sink options (`kafka.`-prefixed)."""
    k = effective_kafka(settings)
    opts = {
        "kafka.bootstrap.servers": bootstrap or bootstrap_servers(settings),
        "kafka.security.protocol": k.security_protocol,
    }
    if k.sasl:
        mech = k.sasl_mechanism or "PLAIN"
        module = (
            "org.apache.kafka.common.security.plain.PlainLoginModule"
            if mech == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule"
        )
        pw = k.sasl_password.get_secret_value() if k.sasl_password else ""
        opts["kafka.sasl.mechanism"] = mech
        opts["kafka.sasl.jaas.config"] = (
            f'{module} required username="{k.sasl_username or ""}" password="{pw}";'
        )
    if k.ssl:
        # Java clients read PEM directly (KIP-651), so one set of files serves both clients.
        if k.ssl_ca_location:
            opts["kafka.ssl.truststore.type"] = "PEM"
            opts["kafka.ssl.truststore.location"] = str(k.ssl_ca_location)
        if k.ssl_certificate_location and k.ssl_key_location:
            opts["kafka.ssl.keystore.type"] = "PEM"
            opts["kafka.ssl.keystore.certificate.chain"] = k.ssl_certificate_location.read_text()
            opts["kafka.ssl.keystore.key"] = k.ssl_key_location.read_text()
            if k.ssl_key_password:
                opts["kafka.ssl.key.password"] = k.ssl_key_password.get_secret_value()
    return opts
