"""Kafka: the local KRaft broker(s) started from Maven-resolved jars, client configs, topics.

With `kafka.bootstrap_servers` set, shopstream talks to that cluster and never starts a
broker. Otherwise `LocalCluster` runs 1 or 3 combined broker+controller processes under
`<home>/kafka/`, with a state file so any later command finds them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shopstream.config import Settings
from shopstream.errors import BrokerUnavailable, KafkaError
from shopstream.infra import jars
from shopstream.infra.ports import free_port, is_listening

HOST = "127.0.0.1"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0

_LOG4J = """\
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


@dataclass
class BrokerProcess:
    """One local broker+controller process."""

    node_id: int
    port: int
    controller_port: int
    pid: int
    log: str

    def alive(self) -> bool:
        return pid_alive(self.pid)


@dataclass
class ClusterState:
    """What `kafka start` leaves in `<home>/kafka/cluster.json`."""

    cluster_id: str
    brokers: list[BrokerProcess]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{HOST}:{b.port}" for b in self.brokers)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        raw = json.loads(text)
        return cls(raw["cluster_id"], [BrokerProcess(**b) for b in raw["brokers"]])


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


class LocalCluster:
    """Local KRaft cluster under a state dir: start (idempotent), wait-ready, stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.kafka_dir
        self.state_file = self.dir / "cluster.json"

    def state(self) -> ClusterState | None:
        """The recorded cluster, or None if nothing was started here."""
        if not self.state_file.is_file():
            return None
        return ClusterState.from_json(self.state_file.read_text())

    def running(self) -> ClusterState | None:
        """The recorded cluster if all its processes are alive."""
        st = self.state()
        if st and st.brokers and all(b.alive() for b in st.brokers):
            return st
        return None

    def start(self, brokers: int | None = None) -> ClusterState:
        """Start the cluster, or return the running one; blocks until it answers."""
        n = brokers or self.settings.kafka.brokers
        current = self.running()
        if current is not None:
            if len(current.brokers) != n:
                raise KafkaError(
                    f"a {len(current.brokers)}-broker cluster is already running in {self.dir}; "
                    "stop it first with `shopstream kafka stop`."
                )
            wait_ready(current.bootstrap, self.settings, procs=current.brokers)
            return current
        self._reap_stale()
        cp = ":".join(str(p) for p in jars.classpath("kafka"))
        prior = self.state() or self._last()
        if prior and len(prior.brokers) != n and self._formatted_cluster_id():
            raise KafkaError(
                f"{self.dir} holds the data of a {len(prior.brokers)}-broker cluster; start "
                f"it with --brokers {len(prior.brokers)}, or use another --home or "
                "`shopstream reset`."
            )
        cluster_id = self._formatted_cluster_id() or _new_cluster_id()
        nodes = self._plan(n, prior)
        voters = ",".join(f"{i}@{HOST}:{cport}" for i, _, cport in nodes)
        procs: list[BrokerProcess] = []
        try:
            for node_id, port, cport in nodes:
                procs.append(self._start_node(cp, cluster_id, node_id, port, cport, voters, n))
            state = ClusterState(cluster_id, procs)
            self.state_file.write_text(state.to_json())
            wait_ready(state.bootstrap, self.settings, procs=procs)
        except BaseException:
            for p in procs:
                _terminate(p.pid, STOP_TIMEOUT_S)
            self.state_file.unlink(missing_ok=True)
            raise
        return state

    def _last(self) -> ClusterState | None:
        last = self.dir / "last-cluster.json"
        return ClusterState.from_json(last.read_text()) if last.is_file() else None

    def _formatted_cluster_id(self) -> str | None:
        """The id node 1's storage was formatted with; a restart must reuse it."""
        meta = self.dir / "node-1" / "data" / "meta.properties"
        if not meta.is_file():
            return None
        for line in meta.read_text().splitlines():
            if line.startswith("cluster.id="):
                return line.split("=", 1)[1].strip()
        return None

    def _plan(self, n: int, prior: ClusterState | None) -> list[tuple[int, int, int]]:
        """(node_id, port, controller_port) per node; reuse ports so clients can reconnect."""
        if prior and len(prior.brokers) == n:
            ports = [p for b in prior.brokers for p in (b.port, b.controller_port)]
            if not any(is_listening(HOST, p) for p in ports):
                return [(b.node_id, b.port, b.controller_port) for b in prior.brokers]
        base = self.settings.kafka.broker_port
        nodes = []
        for i in range(1, n + 1):
            port = base + i - 1 if base else free_port()
            nodes.append((i, port, free_port()))
        return nodes

    def _start_node(
        self, cp: str, cluster_id: str, node_id: int, port: int, cport: int, voters: str, n: int
    ) -> BrokerProcess:
        node_dir = self.dir / f"node-{node_id}"
        data_dir = node_dir / "data"
        node_dir.mkdir(parents=True, exist_ok=True)
        log = self.settings.log_dir / f"kafka-{node_id}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        if is_listening(HOST, port):
            raise KafkaError(
                f"port {port} is already in use; set SHOPSTREAM_KAFKA__BROKER_PORT to a free "
                "port or 0 to pick one."
            )
        props = node_dir / "server.properties"
        props.write_text(_server_properties(node_id, port, cport, voters, data_dir, n))
        log4j = node_dir / "log4j2.properties"
        log4j.write_text(_LOG4J.format(log=log))
        java = ["java", f"-Xmx{self.settings.kafka.broker_heap}", "-XX:+UseG1GC"]
        java += ["-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={log4j}"]
        java += [f"-Dkafka.logs.dir={self.settings.log_dir}", "-cp", cp]
        if not (data_dir / "meta.properties").is_file():
            fmt = [*java, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)]
            proc = subprocess.run(fmt, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise KafkaError(f"formatting broker storage failed: {proc.stderr.strip()[-300:]}")
        with open(log, "ab") as out:
            # A new session: Ctrl-C in the terminal that started it must not kill the broker.
            p = subprocess.Popen(
                [*java, "kafka.Kafka", str(props)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return BrokerProcess(node_id, port, cport, p.pid, str(log))

    def _reap_stale(self) -> None:
        st = self.state()
        if st:
            for b in st.brokers:
                if b.alive():
                    _terminate(b.pid, STOP_TIMEOUT_S)

    def stop(self) -> int:
        """Stop every broker gracefully (SIGTERM, then SIGKILL); return how many were stopped."""
        st = self.state()
        if st is None:
            return 0
        stopped = 0
        # Stop brokers before the last controller voters, in reverse, to let them hand off.
        for b in reversed(st.brokers):
            if b.alive():
                _terminate(b.pid, STOP_TIMEOUT_S)
                stopped += 1
        self.state_file.unlink(missing_ok=True)
        # Keep ports in a sibling file so the next start reuses them (clients reconnect).
        (self.dir / "last-cluster.json").write_text(st.to_json())
        return stopped


def _terminate(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            _reap(pid)
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _new_cluster_id() -> str:
    """A Kafka-style id; like Kafka's Uuid.randomUuid, never one starting with '-', which
    the storage tool would read as an option."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _server_properties(
    node_id: int, port: int, cport: int, voters: str, data_dir: Path, n: int
) -> str:
    rf, isr = (3, 2) if n == 3 else (1, 1)
    props = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
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
    return "".join(f"{k}={v}\n" for k, v in props.items())


# --------------------------------------------------------------------------- clients


def bootstrap_servers(settings: Settings) -> str:
    """The configured cluster, or the local one started under this home."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    st = LocalCluster(settings).running()
    if st is None:
        raise BrokerUnavailable(
            f"no Kafka broker is running for home {settings.state_dir}; start one with "
            "`shopstream kafka start` or set SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS."
        )
    return st.bootstrap


def client_config(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """Base confluent-kafka (librdkafka) config, security included."""
    k = settings.kafka
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
    k = settings.kafka
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


def admin(settings: Settings, bootstrap: str | None = None) -> Any:
    """A confluent-kafka AdminClient."""
    from confluent_kafka.admin import AdminClient

    # Errors only: info-level chatter (queue purges at exit) is noise in a terminal.
    return AdminClient(client_config(settings, bootstrap) | {"log_level": 3})


def wait_ready(
    bootstrap: str,
    settings: Settings,
    timeout: float = READY_TIMEOUT_S,
    procs: list[BrokerProcess] | None = None,
) -> None:
    """Block until every broker answers a metadata request (or raise with the log tail)."""
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout
    want = len(procs) if procs else 1

    def check_alive() -> None:
        for p in procs or []:
            if not p.alive():
                tail = Path(p.log).read_text(errors="replace").splitlines()[-5:]
                raise KafkaError(f"broker {p.node_id} exited during start-up: {' | '.join(tail)}")

    # Wait for the listeners first: a client created earlier logs every refused connect.
    for p in procs or []:
        while not is_listening(HOST, p.port) and time.monotonic() < deadline:
            check_alive()
            time.sleep(0.2)
    client = admin(settings, bootstrap)
    last = "no answer"
    while time.monotonic() < deadline:
        check_alive()
        try:
            md = client.list_topics(timeout=2)
            if len(md.brokers) >= want:
                return
            last = f"{len(md.brokers)}/{want} brokers registered"
        except KafkaException as err:
            last = str(err)
        time.sleep(0.3)
    raise BrokerUnavailable(f"Kafka at {bootstrap} did not answer within {timeout:.0f}s ({last}).")


def topic_specs(settings: Settings) -> dict[str, int]:
    """Topic name -> partitions, for the three pipeline topics."""
    k = settings.kafka
    return {
        k.raw_topic: k.raw_partitions,
        k.clean_topic: k.clean_partitions,
        k.dead_letter_topic: k.dead_letter_partitions,
    }


def ensure_topics(settings: Settings, bootstrap: str | None = None) -> dict[str, int]:
    """Create the pipeline topics if missing (idempotent); return name -> partitions."""
    specs = topic_specs(settings)
    create_topics(settings, specs, bootstrap)
    return specs


def create_topics(settings: Settings, topics: dict[str, int], bootstrap: str | None = None) -> None:
    """Create `topics` (name -> partitions) where missing; return once all have leaders.

    Replication: min(3, brokers) on the local cluster, the broker's default on a configured
    one. A topic created meanwhile by someone else is fine; any other failure raises.
    """
    from confluent_kafka import KafkaError as CKError
    from confluent_kafka.admin import NewTopic

    client = admin(settings, bootstrap)
    metadata = client.list_topics(timeout=10)
    rf = min(3, len(metadata.brokers)) if not settings.kafka.bootstrap_servers else -1
    new = [
        NewTopic(name, num_partitions=partitions, replication_factor=rf)
        for name, partitions in topics.items()
        if name not in metadata.topics
    ]
    if new:
        for topic, fut in client.create_topics(new, operation_timeout=30).items():
            try:
                fut.result()
            except Exception as err:  # racing creators are fine; anything else is not
                if _error_code(err) != CKError.TOPIC_ALREADY_EXISTS:
                    raise KafkaError(f"could not create topic {topic}: {err}") from None
        _wait_for_leaders(client, [t.topic for t in new])


def delete_topics(settings: Settings, names: list[str], bootstrap: str | None = None) -> None:
    """Delete topics and wait for the brokers to confirm; topics already gone are fine."""
    from confluent_kafka import KafkaError as CKError

    if not names:
        return
    client = admin(settings, bootstrap)  # must outlive the futures, or they fail with _DESTROY
    for topic, fut in client.delete_topics(names, operation_timeout=30).items():
        try:
            fut.result()
        except Exception as err:
            if _error_code(err) != CKError.UNKNOWN_TOPIC_OR_PART:
                raise KafkaError(f"could not delete topic {topic}: {err}") from None


def _error_code(err: Exception) -> int | None:
    """The librdkafka error code an admin future failed with, if any."""
    return err.args[0].code() if err.args and hasattr(err.args[0], "code") else None


def _wait_for_leaders(client: Any, topics: list[str], timeout: float = 30.0) -> None:
    """New partitions have no leader for a moment; callers expect usable topics."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        md = client.list_topics(timeout=10).topics
        if all(
            t in md and md[t].partitions and all(p.leader >= 0 for p in md[t].partitions.values())
            for t in topics
        ):
            return
        time.sleep(0.1)
    raise BrokerUnavailable(f"topics {topics} got no partition leaders within {timeout:.0f}s.")


def watermarks(
    settings: Settings, topic: str, bootstrap: str | None = None
) -> dict[int, tuple[int, int]]:
    """Partition -> (low, high) offsets of a topic; empty if the topic does not exist."""
    from confluent_kafka import Consumer, TopicPartition

    conf = client_config(settings, bootstrap) | {
        "group.id": f"shopstream-watermarks-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
    }
    consumer = Consumer(conf)
    try:
        md = consumer.list_topics(topic, timeout=10)
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            return {}
        return {p: _watermark(consumer, TopicPartition(topic, p)) for p in sorted(tmd.partitions)}
    finally:
        consumer.close()


def _watermark(consumer: Any, tp: Any, timeout: float = 15.0) -> tuple[int, int]:
    from confluent_kafka import KafkaError as CKError
    from confluent_kafka import KafkaException

    # Leadership moves (a new topic, a broker restart) are transient, although librdkafka
    # does not mark NOT_LEADER_FOR_PARTITION retriable here; anything else is not.
    leadership = {
        CKError.NOT_LEADER_FOR_PARTITION,
        CKError.LEADER_NOT_AVAILABLE,
        CKError.UNKNOWN_TOPIC_OR_PART,
    }
    deadline = time.monotonic() + timeout
    while True:
        try:
            lo, hi = consumer.get_watermark_offsets(tp, timeout=5)
            return int(lo), int(hi)
        except KafkaException as err:
            kerr = err.args[0]
            transient = kerr.retriable() or kerr.code() in leadership
            if not transient or time.monotonic() > deadline:
                raise KafkaError(f"cannot read offsets of {tp.topic}: {err}") from None
            time.sleep(0.2)


def end_offsets(settings: Settings, topic: str, bootstrap: str | None = None) -> dict[int, int]:
    """Partition -> end (high-watermark) offset."""
    return {p: hi for p, (_, hi) in watermarks(settings, topic, bootstrap).items()}


def message_count(settings: Settings, topic: str, bootstrap: str | None = None) -> int:
    """Messages currently retained in a topic."""
    return sum(hi - lo for lo, hi in watermarks(settings, topic, bootstrap).values())


def cluster_status(settings: Settings) -> dict[str, Any]:
    """The `kafka status --json` document (shape fixed in DESIGN.md)."""
    local = None if settings.kafka.bootstrap_servers else LocalCluster(settings).state()
    bootstrap = bootstrap_servers(settings)
    md = admin(settings, bootstrap).list_topics(timeout=10)
    brokers = []
    for b in sorted(md.brokers.values(), key=lambda b: b.id):
        entry: dict[str, Any] = {"id": b.id, "host": b.host, "port": b.port}
        if local:
            proc = next((p for p in local.brokers if p.node_id == b.id), None)
            if proc:
                entry |= {"pid": proc.pid, "alive": proc.alive(), "log": proc.log}
        brokers.append(entry)
    topics = {}
    for name in sorted(md.topics):
        if name.startswith("__"):
            continue
        marks = watermarks(settings, name, bootstrap)
        topics[name] = {
            "partitions": len(md.topics[name].partitions),
            "messages": sum(hi - lo for lo, hi in marks.values()),
            "end_offsets": {str(p): hi for p, (_, hi) in marks.items()},
        }
    return {
        "bootstrap": bootstrap,
        "local": local is not None,
        "brokers": brokers,
        "topics": topics,
    }
