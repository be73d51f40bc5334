"""Snowflake warehouse: snowflake-connector-python, key-pair auth only, MERGE per batch.

One session per `SnowflakeWarehouse`, used by one thread at a time (a lock), because a
Snowflake transaction belongs to the session: a read from another thread must not see a
half-done commit. The batch is bulk-loaded with `write_pandas` into session temp tables
*before* BEGIN (its temporary stage is DDL, which would commit an open transaction); all
target writes then happen between BEGIN and COMMIT.

Examples:
    >>> with SnowflakeWarehouse(settings.warehouse.snowflake) as wh:  # doctest: +SKIP
    ...     wh.init()
    ...     wh.check()["version"]
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import snowflake.connector
from snowflake.connector import errors as sf_errors

from shopstream.errors import ConfigError, ShopstreamError
from shopstream.warehouse.base import Cursor, Warehouse
from shopstream.warehouse.dialect import TABLES, VIEWS, Dialect
from shopstream.warehouse.exceptions import (
    QueryError,
    WarehouseAuthError,
    WarehouseConnectionError,
    WarehouseError,
    WarehouseNotInitialized,
)
from shopstream.warehouse.keys import load_private_key_der

if TYPE_CHECKING:
    from shopstream.config import SnowflakeSettings

ENV = "SHOPSTREAM_WAREHOUSE__SNOWFLAKE__"
# Snowflake error numbers: bad SQL vs. missing objects vs. rejected credentials.
_SYNTAX = {1003, 904, 2040, 1007, 2016}
_MISSING = {2003, 2043}
# Insufficient privileges: the role lacks a grant (the fix is an admin's GRANT).
_PRIVILEGE = {3001, 3041}
_AUTH = {390100, 390144, 390186, 390187, 390189, 390191, 390318, 250001, 251005, 251006}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


class SnowflakeWarehouse(Warehouse):
    """Warehouse in a Snowflake database.schema, authenticated with an RSA key pair."""

    kind: ClassVar[Dialect] = "snowflake"

    def __init__(self, settings: SnowflakeSettings, *, login_timeout: int = 60) -> None:
        super().__init__()
        missing = [n for n in ("account", "user") if not getattr(settings, n)]
        if missing:
            raise ConfigError(
                "Snowflake needs "
                + " and ".join(missing)
                + ": set "
                + ", ".join(f"{ENV}{n.upper()}" for n in missing)
                + " (or the warehouse.snowflake table of shopstream.toml)."
            )
        self._cfg = settings
        self._secrets = [
            s.get_secret_value()
            for s in (settings.private_key_base64, settings.private_key_passphrase)
            if s is not None and s.get_secret_value()
        ]
        self._lock = threading.RLock()
        self._conn = self._connect(login_timeout)

    def target(self) -> str:
        """account/DATABASE.SCHEMA (no credentials)."""
        return f"snowflake://{self._cfg.account}/{self._cfg.database}.{self._cfg.schema_}"

    def _connect(self, login_timeout: int) -> Any:
        """Open the session with the key pair; errors become warehouse errors."""
        cfg = self._cfg
        der = load_private_key_der(
            path=cfg.private_key_path,
            pem_base64=(
                cfg.private_key_base64.get_secret_value()
                if cfg.private_key_base64 is not None and cfg.private_key_path is None
                else None
            ),
            passphrase=(
                cfg.private_key_passphrase.get_secret_value()
                if cfg.private_key_passphrase is not None
                else None
            ),
        )
        params: dict[str, Any] = {
            "account": cfg.account,
            "user": cfg.user,
            "authenticator": "SNOWFLAKE_JWT",
            "private_key": der,
            "database": cfg.database,
            "schema": cfg.schema_,
            "paramstyle": "qmark",
            "application": "shopstream",
            "login_timeout": login_timeout,
            "client_session_keep_alive": True,
            # UTC session: CURRENT_TIMESTAMP and any LTZ casts agree with our naive-UTC data.
            "session_parameters": {"TIMEZONE": "UTC", "QUERY_TAG": "shopstream"},
        }
        if cfg.role:
            params["role"] = cfg.role
        if cfg.warehouse:
            params["warehouse"] = cfg.warehouse
        try:
            return snowflake.connector.connect(**params)
        except Exception as err:
            raise self._translate(err, "connecting") from None

    @contextmanager
    def _writer(self) -> Iterator[Any]:
        with self._cursor() as cur:
            yield cur

    @contextmanager
    def _reader(self) -> Iterator[Any]:
        with self._cursor() as cur:
            yield cur

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor on the one session, held under the session lock."""
        if self._closed:
            raise WarehouseError(f"warehouse {self.target()} is closed.")
        with self._lock:
            cur = self._conn.cursor()
            try:
                yield cur
            finally:
                cur.close()

    def _load_stage(self, cur: Cursor, table: str, data: pa.Table) -> None:
        # Imported here, at call time, so fakesnow's patch of write_pandas applies in tests.
        from snowflake.connector import pandas_tools

        df = _decimals_as_text(data).to_pandas()
        # Upper-case + quoted = Snowflake's spelling of our unquoted identifiers.
        df.columns = [c.upper() for c in df.columns]
        try:
            ok, _chunks, rows, _out = pandas_tools.write_pandas(
                self._conn,
                df,
                table.upper(),
                quote_identifiers=True,
                auto_create_table=False,
                use_logical_type=True,
            )
        except Exception as err:
            raise self._translate(err, f"bulk-loading {table}") from err
        if not ok or rows != len(df):
            raise WarehouseError(
                f"bulk load into {table} loaded {rows} of {len(df)} rows; nothing was committed."
            )

    def check(self) -> dict[str, Any]:
        """Connect-level facts: version, account, user, role, warehouse, database, schema."""
        info: dict[str, Any] = {"version": self.query("SELECT CURRENT_VERSION() AS v")[0]["v"]}
        try:
            # ACCOUNT, DATABASE and SCHEMA are reserved words in Snowflake: alias with _name.
            row = self.query(
                "SELECT CURRENT_ACCOUNT() AS account_name, CURRENT_USER() AS user_name, "
                "CURRENT_ROLE() AS role_name, CURRENT_WAREHOUSE() AS warehouse_name, "
                "CURRENT_DATABASE() AS database_name, CURRENT_SCHEMA() AS schema_name"
            )[0]
            info.update({k.removesuffix("_name"): v for k, v in row.items()})
        except QueryError:
            # Emulators lack some context functions; fall back to what was configured.
            cfg = self._cfg
            info.update(
                account=cfg.account,
                user=cfg.user,
                role=cfg.role,
                warehouse=cfg.warehouse,
                database=cfg.database,
                schema=cfg.schema_,
            )
        return info

    def _translate(self, err: Exception, action: str) -> ShopstreamError:
        if isinstance(err, ShopstreamError):
            return err
        msg = self._scrub(_first_line(err))
        where = f" while {action}" if action else ""
        errno = getattr(err, "errno", None)
        if errno in _AUTH or "jwt" in msg.lower() or "authenticat" in msg.lower():
            return WarehouseAuthError(
                f"Snowflake rejected user {self._cfg.user!r} on account {self._cfg.account!r}"
                f"{where}: {msg}. Check that the public key is registered "
                "(`shopstream snowflake keygen` prints the ALTER USER statement) and the role "
                "is granted."
            )
        if errno in _PRIVILEGE or "insufficient privileges" in msg.lower():
            return WarehouseAuthError(
                f"Snowflake role {self._cfg.role!r} may not do this{where}: {msg}. Have an "
                "admin run the grants `shopstream snowflake setup-sql` prints."
            )
        if errno in _MISSING and any(t.upper() in msg.upper() for t in (*TABLES, *VIEWS)):
            return WarehouseNotInitialized(
                f"{msg} in {self.target()}{where}; create the tables with "
                "`shopstream warehouse init`."
            )
        if errno in _SYNTAX | _MISSING:
            return QueryError(f"invalid SQL{where}: {msg}")
        if isinstance(err, sf_errors.OperationalError | sf_errors.InterfaceError):
            return WarehouseConnectionError(
                f"cannot reach Snowflake account {self._cfg.account!r}{where}: {msg}"
            )
        return WarehouseError(f"Snowflake error{where} on {self.target()}: {msg}")

    def _scrub(self, text: str) -> str:
        """Mask configured secrets, should a driver message ever echo one."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _close(self) -> None:
        with self._lock:
            self._conn.close()


def _first_line(err: Exception) -> str:
    """First line of an error message (drivers append SQL and stack details)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def identifier(name: str, what: str) -> str:
    """Validate a plain Snowflake identifier for generated SQL (no quoting games)."""
    if not _IDENT.match(name):
        raise ConfigError(
            f"{what} {name!r} is not a plain identifier (letters, digits, _ and $; not "
            "starting with a digit)."
        )
    return name.upper()


def setup_sql(
    *, user: str, role: str, warehouse: str, database: str, schema: str, public_key: str | None
) -> str:
    """Admin SQL creating the role, warehouse, database, schema and key-pair user, with grants."""
    u, r, w = identifier(user, "user"), identifier(role, "role"), identifier(warehouse, "warehouse")
    d, s = identifier(database, "database"), identifier(schema, "schema")
    key = public_key or "<public key body from `shopstream snowflake keygen`>"
    return f"""-- Run as ACCOUNTADMIN (or a role with CREATE ROLE/USER/WAREHOUSE/DATABASE).
USE ROLE SECURITYADMIN;
CREATE ROLE IF NOT EXISTS {r};
CREATE USER IF NOT EXISTS {u}
  TYPE = SERVICE
  DEFAULT_ROLE = {r}
  DEFAULT_WAREHOUSE = {w}
  DEFAULT_NAMESPACE = {d}.{s}
  RSA_PUBLIC_KEY = '{key}';
GRANT ROLE {r} TO USER {u};

USE ROLE SYSADMIN;
CREATE WAREHOUSE IF NOT EXISTS {w}
  WAREHOUSE_SIZE = XSMALL AUTO_SUSPEND = 60 AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE;
CREATE DATABASE IF NOT EXISTS {d};
CREATE SCHEMA IF NOT EXISTS {d}.{s};
GRANT USAGE ON WAREHOUSE {w} TO ROLE {r};
GRANT USAGE ON DATABASE {d} TO ROLE {r};
GRANT USAGE, CREATE TABLE, CREATE VIEW, CREATE STAGE ON SCHEMA {d}.{s} TO ROLE {r};
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON FUTURE TABLES IN SCHEMA {d}.{s} TO ROLE {r};
GRANT SELECT ON FUTURE VIEWS IN SCHEMA {d}.{s} TO ROLE {r};
"""


def _decimals_as_text(data: pa.Table) -> pa.Table:
    """Decimal columns as exact strings: pandas holds decimals as Python objects, whose SQL
    type loaders guess from a sample (a DECIMAL(7,2) guess then rejects a larger amount
    later in the batch). The stage table's DECIMAL(18,2) column casts the text exactly."""
    cols = [
        pc.cast(col, pa.string()) if pa.types.is_decimal(col.type) else col for col in data.columns
    ]
    return pa.Table.from_arrays(cols, names=data.column_names)
