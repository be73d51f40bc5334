"""The project's exception hierarchy.

Every error a user can meet is a `ShopstreamError`: its message says what is wrong and
how to fix it, and the CLI prints it as one line and exits with code 2. `Transient`
errors may succeed when retried (a broker not up yet, a locked DuckDB file); `Terminal`
ones will not.
"""

from __future__ import annotations


class ShopstreamError(Exception):
    """Root of all shopstream errors; the message is written for users."""

    exit_code = 2


class Transient(ShopstreamError):
    """Marker: retrying later may succeed."""


class Terminal(ShopstreamError):
    """Marker: retrying will not help; the user must change something."""


class ConfigError(Terminal):
    """A setting or flag is invalid or missing."""


class DependencyError(Terminal):
    """A required tool or artifact (Java, Maven, jars) is missing or broken."""


class KafkaError(ShopstreamError):
    """Talking to Kafka, or running the local broker, failed."""


class BrokerUnavailable(KafkaError, Transient):
    """No broker answered at the configured bootstrap servers."""


class WarehouseError(ShopstreamError):
    """A warehouse operation failed."""


class WarehouseLocked(WarehouseError, Transient):
    """The warehouse file is locked by another process."""


class DeliveryError(KafkaError, Terminal):
    """Some produced messages were not delivered."""


class DataLost(KafkaError, Terminal):
    """Retention deleted records a stage had not read yet (see `runtime/retention.py`)."""


class DocsError(Terminal):
    """A generated doc cannot be rendered (an unknown block, an unreadable result file)."""
