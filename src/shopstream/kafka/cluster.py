"""Kafka: the local KRaft broker(s) started from Maven-resolved jars, client configs, topics.

With `kafka.bootstrap_servers` set, shopstream talks to that cluster and never starts a
broker. Otherwise `LocalCluster` runs 1 or 3 combined broker+controller processes under
`<home>/kafka/`, with a state file so any later command finds them.

A 3-broker cluster keeps serving while a majority (its KRaft quorum) lives: it is then
*degraded*, every command bootstraps from the live brokers, `kafka start` restarts only
the dead ones (same node id, port and data directory) and `kafka stop` stops the others.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from shopstream.config import KafkaSettings, Settings
from shopstream.errors import BrokerUnavailable, ConfigError, KafkaError
from shopstream.ports import free_ports, is_listening
from shopstream.procinfo import pid_alive
from shopstream.spark import jars

HOST = "127.0.0.1"
READY_TIMEOUT_S = 90.0
PROBE_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 30.0
# How long a node that can no longer reach a controller quorum gets to finish stopping.
QUORUMLESS_GRACE_S = 3.0

LocalSecurity = Literal["plaintext", "sasl_ssl"]
SCRAM_MECHANISM = "SCRAM-SHA-512"
CLIENT_USER = "shopstream"
BROKER_USER = "broker"  # inter-broker traffic authenticates too

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
    # Empty in state files written before it was recorded; `node-<id>/data` then.
    data_dir: str = ""

    def alive(self) -> bool:
        return pid_alive(self.pid)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"


@dataclass
class ClusterState:
    """What `kafka start` leaves in `<home>/kafka/cluster.json`."""

    cluster_id: str
    brokers: list[BrokerProcess]
    security: LocalSecurity = "plaintext"

    @property
    def bootstrap(self) -> str:
        """Every broker's address."""
        return ",".join(b.address for b in self.brokers)

    @property
    def live(self) -> list[BrokerProcess]:
        """The brokers whose process is alive."""
        return [b for b in self.brokers if b.alive()]

    @property
    def dead(self) -> list[BrokerProcess]:
        """The brokers whose process is gone."""
        return [b for b in self.brokers if not b.alive()]

    @property
    def live_bootstrap(self) -> str:
        """The live brokers' addresses: clients bootstrap from those."""
        return ",".join(b.address for b in self.live)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        raw = json.loads(text)
        brokers = [BrokerProcess(**b) for b in raw["brokers"]]
        return cls(raw["cluster_id"], brokers, raw.get("security", "plaintext"))


def has_quorum(alive: int, total: int) -> bool:
    """Whether `alive` of `total` combined broker+controllers keep a KRaft quorum.

    >>> has_quorum(2, 3), has_quorum(1, 3), has_quorum(1, 1), has_quorum(0, 1)
    (True, False, True, False)
    """
    return alive > total // 2


class LocalCluster:
    """Local KRaft cluster under a state dir: start (idempotent), wait-ready, stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.kafka_dir
        self.state_file = self.dir / "cluster.json"
        self.security_dir = self.dir / "security"

    def state(self) -> ClusterState | None:
        """The recorded cluster, or None if nothing was started here."""
        if not self.state_file.is_file():
            return None
        return ClusterState.from_json(self.state_file.read_text())

    def running(self) -> ClusterState | None:
        """The recorded cluster if it serves: all its processes alive, or a quorum of them."""
        st = self.state()
        if st and st.brokers and has_quorum(len(st.live), len(st.brokers)):
            return st
        return None

    def start(
        self, brokers: int | None = None, security: LocalSecurity | None = None
    ) -> ClusterState:
        """Start the cluster, or return the running one; blocks until it answers.

        `security` None keeps what the data was formatted with (plaintext for new data);
        "sasl_ssl" serves clients over TLS with SCRAM-SHA-512 users (see `_secure`).
        Brokers of the recorded cluster that died are restarted in place (same node id,
        port and data directory) while the others keep running.
        """
        recorded = self.state()
        n = brokers or self._wanted_size(recorded)
        formatted = self._formatted_cluster_id()
        had = self.formatted_security() if formatted else None
        mode: LocalSecurity = security or had or "plaintext"
        if had is not None and mode != had:
            raise KafkaError(
                f"{self.dir} holds the data of a {had} cluster; start it with --security "
                f"{had}, or use another --home or `shopstream reset`."
            )
        if recorded and recorded.brokers and recorded.live:
            if len(recorded.brokers) != n or recorded.security != mode:
                raise KafkaError(
                    f"a {len(recorded.brokers)}-broker {recorded.security} cluster is already "
                    f"running in {self.dir}; stop it first with `shopstream kafka stop`."
                )
            if recorded.dead:
                return self._restart_dead(recorded)
            wait_ready(recorded.bootstrap, self.settings, procs=recorded.brokers)
            return recorded
        self._reap_stale()
        cp = ":".join(str(p) for p in jars.classpath("kafka"))
        prior = self.state() or self._last()
        if prior and len(prior.brokers) != n and formatted:
            raise KafkaError(
                f"{self.dir} holds the data of a {len(prior.brokers)}-broker cluster; start "
                f"it with --brokers {len(prior.brokers)}, or use another --home or "
                "`shopstream reset`."
            )
        cluster_id = formatted or _new_cluster_id()
        secured = self._secure(fresh=formatted is None) if mode == "sasl_ssl" else None
        nodes = self._plan(n, prior)
        voters = ",".join(f"{i}@{HOST}:{cport}" for i, _, cport in nodes)
        procs: list[BrokerProcess] = []
        try:
            for node_id, port, cport in nodes:
                procs.append(
                    self._start_node(cp, cluster_id, node_id, port, cport, voters, n, secured)
                )
            state = ClusterState(cluster_id, procs, mode)
            self.state_file.write_text(state.to_json())
            wait_ready(state.bootstrap, self.settings, procs=procs)
        except BaseException:
            for p in procs:
                _terminate(p.pid, STOP_TIMEOUT_S)
            self.state_file.unlink(missing_ok=True)
            raise
        return state

    def formatted_security(self) -> LocalSecurity:
        """What this data dir's cluster serves clients with (its users live in its metadata)."""
        return "sasl_ssl" if (self.security_dir / "client.json").is_file() else "plaintext"

    def _secure(self, fresh: bool) -> SecuredBroker:
        """The TLS files and SCRAM passwords, made once per data dir (new with new data)."""
        from shopstream.kafka.tls import issue_broker_tls, write_private

        d = self.security_dir
        client = d / "client.json"
        if fresh or not client.is_file():
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o700)
            tls = issue_broker_tls(d)
            write_private(d / "client.password", secrets.token_hex(24).encode())
            write_private(d / "broker.password", secrets.token_hex(24).encode())
            # Written last: its presence means "this data dir is secured" (see above).
            doc = {
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": SCRAM_MECHANISM,
                "sasl_username": CLIENT_USER,
                "ssl_ca_location": str(tls.ca),
            }
            client.write_text(json.dumps(doc, indent=2))
        return SecuredBroker(
            ca=d / "ca.pem",
            keystore=d / "broker.pem",
            client_password=(d / "client.password").read_text().strip(),
            broker_password=(d / "broker.password").read_text().strip(),
        )

    def client_security(self) -> dict[str, Any]:
        """The client settings of a secured local cluster (password included), else {}."""
        client = self.security_dir / "client.json"
        if not client.is_file():
            return {}
        doc: dict[str, Any] = json.loads(client.read_text())
        doc["sasl_password"] = (self.security_dir / "client.password").read_text().strip()
        return doc

    def _wanted_size(self, recorded: ClusterState | None) -> int:
        """Brokers wanted: as configured, else as recorded (so `kafka start` heals a cluster)."""
        configured = "brokers" in self.settings.kafka.model_fields_set
        if recorded and recorded.brokers and not configured:
            return len(recorded.brokers)
        return self.settings.kafka.brokers

    def _restart_dead(self, state: ClusterState) -> ClusterState:
        """Start the dead brokers of a live cluster again, each on its own port and data."""
        cp = ":".join(str(p) for p in jars.classpath("kafka"))
        voters = _voters(state.brokers)
        n = len(state.brokers)
        secured = self._secure(fresh=False) if state.security == "sasl_ssl" else None
        restarted = []
        try:
            for b in state.dead:
                restarted.append(
                    self._start_node(
                        cp,
                        state.cluster_id,
                        b.node_id,
                        b.port,
                        b.controller_port,
                        voters,
                        n,
                        secured,
                    )
                )
            fresh = {b.node_id: b for b in restarted}
            nodes = [fresh.get(b.node_id, b) for b in state.brokers]
            state = ClusterState(state.cluster_id, nodes, state.security)
            self.state_file.write_text(state.to_json())
            wait_ready(state.bootstrap, self.settings, procs=state.brokers)
        except BaseException:
            for p in restarted:
                _terminate(p.pid, STOP_TIMEOUT_S)
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
        free = free_ports(2 * n)
        nodes = []
        for i in range(1, n + 1):
            port = base + i - 1 if base else free[2 * i - 1]
            nodes.append((i, port, free[2 * i - 2]))
        return nodes

    def _start_node(
        self,
        cp: str,
        cluster_id: str,
        node_id: int,
        port: int,
        cport: int,
        voters: str,
        n: int,
        secured: SecuredBroker | None = None,
    ) -> BrokerProcess:
        node_dir = self.dir / f"node-{node_id}"
        data_dir = local_data_dir(self.settings, node_id)
        node_dir.mkdir(parents=True, exist_ok=True)
        log = self.settings.log_dir / f"kafka-{node_id}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        if is_listening(HOST, port):
            raise KafkaError(
                f"port {port} is already in use; set SHOPSTREAM_KAFKA__BROKER_PORT to a free "
                "port or 0 to pick one."
            )
        props = node_dir / "server.properties"
        props.unlink(missing_ok=True)
        # Owner-only: with security on it holds the broker's own SCRAM password.
        props.touch(mode=0o600)
        props.write_text(_server_properties(node_id, port, cport, voters, data_dir, n, secured))
        log4j = node_dir / "log4j2.properties"
        log4j.write_text(_LOG4J.format(log=log))
        java = ["java", f"-Xmx{self.settings.kafka.broker_heap}", "-XX:+UseG1GC"]
        java += ["-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={log4j}"]
        java += [f"-Dkafka.logs.dir={self.settings.log_dir}", "-cp", cp]
        if not (data_dir / "meta.properties").is_file():
            fmt = [*java, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props)]
            if secured is not None:
                # KRaft keeps SCRAM credentials in the metadata log: bootstrap them here.
                for user, pw in secured.users().items():
                    fmt += ["--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={pw}]"]
            proc = subprocess.run(fmt, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                detail = proc.stderr.strip()[-300:]
                if secured is not None:
                    for pw in secured.users().values():
                        detail = detail.replace(pw, "***")
                raise KafkaError(f"formatting broker storage failed: {detail}")
        with open(log, "ab") as out:
            # A new session: Ctrl-C in the terminal that started it must not kill the broker.
            p = subprocess.Popen(
                [*java, "kafka.Kafka", str(props)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return BrokerProcess(node_id, port, cport, p.pid, str(log), str(data_dir))

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
        alive = [b for b in st.brokers if b.alive()]
        _stop_together(alive, len(st.brokers))
        stopped = len(alive)
        self.state_file.unlink(missing_ok=True)
        # Keep ports in a sibling file so the next start reuses them (clients reconnect).
        (self.dir / "last-cluster.json").write_text(st.to_json())
        return stopped


def _stop_together(brokers: list[BrokerProcess], cluster_size: int) -> None:
    """SIGTERM all at once; SIGKILL what is left at the timeout, or soon after quorum is gone.

    One by one, the last nodes of a 3-node cluster lose their controller quorum and wait
    out the whole timeout in controlled shutdown (31 s measured, each time). A node without
    quorum can do nothing more; its log is on disk, recovered at the next start.
    """
    for b in brokers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(b.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    quorum_lost_at: float | None = None
    while (left := [b for b in brokers if b.alive()]) and time.monotonic() < deadline:
        if quorum_lost_at is None and not has_quorum(len(left), cluster_size):
            quorum_lost_at = time.monotonic()
        if quorum_lost_at is not None and time.monotonic() - quorum_lost_at > QUORUMLESS_GRACE_S:
            break
        time.sleep(0.1)
    for b in brokers:
        _terminate(b.pid, 0.0)


def _voters(brokers: list[BrokerProcess]) -> str:
    """`controller.quorum.voters`: every node's controller listener."""
    return ",".join(f"{b.node_id}@{HOST}:{b.controller_port}" for b in brokers)


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


@dataclass(frozen=True)
class SecuredBroker:
    """What a SASL_SSL local broker is started with."""

    ca: Path
    keystore: Path
    client_password: str = field(repr=False)
    broker_password: str = field(repr=False)

    def users(self) -> dict[str, str]:
        return {CLIENT_USER: self.client_password, BROKER_USER: self.broker_password}


def _server_properties(
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


# --------------------------------------------------------------------------- clients


def bootstrap_servers(settings: Settings) -> str:
    """The configured cluster, or the local one started under this home."""
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    st = LocalCluster(settings).state()
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
    local = LocalCluster(settings).client_security()
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


def admin(settings: Settings, bootstrap: str | None = None) -> Any:
    """A confluent-kafka AdminClient."""
    from confluent_kafka.admin import AdminClient

    # Errors only: info-level chatter (queue purges at exit) is noise in a terminal.
    return AdminClient(client_config(settings, bootstrap) | {"log_level": 3})


def check_connection(settings: Settings, bootstrap: str | None = None) -> str:
    """Connect once before any work; return the bootstrap servers.

    A rejected password or mechanism, or a certificate the CA file does not trust, stops
    here with one line naming the setting, instead of deep inside Spark or librdkafka's
    retries.
    """
    bootstrap = bootstrap or bootstrap_servers(settings)
    wait_ready(bootstrap, settings, timeout=PROBE_TIMEOUT_S)
    return bootstrap


def security_problem(k: KafkaSettings, errors: list[str]) -> str | None:
    """The user's message for librdkafka errors that a security setting caused, else None."""
    text = " ".join(errors)
    low = text.lower()
    if "unsupported sasl mechanism" in low or "mechanism not supported" in low:
        _, found, rest = text.partition("supported mechanisms:")
        offered = rest.split()[:1] if found else []
        also = f" (it offers {offered[0].rstrip('.,)')})" if offered else ""
        return (
            f"Kafka does not accept SASL mechanism {k.sasl_mechanism or 'PLAIN'}{also}: set "
            "kafka.sasl_mechanism (SHOPSTREAM_KAFKA__SASL_MECHANISM) to one it enables."
        )
    if "authentication failed" in low or "invalid credentials" in low:
        return (
            f"Kafka rejected the credentials of user {k.sasl_username!r} "
            f"({k.sasl_mechanism or 'PLAIN'}): check kafka.sasl_password "
            "(SHOPSTREAM_KAFKA__SASL_PASSWORD) and kafka.sasl_username."
        )
    if "certificate verify failed" in low or "unable to get local issuer" in low:
        ca = k.ssl_ca_location or "the system's CA store"
        return (
            f"the broker's TLS certificate is not trusted by kafka.ssl_ca_location ({ca}): "
            "set SHOPSTREAM_KAFKA__SSL_CA_LOCATION to the CA that signed it (for a local "
            "broker: <home>/kafka/security/ca.pem)."
        )
    if k.ssl and ("ssl handshake failed" in low or "wrong version number" in low):
        return (
            f"the TLS handshake with Kafka failed ({k.security_protocol}): check "
            "kafka.security_protocol (SHOPSTREAM_KAFKA__SECURITY_PROTOCOL) and "
            "kafka.ssl_ca_location."
        )
    return None


def wait_ready(
    bootstrap: str,
    settings: Settings,
    timeout: float = READY_TIMEOUT_S,
    procs: list[BrokerProcess] | None = None,
) -> None:
    """Block until every broker answers a metadata request (or raise with the log tail).

    A security misconfiguration raises ConfigError at once (see `security_problem`).
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

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
    errors: list[str] = []
    conf = client_config(settings, bootstrap) | {
        # librdkafka's own log lines would repeat what we say in one line below.
        "log_level": 0,
        "error_cb": lambda err: errors.append(err.str()),
    }
    client = AdminClient(conf)
    k = effective_kafka(settings)
    last = "no answer"
    while time.monotonic() < deadline:
        check_alive()
        try:
            md = client.list_topics(timeout=2)
            if len(md.brokers) >= want:
                return
            last = f"{len(md.brokers)}/{want} brokers registered"
        except KafkaException as err:
            errors.append(str(err))
            last = str(err)
            client.poll(0)  # serves error_cb: the reason behind a transport failure
        problem = security_problem(k, errors)
        if problem is not None:
            raise ConfigError(problem)
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

    bootstrap = check_connection(settings, bootstrap)
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
        # Closed before its group-coordinator connection finishes a SASL handshake, it logs
        # an error that is none; real failures raise below.
        "log_level": 2,
    }
    consumer = Consumer(conf)
    try:
        md = consumer.list_topics(topic, timeout=10)
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            return {}
        # One deadline for the topic: a leader that does not answer costs it once, not per
        # partition.
        deadline = time.monotonic() + 15.0
        return {
            p: _watermark(consumer, TopicPartition(topic, p), deadline)
            for p in sorted(tmd.partitions)
        }
    finally:
        consumer.close()


def _watermark(consumer: Any, tp: Any, deadline: float) -> tuple[int, int]:
    from confluent_kafka import KafkaError as CKError
    from confluent_kafka import KafkaException

    # Leadership moves (a new topic, a broker restart or death) are transient, although
    # librdkafka does not mark these retriable here; anything else is not. A broker killed
    # while we ask it fails the request with _DESTROY_BROKER or _TRANSPORT until the
    # partition's new leader is known, or times out while the cluster still names the dead
    # broker as leader (until the controller fences it, ~9 s: the soak's status failed so).
    # A new leader answers OFFSET_NOT_AVAILABLE until its high watermark has caught up.
    leadership = {
        CKError.NOT_LEADER_FOR_PARTITION,
        CKError.LEADER_NOT_AVAILABLE,
        CKError.UNKNOWN_TOPIC_OR_PART,
        CKError.OFFSET_NOT_AVAILABLE,
        CKError._DESTROY_BROKER,
        CKError._TRANSPORT,
        CKError._TIMED_OUT,
    }
    while True:
        try:
            wait = min(5.0, max(deadline - time.monotonic(), 0.5))
            lo, hi = consumer.get_watermark_offsets(tp, timeout=wait)
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


def under_replicated(topics: Any) -> list[dict[str, Any]]:
    """Partitions with fewer in-sync replicas than replicas, from confluent-kafka metadata.

    `topics` is `ClusterMetadata.topics` (name -> TopicMetadata); internal topics count too
    (consumer offsets on a lost broker are as much at risk as events).
    """
    found = []
    for name in sorted(topics):
        for partition in sorted(topics[name].partitions.values(), key=lambda p: p.id):
            if len(partition.isrs) < len(partition.replicas):
                found.append(
                    {
                        "topic": name,
                        "partition": partition.id,
                        "leader": partition.leader,
                        "replicas": sorted(partition.replicas),
                        "isr": sorted(partition.isrs),
                    }
                )
    return found


def degraded_reason(down: list[dict[str, Any]], under: list[dict[str, Any]]) -> str | None:
    """One sentence saying how a serving cluster is degraded, or None if it is not.

    >>> degraded_reason([{"id": 2, "address": "127.0.0.1:9093"}], [{"topic": "t"}] * 4)
    'broker 2 (127.0.0.1:9093) is down; 4 partitions under-replicated'
    >>> degraded_reason([], []) is None
    True
    """
    parts = [f"broker {b['id']} ({b['address']}) is down" for b in down]
    if under:
        parts.append(f"{len(under)} partition{'s' if len(under) != 1 else ''} under-replicated")
    return "; ".join(parts) or None


def down_brokers(settings: Settings) -> list[dict[str, Any]]:
    """The local cluster's brokers whose process is gone (pid checks only, no network)."""
    if settings.kafka.bootstrap_servers:
        return []
    st = LocalCluster(settings).state()
    return [
        {"id": b.node_id, "address": b.address, "pid": b.pid, "data_dir": b.data_dir}
        for b in (st.dead if st else [])
    ]


def cluster_status(settings: Settings) -> dict[str, Any]:
    """The `kafka status --json` document (shape fixed in DESIGN.md, plus `degraded`).

    Brokers recorded by the local cluster but not answering are listed with `alive` false;
    `under_replicated` lists partitions whose ISR is smaller than their replica set.
    """
    local = None if settings.kafka.bootstrap_servers else LocalCluster(settings).state()
    bootstrap = check_connection(settings)
    md = admin(settings, bootstrap).list_topics(timeout=10)
    brokers = []
    recorded = {p.node_id: p for p in local.brokers} if local else {}
    for node_id in sorted(set(md.brokers) | set(recorded)):
        proc = recorded.get(node_id)
        meta = md.brokers.get(node_id)
        entry: dict[str, Any] = {
            "id": node_id,
            "host": meta.host if meta else HOST,
            "port": meta.port if meta else proc.port if proc else None,
        }
        if proc:
            entry |= {"pid": proc.pid, "alive": proc.alive(), "log": proc.log}
            entry |= {"data_dir": proc.data_dir or str(local_data_dir(settings, node_id))}
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
    down = [
        {"id": b["id"], "address": f"{b['host']}:{b['port']}"}
        for b in brokers
        if b.get("alive") is False
    ]
    under = under_replicated(md.topics)
    reason = degraded_reason(down, under)
    return {
        "bootstrap": bootstrap,
        "security_protocol": effective_kafka(settings).security_protocol,
        "local": local is not None,
        "brokers": brokers,
        "topics": topics,
        "degraded": reason is not None,
        "degraded_reason": reason,
        "down": [b["id"] for b in down],
        "under_replicated": under,
    }


def local_data_dir(settings: Settings, node_id: int) -> Path:
    """Where a local broker keeps its log segments."""
    return settings.kafka_dir / f"node-{node_id}" / "data"


def max_message_bytes(
    settings: Settings, topic: str, bootstrap: str | None = None, timeout: float = 60.0
) -> int:
    """The largest record batch `topic` accepts (its max.message.bytes, else the broker's).

    Retried while the cluster moves on from a lost broker or controller: a stage starting
    just then must wait for the answer, not die of it.
    """
    from concurrent.futures import TimeoutError as FutureTimeout

    from confluent_kafka import KafkaError as CKError
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import ConfigResource, ResourceType

    transient = {CKError._TIMED_OUT, CKError._TRANSPORT, CKError._DESTROY_BROKER}
    resource = ConfigResource(ResourceType.TOPIC, topic)
    deadline = time.monotonic() + timeout
    while True:
        client = admin(settings, bootstrap)  # kept alive until the answer is in; new each try
        try:
            future = client.describe_configs([resource], request_timeout=15)[resource]
            return int(future.result(timeout=20)["max.message.bytes"].value)
        except (KafkaException, FutureTimeout) as err:
            kerr = err.args[0] if isinstance(err, KafkaException) and err.args else None
            retry = kerr is None or kerr.retriable() or kerr.code() in transient
            if not retry or time.monotonic() > deadline:
                raise KafkaError(f"cannot read the configuration of topic {topic}: {err}") from None
            time.sleep(1)


def raise_max_message_bytes(settings: Settings, topics: list[str], at_least: int) -> None:
    """Set `topics`' max.message.bytes to `at_least` where it is lower (idempotent)."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    low = [t for t in topics if max_message_bytes(settings, t) < at_least]
    if not low:
        return
    entry = ConfigEntry(
        "max.message.bytes", str(at_least), incremental_operation=AlterConfigOpType.SET
    )
    resources = [ConfigResource(ResourceType.TOPIC, t, incremental_configs=[entry]) for t in low]
    client = admin(settings)
    for resource, future in client.incremental_alter_configs(resources).items():
        try:
            future.result(timeout=30)
        except Exception as err:
            raise KafkaError(
                f"could not raise max.message.bytes of topic {resource.name} to {at_least} "
                f"({err}); Silver's output for the largest raw record needs it: set it on the "
                "topic, or lower raw_events' max.message.bytes."
            ) from None
