"""`SqlEndpoint`: serve the writer's DuckDB over the PostgreSQL protocol, findable via the home.

Examples:
    >>> endpoint = SqlEndpoint(warehouse, settings).start()  # doctest: +SKIP
    >>> endpoint.url  # doctest: +SKIP
    'postgresql://shopstream@127.0.0.1:5433/shopstream'
    >>> endpoint.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import ssl
import threading
from typing import TYPE_CHECKING

from shopstream.errors import ConfigError, ShopstreamError
from shopstream.sqlendpoint.compat import DATABASE
from shopstream.sqlendpoint.limits import Limits

# Where an endpoint is found lives apart (`locator`): the readers of a running endpoint
# (`shopstream sql`, status) need it without this module's server, sqlglot and DuckDB.
from shopstream.sqlendpoint.locator import (
    EndpointInfo,
    endpoint_password,
    password_file,
    running_endpoint,
    sql_endpoint_file,
)
from shopstream.sqlendpoint.scram import Verifier
from shopstream.sqlendpoint.server import CursorSource, Server, ServerConfig

if TYPE_CHECKING:
    from collections.abc import Iterator

    from shopstream.config import Settings
    from shopstream.warehouse.base import Warehouse

log = logging.getLogger(__name__)

__all__ = [
    "EndpointInfo",
    "SqlEndpoint",
    "endpoint_password",
    "password_file",
    "running_endpoint",
    "serving",
    "sql_endpoint_file",
]


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    cfg = settings.sql
    if cfg.tls_cert is None or cfg.tls_key is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(
            f"cannot load the SQL endpoint's TLS certificate {cfg.tls_cert} / key {cfg.tls_key}: "
            f"{err}. Fix SHOPSTREAM_SQL__TLS_CERT / SHOPSTREAM_SQL__TLS_KEY (PEM files)."
        ) from None
    return ctx


class SqlEndpoint:
    """A read-only PostgreSQL-protocol server over `source`'s DuckDB, in a daemon thread."""

    def __init__(
        self,
        source: CursorSource,
        settings: Settings,
        *,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.settings = settings
        cfg = settings.sql
        self.host = host or cfg.host
        self._port = cfg.port if port is None else port
        password = endpoint_password(settings, create=True)
        assert password is not None
        self._config = ServerConfig(
            source=source,
            user=cfg.user,
            verifier=Verifier.from_password(password),
            limits=Limits.from_settings(cfg),
            ssl_context=_ssl_context(settings),
        )
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server is not None else self._port

    @property
    def url(self) -> str:
        """`postgresql://user@host:port/shopstream` (the password is not in it)."""
        return self.info.url

    @property
    def info(self) -> EndpointInfo:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        tls = self._config.ssl_context is not None
        return EndpointInfo(host, self.port, self.settings.sql.user, DATABASE, os.getpid(), tls)

    @property
    def password_source(self) -> str:
        """Where a user finds the password (never the password itself)."""
        if self.settings.sql.password is not None:
            return "SHOPSTREAM_SQL__PASSWORD"
        return str(password_file(self.settings))

    def start(self) -> SqlEndpoint:
        """Listen and serve in a daemon thread; record the endpoint in the home.

        The default port taken (another home's pipeline, a PostgreSQL server) falls back to
        a free port, recorded in the home; a port the user chose must be free.
        """
        try:
            self._server = self._listen()
        except OSError as err:
            raise ShopstreamError(
                f"the SQL endpoint cannot listen on {self.host}:{self._port}: {err.strerror}. "
                "Pick another port with SHOPSTREAM_SQL__PORT (0 = any free port) or disable "
                "it with SHOPSTREAM_SQL__ENABLED=false."
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="sql-endpoint",
            daemon=True,
        )  # fmt: skip
        self._thread.start()
        self._config.checker.wait_ready()
        self._config.source.writes.on_write(self._preempt)
        path = sql_endpoint_file(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        info = self.info
        path.write_text(json.dumps(info.__dict__))
        return self

    def _listen(self) -> Server:
        try:
            return Server((self.host, self._port), self._config)
        except OSError:
            if self._port == 0 or "port" in self.settings.sql.model_fields_set:
                raise
            log.warning("port %s is taken; the SQL endpoint listens on a free port", self._port)
            return Server((self.host, 0), self._config)

    def _preempt(self) -> None:
        """Gold's commit starts: it goes first (see `WriterFirst`)."""
        for session in self._config.all_sessions():
            session.preempt()

    def stop(self) -> None:
        """Stop listening, end client sessions, forget the recorded endpoint; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        port = server.server_address[1]
        self._config.source.writes.on_write(self._preempt, remove=True)
        server.shutdown()
        server.server_close()
        for session in self._config.all_sessions():
            with contextlib.suppress(OSError):
                session.cancel()
                session.wire.sock.shutdown(2)
        if self._thread is not None:
            self._thread.join(5)
        self._config.checker.close()
        path = sql_endpoint_file(self.settings)
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
            if data.get("pid") == os.getpid() and data.get("port") == port:
                path.unlink()

    def __enter__(self) -> SqlEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SqlEndpoint({self.host}:{self.port}, user={self.settings.sql.user!r})"


@contextlib.contextmanager
def serving(warehouse: Warehouse, settings: Settings) -> Iterator[SqlEndpoint | None]:
    """The SQL endpoint of the process that writes DuckDB, for the time of the block.

    None when disabled (`sql.enabled = false`) or when nobody needs it: Snowflake serves
    any number of clients itself, and a read-only DuckDB process is not the writer.
    """
    from shopstream.warehouse.duckdb import DuckDBWarehouse

    if (
        not settings.sql.enabled
        or not isinstance(warehouse, DuckDBWarehouse)
        or warehouse.read_only
    ):
        yield None
        return
    endpoint = SqlEndpoint(warehouse, settings).start()
    try:
        yield endpoint
    finally:
        endpoint.stop()
