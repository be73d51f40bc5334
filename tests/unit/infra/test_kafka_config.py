"""Client configs derive from one Settings for both confluent-kafka and Spark."""

from __future__ import annotations

from pathlib import Path

from shopstream.config import load_settings
from shopstream.infra.kafka import _server_properties, client_config, spark_options


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


def test_three_broker_properties_replicate(tmp_path: Path) -> None:
    props = _server_properties(2, 9000, 9100, "1@h:1,2@h:2,3@h:3", tmp_path, 3)
    lines = dict(line.split("=", 1) for line in props.splitlines())
    assert lines["default.replication.factor"] == "3"
    assert lines["min.insync.replicas"] == "2"
    assert lines["node.id"] == "2"
    assert lines["process.roles"] == "broker,controller"


def test_cluster_ids_never_look_like_options() -> None:
    from shopstream.infra.kafka import _new_cluster_id

    ids = [_new_cluster_id() for _ in range(5000)]  # ~1 in 64 raw ids starts with '-'
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
