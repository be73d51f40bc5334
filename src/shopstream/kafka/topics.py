"""The pipeline's topics: their specs, creation, deletion and largest accepted record."""

from __future__ import annotations

import time
from typing import Any

from shopstream.config import Settings
from shopstream.errors import BrokerUnavailable, KafkaError
from shopstream.kafka.clients import admin, check_connection


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
