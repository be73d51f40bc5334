"""The local cluster as `kafka start` records it in `<home>/kafka/cluster.json`.

Pure state: which brokers were started (node id, ports, pid, log, data directory), with
which security, and which of them still live. Reading it needs no network, so every
command can say at once whether a local cluster serves (a KRaft quorum of it lives).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shopstream.procinfo import pid_alive

if TYPE_CHECKING:
    from shopstream.config import Settings

HOST = "127.0.0.1"

LocalSecurity = Literal["plaintext", "sasl_ssl"]


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


def state_file(settings: Settings) -> Path:
    """Where `kafka start` records the local cluster."""
    return settings.files.kafka_state


def recorded_state(settings: Settings) -> ClusterState | None:
    """The local cluster recorded under this home, or None if nothing was started here."""
    path = state_file(settings)
    if not path.is_file():
        return None
    return ClusterState.from_json(path.read_text())


def local_data_dir(settings: Settings, node_id: int) -> Path:
    """Where a local broker keeps its log segments."""
    return settings.files.kafka_node_data(node_id)
