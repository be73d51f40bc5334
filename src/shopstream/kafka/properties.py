"""What a local broker+controller node starts with: its server.properties and log4j2 file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopstream.kafka.security import BROKER_USER, SCRAM_MECHANISM, SecuredBroker
from shopstream.kafka.state import HOST

LOG4J = """\
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def server_properties(
    node_id: int,
    port: int,
    cport: int,
    voters: str,
    data_dir: Path,
    n: int,
    secured: SecuredBroker | None = None,
) -> str:
    rf, isr = (3, 2) if n == 3 else (1, 1)
    # The controller listener stays PLAINTEXT on loopback; clients and brokers use `name`.
    name = "SASL_SSL" if secured else "PLAINTEXT"
    props: dict[str, Any] = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": voters,
        "listeners": f"{name}://{HOST}:{port},CONTROLLER://{HOST}:{cport}",
        "advertised.listeners": f"{name}://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": name,
        "listener.security.protocol.map": f"{name}:{name},CONTROLLER:PLAINTEXT",
        "log.dirs": data_dir,
        "num.partitions": 3,
        "default.replication.factor": rf,
        "min.insync.replicas": isr,
        "offsets.topic.replication.factor": rf,
        "offsets.topic.num.partitions": 3,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": isr,
        "group.initial.rebalance.delay.ms": 0,
        # Typos in topic names should fail loudly, not create empty topics.
        "auto.create.topics.enable": "false",
        "log.retention.hours": 168,
        "log.segment.bytes": 256 * 1024 * 1024,
        "message.max.bytes": 8 * 1024 * 1024,
    }
    if secured:
        module = "org.apache.kafka.common.security.scram.ScramLoginModule"
        props |= {
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": (
                f'{module} required username="{BROKER_USER}" password="{secured.broker_password}";'
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": secured.keystore,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": secured.ca,
        }
    return "".join(f"{k}={v}\n" for k, v in props.items())
