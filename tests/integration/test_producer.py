"""Produce to a real broker, consume back: counts, bytes and keys match the ground truth."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter

import orjson
import pytest

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.noise import Noise, NoiseRates
from shopstream.bronze.producer import FileSource, GeneratorSource, produce
from shopstream.bronze.truth import TruthBuilder
from shopstream.config import Settings
from shopstream.kafka.connection import client_config
from shopstream.kafka.offsets import end_offsets

pytestmark = pytest.mark.integration


def _consume_all(
    settings: Settings, topic: str, expected: int
) -> list[tuple[bytes, bytes | None, int]]:
    """Every (value, key, partition) of `topic`, reading until `expected` or 60 s."""
    import time

    from confluent_kafka import Consumer

    consumer = Consumer(
        client_config(settings)
        | {"group.id": f"test-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest",
           "enable.auto.commit": False}
    )  # fmt: skip
    consumer.subscribe([topic])
    out: list[tuple[bytes, bytes | None, int]] = []
    deadline = time.monotonic() + 60
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for m in consumer.consume(10_000, 1.0):
                if m.error() is None:
                    out.append((m.value() or b"", m.key(), m.partition()))
    finally:
        consumer.close()
    return out


def test_produced_events_match_the_truth(settings: Settings) -> None:
    noisy = NoiseRates(**{k.name.lower(): 0.01 for k in Noise}, duplicate=0.02)
    cfg = GeneratorConfig.from_settings(
        settings, seed=21, customers=400, products=40, backfill_days=2, noise=noisy
    )
    n = 30_000
    gen = EventGenerator(cfg, total_events=n)
    builder = TruthBuilder(gen)
    sent_values: list[bytes] = []

    class Recording(GeneratorSource):
        def chunks(self, size):  # type: ignore[no-untyped-def]
            for values, keys, batch in super().chunks(size):
                sent_values.extend(values)
                yield values, keys, batch

    report = produce(settings, Recording(gen, n), truth=builder)
    truth = builder.result()
    assert report.ok and report.sent == report.delivered == n == truth["raw"]
    assert sum(end_offsets(settings, settings.kafka.raw_topic).values()) == n

    got = _consume_all(settings, settings.kafka.raw_topic, n)
    assert len(got) == truth["raw"]
    # The broker holds exactly the bytes the truth was computed from (unit tests check
    # truth == an independent recomputation from those bytes).
    assert Counter(v for v, _, _ in got) == Counter(sent_values)
    keys = Counter(k.decode() for _, k, _ in got if k is not None)
    assert keys == Counter(truth["keys"]["by_key"])
    assert sum(1 for _, k, _ in got if k is None) == truth["keys"]["null"]
    # key = customer_id: one customer's events share a partition (ordering per customer).
    partitions: dict[bytes, set[int]] = {}
    for _, k, p in got:
        if k is not None:
            partitions.setdefault(k, set()).add(p)
    assert all(len(ps) == 1 for ps in partitions.values())
    assert len({p for ps in partitions.values() for p in ps}) == settings.kafka.raw_partitions
    for value, key, _ in got[:2000]:  # where the value has a customer_id, the key is it
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        if (
            isinstance(obj, dict)
            and isinstance(obj.get("customer_id"), str)
            and obj["customer_id"].strip()
        ):
            assert key == obj["customer_id"].encode()


def test_from_file_sends_malformed_lines_byte_for_byte(settings: Settings, tmp_path) -> None:
    lines = [b'{"customer_id":"A","event_type":"PAGE_VIEW"}', b"{broken", b"", b"\xff", b"[]"]
    path = tmp_path / "replay.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = produce(settings, FileSource(path))
    assert report.ok and report.sent == len(lines)
    got = _consume_all(settings, settings.kafka.raw_topic, len(lines))
    assert sorted(v for v, _, _ in got) == sorted(lines)
    assert {k for _, k, _ in got} == {b"A", None}


def test_cli_produce_writes_truth_and_exits_zero(settings: Settings, tmp_path) -> None:
    truth_path = tmp_path / "truth.json"
    env = os.environ | {
        "SHOPSTREAM_HOME": str(settings.home),
        "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers or "",
    }
    cmd = [
        sys.executable, "-c", "from shopstream.cli import main; main()", "produce",
        "-n", "5000", "--seed", "3", "--truth", str(truth_path),
        "--topic", settings.kafka.raw_topic, "--json",
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    summary = orjson.loads(proc.stdout)
    truth = orjson.loads(truth_path.read_bytes())
    assert summary["delivered"] == truth["raw"] == 5000
    assert truth["raw"] == truth["clean"] + truth["dead_letter"]["total"]
    assert truth["clean"] == truth["unique"] + truth["duplicates"]
    assert sum(end_offsets(settings, settings.kafka.raw_topic).values()) == 5000


def test_cli_produce_without_a_broker_is_a_clean_error(tmp_path) -> None:
    env = os.environ | {"SHOPSTREAM_HOME": str(tmp_path / "h"),
                        "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"}  # fmt: skip
    cmd = [sys.executable, "-c", "from shopstream.cli import main; main()", "produce", "-n", "10"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr
