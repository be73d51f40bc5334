"""Kafka clients: an AdminClient, the first connection, and waiting until brokers answer.

A security misconfiguration (a rejected password or mechanism, a certificate the CA file
does not trust) is told in one line naming the setting (`security_problem`), at the
first connection, instead of deep inside Spark or librdkafka's retries.
"""

from __future__ import annotations

import contextlib
import functools
import time
from pathlib import Path
from typing import Any

from shopstream.config import KafkaSettings, Settings
from shopstream.errors import BrokerUnavailable, ConfigError, KafkaError
from shopstream.kafka.clientlog import log_config
from shopstream.kafka.connection import Connection, bootstrap_servers, client_config, connection
from shopstream.kafka.retry import NotYet, retry
from shopstream.kafka.state import HOST, BrokerProcess
from shopstream.ports import is_listening

READY_TIMEOUT_S = 90.0
PROBE_TIMEOUT_S = 15.0


def admin(settings: Settings, bootstrap: str | None = None) -> Any:
    """A confluent-kafka AdminClient whose log lines reach the home's kafka-clients.log."""
    # Errors only: info-level chatter (queue purges at exit) is noise in a terminal.
    return _admin_class()(client_config(settings, bootstrap) | {"log_level": 3})


@functools.cache
def _admin_class() -> type:
    from confluent_kafka.admin import AdminClient

    class LoggingAdmin(AdminClient):  # type: ignore[misc]
        """confluent-kafka hands a client's log lines to its `logger` only while the client
        is polled, and nothing polls an AdminClient: its lines (39 refused-handshake errors
        in a 2 s `list_topics` against a broken listener) were dropped, in no file. This
        one polls after `list_topics` and before it is freed (futures-based calls log as
        they run)."""

        def list_topics(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().list_topics(*args, **kwargs)
            finally:
                self.poll(0)

        def __del__(self) -> None:
            with contextlib.suppress(Exception):
                self.poll(0)

    return LoggingAdmin


def check_connection(settings: Settings, bootstrap: str | None = None) -> str:
    """Connect once before any work; return the bootstrap servers.

    A rejected password or mechanism, or a certificate the CA file does not trust, stops
    here with one line naming the setting, instead of deep inside Spark or librdkafka's
    retries.
    """
    bootstrap = bootstrap or bootstrap_servers(settings)
    wait_ready(bootstrap, settings, timeout=PROBE_TIMEOUT_S)
    return bootstrap


def security_problem(k: KafkaSettings | Connection, errors: list[str]) -> str | None:
    """The user's message for librdkafka errors that a security setting caused, else None."""
    text = " ".join(errors)
    low = text.lower()
    if "unsupported sasl mechanism" in low or "mechanism not supported" in low:
        _, found, rest = text.partition("supported mechanisms:")
        offered = rest.split()[:1] if found else []
        also = f" (it offers {offered[0].rstrip('.,)')})" if offered else ""
        return (
            f"Kafka does not accept SASL mechanism {k.sasl_mechanism or 'PLAIN'}{also}: set "
            "kafka.sasl_mechanism (SHOPSTREAM_KAFKA__SASL_MECHANISM) to one it enables."
        )
    if "authentication failed" in low or "invalid credentials" in low:
        return (
            f"Kafka rejected the credentials of user {k.sasl_username!r} "
            f"({k.sasl_mechanism or 'PLAIN'}): check kafka.sasl_password "
            "(SHOPSTREAM_KAFKA__SASL_PASSWORD) and kafka.sasl_username."
        )
    if "certificate verify failed" in low or "unable to get local issuer" in low:
        ca = k.ssl_ca_location or "the system's CA store"
        return (
            f"the broker's TLS certificate is not trusted by kafka.ssl_ca_location ({ca}): "
            "set SHOPSTREAM_KAFKA__SSL_CA_LOCATION to the CA that signed it (for a local "
            "broker: <home>/kafka/security/ca.pem)."
        )
    if k.ssl and ("ssl handshake failed" in low or "wrong version number" in low):
        return (
            f"the TLS handshake with Kafka failed ({k.security_protocol}): check "
            "kafka.security_protocol (SHOPSTREAM_KAFKA__SECURITY_PROTOCOL) and "
            "kafka.ssl_ca_location."
        )
    return None


def wait_ready(
    bootstrap: str,
    settings: Settings,
    timeout: float = READY_TIMEOUT_S,
    procs: list[BrokerProcess] | None = None,
) -> None:
    """Block until every broker answers a metadata request (or raise with the log tail).

    A security misconfiguration raises ConfigError at once (see `security_problem`).
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout
    want = len(procs) if procs else 1

    def give_up(last: str) -> BrokerUnavailable:
        return BrokerUnavailable(
            f"Kafka at {bootstrap} did not answer within {timeout:.0f}s ({last})."
        )

    def check_alive() -> None:
        for p in procs or []:
            if not p.alive():
                tail = Path(p.log).read_text(errors="replace").splitlines()[-5:]
                raise KafkaError(f"broker {p.node_id} exited during start-up: {' | '.join(tail)}")

    def listening(_: float) -> None:
        check_alive()
        closed = [p.port for p in procs or [] if not is_listening(HOST, p.port)]
        if closed:
            raise NotYet(f"nothing listens on port {', '.join(map(str, closed))} yet")

    # Wait for the listeners first: a client created earlier logs every refused connect.
    retry(listening, deadline=deadline, pause=0.2, give_up=give_up)
    errors: list[str] = []
    conn = connection(settings, bootstrap)
    client = AdminClient(
        conn.librdkafka()
        | log_config(settings)
        | {
            # librdkafka's own log lines would repeat what we say in one line below.
            "log_level": 0,
            "error_cb": lambda err: errors.append(err.str()),
        }
    )

    def registered(_: float) -> None:
        check_alive()
        md = client.list_topics(timeout=2)
        if len(md.brokers) < want:
            raise NotYet(f"{len(md.brokers)}/{want} brokers registered")

    def security(err: BaseException) -> None:
        if isinstance(err, KafkaException):
            errors.append(str(err))
            client.poll(0)  # serves error_cb: the reason behind a transport failure
        problem = security_problem(conn, errors)
        if problem is not None:
            raise ConfigError(problem)

    retry(registered, deadline=deadline, pause=0.3, give_up=give_up, on_error=security)
