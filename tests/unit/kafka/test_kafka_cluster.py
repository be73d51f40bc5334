"""The local cluster's state with brokers dead and alive (pids only, no broker started)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from shopstream.config import load_settings
from shopstream.errors import BrokerUnavailable
from shopstream.kafka.cluster import LocalCluster
from shopstream.kafka.connection import bootstrap_servers
from shopstream.kafka.state import BrokerProcess, ClusterState
from shopstream.kafka.status import down_brokers, under_replicated


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _record(home: Path, alive: list[bool]) -> ClusterState:
    settings = load_settings(home=home)
    dead = _dead_pid()
    brokers = [
        BrokerProcess(i, 9100 + i, 9200 + i, os.getpid() if up else dead, f"kafka-{i}.log")
        for i, up in enumerate(alive, start=1)
    ]
    state = ClusterState("cid", brokers)
    settings.kafka_dir.mkdir(parents=True)
    LocalCluster(settings).state_file.write_text(state.to_json())
    return state


def test_a_quorum_serves_and_clients_bootstrap_from_the_live_brokers(tmp_path: Path) -> None:
    _record(tmp_path, [True, False, True])
    settings = load_settings(home=tmp_path)
    assert LocalCluster(settings).running() is not None
    assert bootstrap_servers(settings) == "127.0.0.1:9101,127.0.0.1:9103"
    (down,) = down_brokers(settings)
    assert (down["id"], down["address"]) == (2, "127.0.0.1:9102")


def test_without_a_quorum_commands_say_how_to_restart(tmp_path: Path) -> None:
    _record(tmp_path, [False, False, True])
    settings = load_settings(home=tmp_path)
    assert LocalCluster(settings).running() is None
    with pytest.raises(BrokerUnavailable, match=r"only 1 of 3 .* `shopstream kafka start`"):
        bootstrap_servers(settings)


def test_state_files_without_data_dirs_still_load(tmp_path: Path) -> None:
    document = json.loads(_record(tmp_path, [True]).to_json())
    for broker in document["brokers"]:
        del broker["data_dir"]  # what releases before it was recorded wrote
    (broker,) = ClusterState.from_json(json.dumps(document)).brokers
    assert (broker.port, broker.data_dir) == (9101, "")


def _partition(pid: int, replicas: list[int], isrs: list[int]) -> SimpleNamespace:
    return SimpleNamespace(id=pid, leader=replicas[0], replicas=replicas, isrs=isrs)


def test_under_replicated_means_fewer_in_sync_replicas_than_replicas() -> None:
    topics = {
        "b": SimpleNamespace(partitions={0: _partition(0, [1, 2, 3], [1, 3])}),
        "a": SimpleNamespace(
            partitions={1: _partition(1, [3, 1, 2], [3, 1]), 0: _partition(0, [1, 2, 3], [1, 2, 3])}
        ),
    }
    found = under_replicated(topics)
    assert [(p["topic"], p["partition"], p["replicas"], p["isr"]) for p in found] == [
        ("a", 1, [1, 2, 3], [1, 3]),
        ("b", 0, [1, 2, 3], [1, 3]),
    ]
