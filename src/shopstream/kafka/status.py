"""The `kafka status` document: brokers (alive or down), topics, and how a cluster is degraded."""

from __future__ import annotations

from typing import Any

from shopstream.config import Settings
from shopstream.kafka.clients import admin, check_connection
from shopstream.kafka.connection import effective_kafka
from shopstream.kafka.offsets import watermarks
from shopstream.kafka.state import HOST, local_data_dir, recorded_state


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
    st = recorded_state(settings)
    return [
        {"id": b.node_id, "address": b.address, "pid": b.pid, "data_dir": b.data_dir}
        for b in (st.dead if st else [])
    ]


def cluster_status(settings: Settings) -> dict[str, Any]:
    """The `kafka status --json` document (shape in docs/design.md, plus `degraded`).

    Brokers recorded by the local cluster but not answering are listed with `alive` false;
    `under_replicated` lists partitions whose ISR is smaller than their replica set.
    """
    local = None if settings.kafka.bootstrap_servers else recorded_state(settings)
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
