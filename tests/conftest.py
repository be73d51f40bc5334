"""Shared fixtures: one real Kafka broker per session, per-test homes and topics, Spark.

Integration fixtures start real processes (no mocks); each test gets its own
SHOPSTREAM_HOME under tmp_path and uuid-named topics, so tests never see each other's data.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shopstream.config import Settings, load_settings


@pytest.fixture(autouse=True, scope="session")
def _isolated_env() -> Iterator[None]:
    """Tests never read the developer's SHOPSTREAM_* variables or shopstream.toml."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SHOPSTREAM_")}
    for k in saved:
        del os.environ[k]
    os.environ["SHOPSTREAM_CONFIG"] = "/nonexistent/shopstream.toml"
    yield
    os.environ.pop("SHOPSTREAM_CONFIG", None)
    os.environ.update(saved)


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_reaches_children() -> None:
    """The commands under test get SIGINT as a terminal sends it, however pytest started.

    A shell starts a background job (`cmd &` without job control, as CI scripts do) with
    SIGINT ignored, every child inherits that, and Python then installs no KeyboardInterrupt:
    the tests that stop `dashboard` or `up` with SIGINT waited forever (two fresh-clone
    runs, 2026-12-03). A handler, unlike an ignore, is reset to the default at exec.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)
        # By fixture, not by hand: a test cannot start Spark without carrying the marker.
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory, _isolated_env: None) -> Iterator[str]:
    """A real local KRaft broker on free ports for the whole session; always torn down."""
    from shopstream.kafka.cluster import LocalCluster

    home = tmp_path_factory.mktemp("kafka-home")
    cluster = LocalCluster(load_settings(home=home))
    try:
        state = cluster.start()
        yield state.bootstrap
    finally:
        cluster.stop()


@pytest.fixture
def settings_factory(tmp_path: Path, kafka_bootstrap: str) -> Callable[..., Settings]:
    """Build Settings bound to the session broker, with fresh topics and a fresh home."""

    def make(**overrides: Any) -> Settings:
        from shopstream.kafka.topics import ensure_topics

        suffix = uuid.uuid4().hex[:10]
        kafka = {
            "bootstrap_servers": kafka_bootstrap,
            "raw_topic": f"raw_{suffix}",
            "clean_topic": f"clean_{suffix}",
            "dead_letter_topic": f"dlq_{suffix}",
        } | overrides.pop("kafka", {})
        spark = {"master": "local[2]", "trigger_seconds": 0.2} | overrides.pop("spark", {})
        home = overrides.pop("home", tmp_path / f"home-{suffix}")
        s = load_settings(home=home, kafka=kafka, spark=spark, **overrides)
        ensure_topics(s)
        return s

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    """Per-test Settings: session broker, unique topics, home under tmp_path."""
    return settings_factory()


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory, _isolated_env: None) -> Iterator[Any]:
    """One real local Spark session (with the Maven-resolved Kafka connector) per test run."""
    from shopstream.spark.session import spark_session

    home = tmp_path_factory.mktemp("spark-home")
    session = spark_session(
        load_settings(home=home, spark={"master": "local[2]"}), "shopstream-tests"
    )
    try:
        yield session
    finally:
        session.stop()
