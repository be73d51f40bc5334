"""Client configs derive from one Settings for both confluent-kafka and Spark."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shopstream.config import KafkaSettings, load_settings
from shopstream.kafka.clients import security_problem
from shopstream.kafka.connection import (
    NOT_CONNECTION,
    Connection,
    client_config,
    effective_kafka,
    spark_options,
)
from shopstream.kafka.properties import server_properties
from shopstream.kafka.security import SecuredBroker
from shopstream.kafka.tls import issue_broker_tls


def test_plaintext_configs_match() -> None:
    s = load_settings(kafka={"bootstrap_servers": "h1:9092,h2:9092"})
    assert client_config(s)["bootstrap.servers"] == "h1:9092,h2:9092"
    assert spark_options(s)["kafka.bootstrap.servers"] == "h1:9092,h2:9092"
    assert spark_options(s)["kafka.security.protocol"] == "PLAINTEXT"


def test_sasl_scram_passed_to_both_clients() -> None:
    s = load_settings(
        kafka={
            "bootstrap_servers": "b:9093",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "alice",
            "sasl_password": "pw",
            "ssl_ca_location": "/etc/ca.pem",
        }
    )
    c = client_config(s)
    assert (c["sasl.mechanism"], c["sasl.username"], c["sasl.password"]) == (
        "SCRAM-SHA-512",
        "alice",
        "pw",
    )
    assert c["ssl.ca.location"] == "/etc/ca.pem"
    o = spark_options(s)
    assert o["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    assert "ScramLoginModule" in o["kafka.sasl.jaas.config"]
    assert 'username="alice"' in o["kafka.sasl.jaas.config"]
    assert o["kafka.ssl.truststore.type"] == "PEM"


def test_the_connection_model_holds_every_connection_setting() -> None:
    # A new KafkaSettings field is either a connection setting (so a Connection field,
    # checked below to reach both clients) or declared in NOT_CONNECTION.
    connection_settings = set(KafkaSettings.model_fields) - NOT_CONNECTION
    assert connection_settings - {"bootstrap_servers"} == {f.name for f in fields(Connection)} - {
        "bootstrap"
    }


def _every_field_set(tmp_path: Path) -> Connection:
    files = {}
    for name in ("ca", "cert", "key"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text(f"-----{name}-----\n")
    return Connection(
        bootstrap="b1:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="alice",
        sasl_password=SecretStr("pw"),
        ssl_ca_location=files["ca"],
        ssl_certificate_location=files["cert"],
        ssl_key_location=files["key"],
        ssl_key_password=SecretStr("kpw"),
    )


def _another(value: Any, tmp_path: Path) -> Any:
    if isinstance(value, SecretStr):
        return SecretStr(value.get_secret_value() + "-2")
    if isinstance(value, Path):
        other = tmp_path / f"other-{value.name}"
        other.write_text(f"other {value.read_text()}")
        return other
    assert isinstance(value, str), f"give _every_field_set a value for {value!r}"
    return value + "-2"


@pytest.mark.parametrize("name", [f.name for f in fields(Connection)])
def test_every_connection_field_reaches_both_clients(name: str, tmp_path: Path) -> None:
    base = _every_field_set(tmp_path)
    changed = replace(base, **{name: _another(getattr(base, name), tmp_path)})
    assert changed.librdkafka() != base.librdkafka(), f"librdkafka ignores {name}"
    assert changed.spark() != base.spark(), f"Spark's Kafka options ignore {name}"
    assert "pw" not in repr(base)


def test_three_broker_properties_replicate(tmp_path: Path) -> None:
    props = server_properties(2, 9000, 9100, "1@h:1,2@h:2,3@h:3", tmp_path, 3)
    lines = dict(line.split("=", 1) for line in props.splitlines())
    assert lines["default.replication.factor"] == "3"
    assert lines["min.insync.replicas"] == "2"
    assert lines["node.id"] == "2"
    assert lines["process.roles"] == "broker,controller"


def test_cluster_ids_never_look_like_options() -> None:
    from shopstream.kafka.cluster import _new_cluster_id

    ids = [_new_cluster_id() for _ in range(5000)]  # ~1 in 64 raw ids starts with '-'
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def _secured_home(tmp_path: Path) -> Path:
    """A home whose local cluster was started with --security sasl_ssl (files only)."""
    sec = tmp_path / "kafka" / "security"
    sec.mkdir(parents=True)
    doc = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "shopstream",
        "ssl_ca_location": str(sec / "ca.pem"),
    }
    (sec / "client.json").write_text(json.dumps(doc))
    (sec / "client.password").write_text("s3cret-local\n")
    return tmp_path


def test_local_secured_cluster_settings_reach_both_clients(tmp_path: Path) -> None:
    s = load_settings(home=_secured_home(tmp_path))
    k = effective_kafka(s)
    assert (k.security_protocol, k.sasl_mechanism, k.sasl_username) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "shopstream",
    )
    assert "s3cret-local" not in repr(k)
    c = client_config(s, "127.0.0.1:1")
    assert (c["security.protocol"], c["sasl.password"]) == ("SASL_SSL", "s3cret-local")
    assert c["ssl.ca.location"].endswith("kafka/security/ca.pem")
    o = spark_options(s, "127.0.0.1:1")
    assert 'password="s3cret-local"' in o["kafka.sasl.jaas.config"]
    assert o["kafka.ssl.truststore.location"].endswith("kafka/security/ca.pem")


def test_explicit_settings_win_over_the_local_cluster(tmp_path: Path) -> None:
    home = _secured_home(tmp_path)
    k = effective_kafka(load_settings(home=home, kafka={"sasl_password": "other"}))
    assert k.sasl_password is not None and k.sasl_password.get_secret_value() == "other"
    assert k.security_protocol == "SASL_SSL"
    external = load_settings(home=home, kafka={"bootstrap_servers": "b:9092"})
    assert effective_kafka(external).security_protocol == "PLAINTEXT"


def test_secured_broker_properties(tmp_path: Path) -> None:
    secured = SecuredBroker(tmp_path / "ca.pem", tmp_path / "b.pem", "cpw", "bpw")
    assert "bpw" not in repr(secured) and "cpw" not in repr(secured)
    props = server_properties(1, 9000, 9100, "1@h:9100", tmp_path, 1, secured)
    lines = dict(line.split("=", 1) for line in props.splitlines())
    assert lines["listeners"] == "SASL_SSL://127.0.0.1:9000,CONTROLLER://127.0.0.1:9100"
    assert lines["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    assert lines["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert lines["ssl.keystore.type"] == lines["ssl.truststore.type"] == "PEM"
    assert (
        'username="broker" password="bpw"'
        in lines["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    )


@pytest.mark.parametrize(
    ("error", "setting"),
    [
        (
            "SASL authentication error: Authentication failed during authentication due to "
            "invalid credentials with SASL mechanism SCRAM-SHA-512",
            "SHOPSTREAM_KAFKA__SASL_PASSWORD",
        ),
        (
            "SASL SCRAM-SHA-256 mechanism handshake failed: Broker: Unsupported SASL "
            "mechanism: broker's supported mechanisms: SCRAM-SHA-512",
            "SHOPSTREAM_KAFKA__SASL_MECHANISM",
        ),
        (
            "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed",
            "SHOPSTREAM_KAFKA__SSL_CA_LOCATION",
        ),
    ],
)
def test_security_failures_name_the_setting(error: str, setting: str) -> None:
    k = load_settings(
        kafka={"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256"}
    ).kafka
    message = security_problem(
        k, ["Failed to get metadata: Local: Broker transport failure", error]
    )
    assert message is not None and setting in message
    assert security_problem(k, ["Connection refused"]) is None


def test_generated_broker_certificate_chains_to_the_ca(tmp_path: Path) -> None:
    from cryptography import x509

    tls = issue_broker_tls(tmp_path)
    ca = x509.load_pem_x509_certificate(tls.ca.read_bytes())
    pem = tls.keystore.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    leaf = x509.load_pem_x509_certificates(pem[pem.index(b"-----BEGIN CERTIFICATE") :])[0]
    leaf.verify_directly_issued_by(ca)
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert tls.keystore.stat().st_mode & 0o077 == 0
