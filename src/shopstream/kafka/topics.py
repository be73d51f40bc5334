"""The pipeline's topics: their specs, creation, deletion and largest accepted record."""

from __future__ import annotations

from typing import Any

from shopstream.config import Settings
from shopstream.errors import BrokerUnavailable, KafkaError
from shopstream.kafka.clients import admin, check_connection
from shopstream.kafka.retry import NotYet, error_code, is_transient, retry

# Creating the pipeline's topics takes a second; a controller that moves meanwhile (after
# a broker loss) answers for a few seconds with errors that pass.
CREATE_TIMEOUT_S = 30.0


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
    one. A topic created meanwhile by someone else is fine; a transient failure (a
    controller moving on) is retried; any other failure raises.
    """
    from confluent_kafka import KafkaError as CKError
    from confluent_kafka.admin import NewTopic

    bootstrap = check_connection(settings, bootstrap)
    client = admin(settings, bootstrap)
    created: list[str] = []

    def create(_: float) -> None:
        metadata = client.list_topics(timeout=10)
        rf = min(3, len(metadata.brokers)) if not settings.kafka.bootstrap_servers else -1
        new = [
            NewTopic(name, num_partitions=partitions, replication_factor=rf)
            for name, partitions in topics.items()
            if name not in metadata.topics
        ]
        if not new:
            return
        created.extend(t.topic for t in new)
        for topic, fut in client.create_topics(new, operation_timeout=30).items():
            try:
                fut.result()
            except Exception as err:  # racing creators are fine; a transient error is retried
                if error_code(err) == CKError.TOPIC_ALREADY_EXISTS:
                    continue
                if not is_transient(err):
                    raise KafkaError(f"could not create topic {topic}: {err}") from None
                raise NotYet(f"topic {topic}: {err}") from None

    def give_up(last: str) -> KafkaError:
        return KafkaError(f"could not create topics {', '.join(topics)} ({last})")

    retry(create, timeout=CREATE_TIMEOUT_S, pause=1.0, give_up=give_up)
    if created:
        _wait_for_leaders(client, list(dict.fromkeys(created)))


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
            if error_code(err) != CKError.UNKNOWN_TOPIC_OR_PART:
                raise KafkaError(f"could not delete topic {topic}: {err}") from None


def _wait_for_leaders(client: Any, topics: list[str], timeout: float = 30.0) -> None:
    """New partitions have no leader for a moment; callers expect usable topics."""

    def led(_: float) -> None:
        md = client.list_topics(timeout=10).topics
        if not all(
            t in md and md[t].partitions and all(p.leader >= 0 for p in md[t].partitions.values())
            for t in topics
        ):
            raise NotYet("partitions without a leader")

    def give_up(_: str) -> BrokerUnavailable:
        return BrokerUnavailable(f"topics {topics} got no partition leaders within {timeout:.0f}s.")

    retry(led, timeout=timeout, pause=0.1, give_up=give_up)


def max_message_bytes(
    settings: Settings, topic: str, bootstrap: str | None = None, timeout: float = 60.0
) -> int:
    """The largest record batch `topic` accepts (its max.message.bytes, else the broker's).

    Retried while the cluster moves on from a lost broker or controller: a stage starting
    just then must wait for the answer, not die of it.
    """
    from confluent_kafka.admin import ConfigResource, ResourceType

    resource = ConfigResource(ResourceType.TOPIC, topic)

    def describe(_: float) -> int:
        client = admin(settings, bootstrap)  # kept alive until the answer is in; new each try
        future = client.describe_configs([resource], request_timeout=15)[resource]
        return int(future.result(timeout=20)["max.message.bytes"].value)

    def give_up(last: str) -> KafkaError:
        return KafkaError(f"cannot read the configuration of topic {topic}: {last}")

    return retry(describe, timeout=timeout, pause=1.0, give_up=give_up)


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
