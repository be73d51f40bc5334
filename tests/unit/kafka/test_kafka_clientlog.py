"""librdkafka's own log lines land in <home>/logs/kafka-clients.log, never on the terminal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from confluent_kafka import Producer

from shopstream.config import load_settings
from shopstream.kafka.clientlog import LOGGER_NAME
from shopstream.kafka.connection import client_config
from shopstream.ports import free_port


def test_every_client_config_logs_to_the_home(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path / "home")
    logger = client_config(settings, "127.0.0.1:1")["logger"]
    assert isinstance(logger, logging.Logger) and logger.name == LOGGER_NAME
    assert not logger.propagate  # the file only
    (handler,) = logger.handlers
    assert Path(handler.baseFilename) == settings.files.kafka_client_log  # type: ignore[attr-defined]
    assert not (tmp_path / "home").exists()  # nothing is made before a line is logged
    other = load_settings(home=tmp_path / "other")
    (handler,) = client_config(other, "127.0.0.1:1")["logger"].handlers
    assert Path(handler.baseFilename) == other.files.kafka_client_log  # type: ignore[attr-defined]


def test_a_clients_lines_go_to_the_file_not_to_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(home=tmp_path)
    closed = free_port()  # nothing listens there: librdkafka logs each refused connect
    producer = Producer(client_config(settings, f"127.0.0.1:{closed}"))
    log = settings.files.kafka_client_log
    for _ in range(100):  # bounded; the first refused connect is logged within a poll or two
        producer.poll(0.1)
        if log.is_file() and log.read_text():
            break
    assert f"127.0.0.1:{closed}" in log.read_text()
    printed = capfd.readouterr()
    assert "rdkafka" not in printed.err + printed.out


def test_an_admin_clients_lines_reach_the_file_too(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import socket
    import threading

    from confluent_kafka import KafkaException

    from shopstream.kafka.clients import admin

    # A listener that answers every connection with bytes no broker sends: librdkafka logs
    # each failed handshake. Nothing polls an AdminClient, so the lines used to be dropped.
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer_garbage() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"garbage\x00\x00\x00")

    threading.Thread(target=answer_garbage, daemon=True).start()
    settings = load_settings(home=tmp_path)
    try:
        client = admin(settings, f"127.0.0.1:{port}")
        with pytest.raises(KafkaException):
            client.list_topics(timeout=1)
        del client
    finally:
        server.close()
    assert f"127.0.0.1:{port}" in settings.files.kafka_client_log.read_text()
    printed = capfd.readouterr()
    assert "rdkafka" not in printed.err + printed.out
