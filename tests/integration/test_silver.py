"""Silver against a real broker and real Spark: reconciliation, reasons, resume, DLQ replay."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.noise import NoiseRates
from shopstream.config import Settings
from shopstream.contract import CLEAN_FIELDS, REASONS, field_names
from shopstream.kafka.connection import client_config
from shopstream.kafka.offsets import watermarks
from shopstream.silver.job import query_totals, start_silver
from shopstream.silver.metrics import read_totals
from shopstream.spark.checkpoints import progress_log, read_progress

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "silver"))
from shopstream_env import cli_env
from silver_corpus import build_cases, make_event

NOISE = NoiseRates(**{f: 0.02 for f in NoiseRates.__dataclass_fields__})
Coord = tuple[int, int]


def _produce(
    settings: Settings, records: list[tuple[bytes | None, bytes | None]]
) -> dict[Coord, int]:
    """Send (key, value) pairs; return (partition, offset) -> index in `records`."""
    producer = Producer(client_config(settings) | {"acks": "all", "enable.idempotence": True})
    where: dict[Coord, int] = {}
    errors: list[str] = []

    def done(i: int) -> Callable[[Any, Any], None]:
        def cb(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                where[(msg.partition(), msg.offset())] = i

        return cb

    for i, (key, value) in enumerate(records):
        producer.produce(settings.kafka.raw_topic, value=value, key=key, on_delivery=done(i))
        producer.poll(0)
    assert producer.flush(60) == 0
    assert errors == []
    return where


def _consume_all(settings: Settings, topic: str) -> list[Any]:
    """Every message currently in `topic`."""
    marks = {p: hi for p, (lo, hi) in watermarks(settings, topic).items() if hi > lo}
    consumer = Consumer(
        client_config(settings) | {"group.id": f"t-{topic}", "enable.auto.commit": False}
    )
    out: list[Any] = []
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in marks])
        seen = dict.fromkeys(marks, -1)
        while any(seen[p] < hi - 1 for p, hi in marks.items()):
            for msg in consumer.consume(500, timeout=5):
                assert msg.error() is None, msg.error()
                out.append(msg)
                seen[msg.partition()] = msg.offset()
    finally:
        consumer.close()
    return out


def _run_available_now(spark: Any, settings: Settings) -> Any:
    query = start_silver(spark, settings, available_now=True)
    query.awaitTermination(300)
    assert not query.isActive
    assert query.exception() is None
    return query


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shopstream", *args, "--home", str(settings.home)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=cli_env(settings),
    )


def test_mixed_corpus_reconciles_with_exact_reasons_and_resumes(
    settings: Settings, spark: Any
) -> None:
    now = datetime.now(UTC)
    cases = build_cases(now)
    config = GeneratorConfig.from_settings(settings, seed=3, noise=NOISE)
    batch = EventGenerator(config).next_batch(1500)
    records = [(None if i % 5 == 0 else b"key-%d" % i, raw) for i, (_, raw, _) in enumerate(cases)]
    expected = [reason for _, _, reason in cases]
    records += list(zip(batch.keys, batch.values, strict=True))
    expected += [batch.reason_name(i) for i in range(len(batch))]
    where = _produce(settings, records)

    query = _run_available_now(spark, settings)

    clean = _consume_all(settings, settings.kafka.clean_topic)
    dead = _consume_all(settings, settings.kafka.dead_letter_topic)
    assert len(clean) + len(dead) == len(records)  # raw = clean + dead_letter
    got: dict[Coord, str | None] = {}
    for msg in clean:
        v = json.loads(msg.value())
        assert list(v) == field_names(CLEAN_FIELDS)
        got[(v["source_partition"], v["source_offset"])] = None
    for msg in dead:
        v = json.loads(msg.value())
        coord = (v["source_partition"], v["source_offset"])
        i = where[coord]
        assert v["source_topic"] == settings.kafka.raw_topic
        raw = None if v["raw_base64"] is None else base64.b64decode(v["raw_base64"])
        assert raw == records[i][1]
        assert msg.key() == records[i][0]
        got[coord] = v["reason"]
    assert len(got) == len(records)  # no record twice
    assert {c: got[c] for c in where} == {c: expected[i] for c, i in where.items()}
    assert set(REASONS) <= {r for r in expected if r}

    # Counters: the observed metrics add up to what was written, per reason too.
    totals = query_totals(spark, query)
    assert (totals.input, totals.clean, totals.dead_letter) == (len(records), len(clean), len(dead))
    by_reason = {r: sum(1 for e in expected if e == r) for r in REASONS}
    assert totals.by_reason == {r: n for r, n in by_reason.items() if n}
    on_disk = read_totals(settings)
    assert (on_disk.input, on_disk.clean, on_disk.dead_letter) == (
        totals.input,
        totals.clean,
        totals.dead_letter,
    )

    # Restart: only the new records are processed; nothing is written twice.
    more = [(b"c-new", make_event(datetime.now(UTC), event_id=f"new-{i}")) for i in range(5)]
    _produce(settings, more)
    _run_available_now(spark, settings)
    clean_after = _consume_all(settings, settings.kafka.clean_topic)
    assert len(clean_after) == len(clean) + len(more)
    assert len(_consume_all(settings, settings.kafka.dead_letter_topic)) == len(dead)
    assert read_totals(settings).input == len(records) + len(more)
    progresses = read_progress(progress_log(settings, "silver"))
    assert all("observedMetrics" in p for p in progresses if p["numInputRows"])


def test_cli_silver_then_dlq_show_and_replay_after_a_rate_fix(
    settings_factory: Callable[..., Settings], spark: Any
) -> None:
    settings = settings_factory()
    now = datetime.now(UTC)
    chf = [(b"c-%d" % i, make_event(now, event_id=f"chf-{i}", currency="CHF")) for i in range(3)]
    ok = [(b"c-ok", make_event(now, event_id="usd-1"))]
    bad = [(None, b"{not json")]
    _produce(settings, chf + ok + bad)

    run = _cli(settings, "silver", "--available-now")
    assert run.returncode == 0, run.stderr
    assert "5 in, 1 clean, 4 dead-lettered" in run.stdout

    shown = _cli(settings, "dlq", "show", "--json", "--reason", "unsupported_currency")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert [d["reason"] for d in doc] == ["unsupported_currency"] * 3
    assert sorted(base64.b64decode(d["raw_base64"]) for d in doc) == sorted(v for _, v in chf)
    assert _cli(settings, "dlq", "show", "--limit", "1", "--json").stdout.count('"reason"') == 1
    unknown = _cli(settings, "dlq", "show", "--reason", "nope")
    assert unknown.returncode == 2 and "unknown reason" in unknown.stderr

    dry = _cli(settings, "dlq", "replay", "--reason", "unsupported_currency", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["selected"] == 3 and json.loads(dry.stdout)["sent"] == 0

    sent = _cli(settings, "dlq", "replay", "--reason", "unsupported_currency", "--json")
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["sent"] == 3
    again = _cli(settings, "dlq", "replay", "--reason", "unsupported_currency", "--json")
    assert json.loads(again.stdout) | {"by_reason": {}} == {
        "selected": 0,
        "sent": 0,
        "skipped_already_replayed": 3,
        "dry_run": False,
        "by_reason": {},
    }

    # The fix: CHF joins the rate table; the replayed originals now pass.
    rates = dict(settings.pipeline.currency_rates) | {"CHF": "1.13"}
    fixed = settings.model_copy(
        update={"pipeline": settings.pipeline.model_copy(update={"currency_rates": rates})}
    )
    _run_available_now(spark, fixed)
    clean = [json.loads(m.value()) for m in _consume_all(settings, settings.kafka.clean_topic)]
    assert sorted(c["event_id"] for c in clean) == ["chf-0", "chf-1", "chf-2", "usd-1"]
    chf_clean = [c for c in clean if c["currency"] == "CHF"]
    assert all(c["reporting_amount"] == pytest.approx(11.87) for c in chf_clean)  # 10.50 x 1.13


def test_real_time_mode_refuses_too_few_task_slots(settings: Settings, spark: Any) -> None:
    from shopstream.silver.exceptions import RealTimeSlotsError

    with pytest.raises(RealTimeSlotsError, match="local\\[4\\]"):
        start_silver(spark, settings, real_time=True)


def _wait_for(settings: Settings, topic: str, n: int, proc: subprocess.Popen[str]) -> None:
    """Block until `topic` holds `n` messages (the process must stay alive meanwhile)."""
    from shopstream.kafka.offsets import message_count

    while message_count(settings, topic) < n:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.5)


def _cli_process(settings: Settings, *args: str) -> subprocess.Popen[str]:
    """`shopstream ARGS --home H` started in the background, on this test's broker."""
    return subprocess.Popen(
        [sys.executable, "-m", "shopstream", *args, "--home", str(settings.home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(settings),
    )


def _children(pid: int) -> list[int]:
    """Pids whose parent is `pid` (from /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


@pytest.mark.parametrize("command", ["silver", "gold", "process"])
def test_ctrl_c_while_spark_starts_stops_cleanly(settings: Settings, command: str) -> None:
    proc = _cli_process(settings, command)
    try:
        # The first child process is Spark's JVM launcher: Spark is starting right now.
        deadline = time.monotonic() + 60
        while not _children(proc.pid):
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "Spark's JVM was never launched"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "interrupted" not in err, err[-2000:]


def test_real_time_mode_streams_continuously_and_stops_cleanly_on_sigterm(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    _produce(settings, [(b"c", make_event(now, event_id=f"rt-{i}")) for i in range(3)])
    k = settings.kafka
    args = ["--real-time", "--master", "local[4]", "--checkpoint-interval", "5 seconds"]
    proc = _cli_process(settings, "silver", *args)
    try:
        _wait_for(settings, k.clean_topic, 3, proc)
        # Records sent while the query runs flow through without a restart.
        _produce(settings, [(b"c", make_event(datetime.now(UTC), event_id="rt-late"))])
        _produce(settings, [(None, b"[]")])
        _wait_for(settings, k.clean_topic, 4, proc)
        _wait_for(settings, k.dead_letter_topic, 1, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "silver done" in out
    assert "Real-time Mode" in err
