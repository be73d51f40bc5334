"""The local KRaft cluster: broker+controller processes started from Maven-resolved jars.

With `kafka.bootstrap_servers` set, shopstream talks to that cluster and never starts a
broker. Otherwise `LocalCluster` runs 1 or 3 combined broker+controller processes under
`<home>/kafka/`, with a state file so any later command finds them (`state.py`).

A 3-broker cluster keeps serving while a majority (its KRaft quorum) lives: it is then
*degraded*, every command bootstraps from the live brokers, `kafka start` restarts only
the dead ones (same node id, port and data directory) and `kafka stop` stops the others.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import time
import uuid

from shopstream.config import Settings
from shopstream.errors import KafkaError
from shopstream.kafka.clients import wait_ready
from shopstream.kafka.properties import LOG4J, server_properties
from shopstream.kafka.security import (
    SCRAM_MECHANISM,
    SecuredBroker,
    formatted_security,
    secure,
    security_dir,
)
from shopstream.kafka.state import (
    HOST,
    BrokerProcess,
    ClusterState,
    LocalSecurity,
    has_quorum,
    local_data_dir,
    recorded_state,
    state_file,
)
from shopstream.ports import free_ports, is_listening
from shopstream.procinfo import pid_alive
from shopstream.spark import jars

STOP_TIMEOUT_S = 30.0
# How long a node that can no longer reach a controller quorum gets to finish stopping.
QUORUMLESS_GRACE_S = 3.0


class LocalCluster:
    """Local KRaft cluster under a state dir: start (idempotent), wait-ready, stop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.files = settings.files
        self.dir = self.files.kafka
        self.state_file = state_file(settings)
        self.security_dir = security_dir(settings)

    def state(self) -> ClusterState | None:
        """The recorded cluster, or None if nothing was started here."""
        return recorded_state(self.settings)

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
        "sasl_ssl" serves clients over TLS with SCRAM-SHA-512 users (see `security.py`).
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
        secured = secure(self.security_dir, fresh=formatted is None) if mode == "sasl_ssl" else None
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
        return formatted_security(self.security_dir)

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
        secured = secure(self.security_dir, fresh=False) if state.security == "sasl_ssl" else None
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
        last = self.files.kafka_last_state
        return ClusterState.from_json(last.read_text()) if last.is_file() else None

    def _formatted_cluster_id(self) -> str | None:
        """The id node 1's storage was formatted with; a restart must reuse it."""
        meta = self.files.kafka_node_meta(1)
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
        data_dir = local_data_dir(self.settings, node_id)
        self.files.kafka_node(node_id).mkdir(parents=True, exist_ok=True)
        log = self.files.kafka_log(node_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        if is_listening(HOST, port):
            raise KafkaError(
                f"port {port} is already in use; set SHOPSTREAM_KAFKA__BROKER_PORT to a free "
                "port or 0 to pick one."
            )
        props = self.files.kafka_node_properties(node_id)
        props.unlink(missing_ok=True)
        # Owner-only: with security on it holds the broker's own SCRAM password.
        props.touch(mode=0o600)
        props.write_text(server_properties(node_id, port, cport, voters, data_dir, n, secured))
        log4j = self.files.kafka_node_log4j(node_id)
        log4j.write_text(LOG4J.format(log=log))
        java = ["java", f"-Xmx{self.settings.kafka.broker_heap}", "-XX:+UseG1GC"]
        java += ["-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={log4j}"]
        java += [f"-Dkafka.logs.dir={self.files.logs}", "-cp", cp]
        if not self.files.kafka_node_meta(node_id).is_file():
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
        self.files.kafka_last_state.write_text(st.to_json())
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
