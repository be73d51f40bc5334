"""Producer pieces that need no broker: file source, keys, rates, stopping, bench parsing."""

from __future__ import annotations

import os
import signal

import pytest

from shopstream.bench.producer import parse_perf_output, perf_producer_props
from shopstream.bronze.producer import (
    FileSource,
    ProduceReport,
    ProducerTuning,
    key_of,
    raise_for_delivery,
)
from shopstream.cli.produce import parse_rate
from shopstream.errors import ConfigError, DeliveryError


def test_file_source_sends_lines_byte_for_byte(tmp_path) -> None:
    lines = [
        b'{"customer_id":"C1","event_type":"PURCHASE"}',
        b"{not json",
        b"",
        b'{"customer_id":"  ","x":1}',
        b"\xff\xfe",
        b'[{"customer_id":"C2"}]',
        b'{"customer_id":"C3"}\r',
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    chunks = list(FileSource(path).chunks(lambda: 10))
    values = [v for vals, _, _ in chunks for v in vals]
    keys = [k for _, ks, _ in chunks for k in ks]
    assert values == lines  # no trailing empty message for the final newline
    assert keys == [b"C1", None, None, None, None, None, b"C3"]


def test_file_source_without_final_newline_and_with_a_limit(tmp_path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"a\nb\nc")
    assert [v for vals, _, _ in FileSource(path).chunks(lambda: 10) for v in vals] == [
        b"a",
        b"b",
        b"c",
    ]
    assert [v for vals, _, _ in FileSource(path, events=2).chunks(lambda: 10) for v in vals] == [
        b"a",
        b"b",
    ]


def test_key_of_only_uses_a_non_blank_string_customer_id() -> None:
    assert key_of(b'{"customer_id":"CUST_1"}') == b"CUST_1"
    assert key_of(b'{"customer_id":null}') is None
    assert key_of(b'{"customer_id":42}') is None
    assert key_of(b"[1]") is None
    assert key_of(b"") is None


@pytest.mark.parametrize(("given", "want"), [("max", None), ("MAX", None), ("1000", 1000.0)])
def test_parse_rate(given: str, want: float | None) -> None:
    assert parse_rate(given) == want


@pytest.mark.parametrize("bad", ["fast", "-5"])
def test_parse_rate_rejects_nonsense(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_rate(bad)


def test_tuning_is_safe_and_fast() -> None:
    conf = ProducerTuning().config()
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True
    assert conf["compression.type"] == "lz4" and conf["batch.size"] >= 1_000_000
    assert conf["delivery.report.only.error"] is True
    props = perf_producer_props("h:1", ProducerTuning())
    assert "acks=all" in props and "enable.idempotence=true" in props


def test_delivery_failures_raise_with_counts() -> None:
    report = ProduceReport(topic="raw", sent=10)
    raise_for_delivery(report)  # all delivered: no error
    report.errors["MSG_TIMED_OUT"] += 3
    assert report.delivered == 7 and not report.ok
    with pytest.raises(DeliveryError, match="3 of 10"):
        raise_for_delivery(report)


def test_parse_perf_output() -> None:
    text = (
        "1209312 records sent, 241862.4 records/sec (59.05 MB/sec), 98.1 ms avg latency, "
        "361.0 ms max latency.\n"
        "5000000 records sent, 251256.3 records/sec (61.34 MB/sec), 95.20 ms avg latency, "
        "400.00 ms max latency, 80 ms 50th, 200 ms 95th, 300 ms 99th, 390 ms 99.9th.\n"
    )
    out = parse_perf_output(text)
    assert out["records"] == 5_000_000 and out["events_per_s"] == 251256.3
    assert out["samples"] == [(1209312, 241862.4)]


@pytest.mark.parametrize("slot_bytes", [None, 4096], ids=["shared-memory", "too-big-for-a-slot"])
def test_process_source_yields_the_same_batches_as_in_process_generation(slot_bytes) -> None:
    from shopstream.bronze.batch import EventBatch
    from shopstream.bronze.generator import EventGenerator, GeneratorConfig
    from shopstream.bronze.producer import ProcessSource

    cfg = GeneratorConfig(seed=12, customers=100, products=10, now_ms=1_764_133_200_000)
    here = list(EventGenerator(cfg).batches(5000, 1000))
    source = ProcessSource(cfg, 5000, batch_size=1000, slot_bytes=slot_bytes)
    there = [batch for _, _, batch in source.chunks(lambda: 0)]
    assert len(there) == len(here)
    for mine, theirs in zip(there, here, strict=True):
        assert mine.values == theirs.values and mine.keys == theirs.keys
        for name in EventBatch._ARRAYS:
            assert (getattr(mine, name) == getattr(theirs, name)).all(), name


def test_truth_of_a_child_process_run_equals_the_in_process_truth() -> None:
    """The truth's twin generator never draws; customers the child adds are still named."""
    from shopstream.bronze.generator import EventGenerator, GeneratorConfig
    from shopstream.bronze.producer import ProcessSource
    from shopstream.bronze.truth import TruthBuilder

    # A small base, so first-time customers outgrow the twin's allocation (1,024 ids).
    cfg = GeneratorConfig(seed=3, customers=100, products=10, now_ms=1_764_133_200_000)
    here_gen = EventGenerator(cfg, total_events=20_000)
    here = TruthBuilder(here_gen)
    for batch in here_gen.batches(20_000, 2000):
        here.add(batch)
    twin = EventGenerator(cfg, total_events=20_000)
    there = TruthBuilder(twin)
    source = ProcessSource(cfg, 20_000, batch_size=2000)
    for _, _, batch in source.chunks(lambda: 0):
        there.add(batch)
    there.customer_base = source.customer_base
    expected = here.result()
    assert expected["customers"]["at_end"] > 1024  # the case that once raised IndexError
    assert there.result() == expected


def test_split_at_inverts_join() -> None:
    import numpy as np

    from shopstream.bronze.producer import split_at

    parts = [b"{}", b"", b"abc", b"\n"]
    ends = np.cumsum([len(p) for p in parts])
    assert split_at(b"".join(parts), ends) == parts


def test_undeliverable_messages_are_counted_not_lost(tmp_path) -> None:
    from shopstream.bronze.generator import EventGenerator, GeneratorConfig
    from shopstream.bronze.producer import GeneratorSource, produce
    from shopstream.config import load_settings

    settings = load_settings(home=tmp_path, kafka={"bootstrap_servers": "127.0.0.1:1"})
    gen = EventGenerator(GeneratorConfig(seed=1, customers=10, products=5))
    report = produce(
        settings,
        GeneratorSource(gen, 50),
        tuning=ProducerTuning(delivery_timeout_ms=1500),
        flush_timeout_s=10,
    )
    assert report.sent == 50 and report.delivered == 0 and not report.ok
    with pytest.raises(DeliveryError):
        raise_for_delivery(report)


def test_a_second_ctrl_c_gives_up_the_flush(tmp_path) -> None:
    """First Ctrl-C: stop sending and flush; another one: leave the rest undelivered."""
    import threading

    from shopstream.bronze.generator import EventGenerator, GeneratorConfig
    from shopstream.bronze.producer import GeneratorSource, produce
    from shopstream.config import load_settings
    from shopstream.runtime.signals import stop_on_signals

    # No broker: queued messages stay queued until the (long) delivery timeout.
    settings = load_settings(home=tmp_path, kafka={"bootstrap_servers": "127.0.0.1:1"})
    gen = EventGenerator(GeneratorConfig(seed=1, customers=10, products=5))
    done = threading.Event()

    def keep_pressing() -> None:  # Ctrl-C until produce() returns, whenever its flush starts
        while not done.wait(0.1):
            os.kill(os.getpid(), signal.SIGINT)

    class OneChunkThenCtrlC(GeneratorSource):
        def chunks(self, size):  # type: ignore[no-untyped-def]
            yield from super().chunks(size)
            threading.Thread(target=keep_pressing, daemon=True).start()

    with stop_on_signals() as stop:
        try:
            report = produce(
                settings,
                OneChunkThenCtrlC(gen, 50),
                stop=stop,
                tuning=ProducerTuning(delivery_timeout_ms=600_000),
            )
        finally:
            done.set()
    assert report.sent == 50 and stop.signals >= 2
    # Given up, not timed out: all 50 were still queued and were purged.
    assert report.undelivered == 50 and set(report.errors) == {"_PURGE_QUEUE"}
    # Counted once: purged messages are undelivered, not failed as well.
    assert report.failed == 0 and report.delivered == 0


def test_process_source_stopped_early_ends_its_process_and_frees_the_shared_memory() -> None:
    from pathlib import Path

    from shopstream.bronze.generator import GeneratorConfig
    from shopstream.bronze.producer import ProcessSource

    source = ProcessSource(GeneratorConfig(seed=3, customers=50, products=5), None, batch_size=500)
    chunks = source.chunks(lambda: 0)
    values, _, _ = next(chunks)  # endless source: the reader decides when to stop
    process, segment = source._proc, Path("/dev/shm") / source._shm.name.lstrip("/")
    assert len(values) == 500 and process.is_alive() and segment.exists()
    chunks.close()
    assert not process.is_alive() and not segment.exists()


def test_produce_cli_benchmark_runs_the_real_command_with_truth(tmp_path) -> None:
    from shopstream.bench.producer import produce_command

    cmd = produce_command(1000, 7, tmp_path / "t.json")
    assert cmd[cmd.index("produce") :] == [
        "produce", "--events", "1000", "--rate", "max", "--seed", "7",
        "--truth", str(tmp_path / "t.json"), "--json",
    ]  # fmt: skip
