"""Warehouse errors: each says what went wrong and what to do; markers decide retries."""

from __future__ import annotations

from shopstream.errors import ConfigError, Terminal, Transient, WarehouseError, WarehouseLocked

__all__ = [
    "BatchSchemaError",
    "CommitFailed",
    "CommitRetryable",
    "LeaseLost",
    "PrivateKeyError",
    "QueryError",
    "WarehouseAuthError",
    "WarehouseConnectionError",
    "WarehouseError",
    "WarehouseLocked",
    "WarehouseNotInitialized",
    "WarehouseSchemaError",
    "WriterBusy",
]


class WarehouseNotInitialized(WarehouseError, Terminal):
    """The warehouse file or its tables do not exist yet."""


class QueryError(WarehouseError, Terminal):
    """A user query is invalid (syntax, unknown table or column)."""


class CommitFailed(WarehouseError):
    """A batch commit failed and was rolled back; nothing of the batch was written."""

    def __init__(self, message: str, *, query_id: str, batch_id: int) -> None:
        super().__init__(message)
        self.query_id = query_id
        self.batch_id = batch_id


class CommitRetryable(CommitFailed, Transient):
    """A commit failed for a transient reason (network, lock); retrying the batch is safe."""


class WarehouseConnectionError(WarehouseError, Transient):
    """The warehouse could not be reached (network, service, authentication)."""


class PrivateKeyError(ConfigError):
    """A Snowflake private key is missing, unreadable, not a key, or its passphrase is wrong."""


class WarehouseAuthError(WarehouseError, Terminal):
    """The warehouse rejected our credentials (wrong user, key not registered, no grant)."""


class BatchSchemaError(WarehouseError, Terminal):
    """A batch handed to commit_batch lacks contract columns or has uncastable types."""


class WriterBusy(WarehouseError, Terminal):
    """Another shopstream writer holds the warehouse's writer lease (or DuckDB file)."""


class LeaseLost(WarehouseError, Terminal):
    """This writer's lease was taken over (it stopped renewing for longer than the TTL)."""


class WarehouseSchemaError(WarehouseError, Terminal):
    """A warehouse table exists with columns this version of shopstream does not expect."""
