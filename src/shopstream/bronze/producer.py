"""Send generated (or file) events to Kafka fast and safely: acks=all, idempotent, counted.

The hot loop calls `Producer.produce` back to back and serves callbacks with `poll(0)`
every few thousand messages; a full local queue (`BufferError`) is handled by polling until
librdkafka drains. Delivery reports are requested for failures only
(`delivery.report.only.error`), so success costs no Python callback: after `flush`,
delivered = handed over - failed - still queued.

Examples:
    >>> from shopstream.config import load_settings
    >>> source = GeneratorSource(EventGenerator(GeneratorConfig(seed=1)), events=1000)
    >>> report = produce(load_settings(), source)            # doctest: +SKIP
    >>> report.delivered, report.failed                      # doctest: +SKIP
    (1000, 0)
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from shopstream.bronze.generator import EventBatch, EventGenerator, GeneratorConfig
from shopstream.bronze.traffic import SendSchedule
from shopstream.bronze.truth import TruthBuilder
from shopstream.errors import ConfigError, DeliveryError, KafkaError

if TYPE_CHECKING:  # the generator process imports this module: pydantic costs it ~0.1 s
    from shopstream.config import Settings

MAX_BATCH = 65_536
POLL_EVERY = 8192  # messages per produce_batch call; callbacks are served in between


@dataclass(frozen=True)
class ProducerTuning:
    """librdkafka knobs that decide throughput; defaults measured on a 2-core box."""

    linger_ms: int = 20
    batch_bytes: int = 1_048_576
    compression: str = "lz4"
    queue_max_messages: int = 2_000_000
    queue_max_kbytes: int = 1_048_576
    delivery_timeout_ms: int = 120_000

    def config(self) -> dict[str, Any]:
        """The producer settings, beside the connection settings."""
        return {
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": self.linger_ms,
            "batch.size": self.batch_bytes,
            "compression.type": self.compression,
            "queue.buffering.max.messages": self.queue_max_messages,
            "queue.buffering.max.kbytes": self.queue_max_kbytes,
            "message.timeout.ms": self.delivery_timeout_ms,
            "delivery.report.only.error": True,
        }


class StopRequest(Protocol):
    """When to stop sending, as `shopstream.runtime.signals.Stop` tells it.

    Set (by code or the first SIGINT/SIGTERM): stop sending, flush what is queued. A second
    signal (`signals` > 1): give up waiting for queue room and for the flush.
    """

    signals: int

    def is_set(self) -> bool: ...


class _NoStop:
    """The stop request of a call given none: never set."""

    signals = 0

    def is_set(self) -> bool:
        return False


class Source(Protocol):
    """Yields (values, keys, batch-or-None) chunks; `size` is a hint for the next chunk."""

    def chunks(self, size: Callable[[], int]) -> Iterator[tuple[list[bytes], list, Any]]: ...


@dataclass
class GeneratorSource:
    """Events from an `EventGenerator`: a fixed count, or endless (stop by time or signal).

    With a `schedule`, each chunk's live timestamps spread over the time the schedule
    gives its events (the day curve and traffic incidents included).
    """

    generator: EventGenerator
    events: int | None = None
    schedule: SendSchedule | None = None

    def chunks(self, size: Callable[[], int]) -> Iterator[tuple[list[bytes], list, Any]]:
        gen, schedule = self.generator, self.schedule
        while self.events is None or gen.position < self.events:
            n = size() if self.events is None else min(size(), self.events - gen.position)
            spread = 0
            if schedule is not None:
                due = schedule.seconds_for(gen.position + n) - schedule.seconds_for(gen.position)
                spread = int(due * 1000)
            batch = gen.next_batch(n, spread)
            yield batch.values, batch.keys, batch


class ProcessSource:
    """Events generated in a separate process, so generation and sending overlap on 2 cores.

    Same bytes as `GeneratorSource` for the same config (one seeded generator, in the
    child); at most `ahead` batches are in flight (live timestamps lead by < 1 s).
    Call `start()` early to overlap the child's start-up (~0.5 s) with other set-up.

    A batch's messages cross as one buffer in shared memory plus their end offsets, not as
    a pickled list: pickling 3M messages through the queue's pipe cost ~2 s of CPU on each
    side; the copy into and out of a shared slot costs ~10 ms a batch in all.
    """

    def __init__(
        self,
        config: GeneratorConfig,
        events: int | None = None,
        batch_size: int = MAX_BATCH,
        ahead: int = 4,
        slot_bytes: int | None = None,
    ) -> None:
        self.config, self.events, self.batch_size, self.ahead = config, events, batch_size, ahead
        # Rendered events are ~260 B; a batch that does not fit crosses in the queue instead.
        self.slot_bytes = slot_bytes or max(1 << 20, batch_size * 1024)
        self._proc: Any = None
        # The child's customer base (at run start, now): the truth's twin generator never draws.
        self.customer_base: tuple[int | None, int] | None = None

    def start(self) -> None:
        """Spawn the generator process (idempotent)."""
        if self._proc is not None:
            return
        import multiprocessing as mp
        from multiprocessing.shared_memory import SharedMemory

        ctx = mp.get_context("spawn")  # no fork of a process holding librdkafka threads
        self._shm = SharedMemory(create=True, size=self.ahead * self.slot_bytes)
        self._queue, self._free = ctx.Queue(maxsize=self.ahead + 1), ctx.Queue()
        for slot in range(self.ahead):
            self._free.put(slot)
        args = (self.config, self.events, self.batch_size, self._queue)
        args += (self._free, self._shm.name, self.slot_bytes)
        self._proc = ctx.Process(
            target=_generate_into, args=args, daemon=True, name="shopstream-gen"
        )
        self._proc.start()

    def close(self) -> None:
        """Stop the generator process and free the shared memory."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.is_alive():
            proc.terminate()
        proc.join(5)
        for queue in (self._queue, self._free):
            queue.close()
            queue.cancel_join_thread()  # items left for a dead child must not block exit
        self._shm.close()
        self._shm.unlink()

    def chunks(self, size: Callable[[], int]) -> Iterator[tuple[list[bytes], list, Any]]:
        self.start()
        proc, queue, buffer = self._proc, self._queue, self._shm.buf
        try:
            while True:
                try:
                    item = queue.get(timeout=1.0)
                except Empty:
                    if not proc.is_alive():  # died without a word (killed, import error)
                        raise ConfigError(
                            f"event generator process exited with code {proc.exitcode}"
                        ) from None
                    continue
                if item is None:
                    return
                if isinstance(item, str):
                    raise ConfigError(f"event generator failed: {item}")
                slot, data, ends, batch, self.customer_base = item
                if slot is not None:  # copy out, so the slot is free for the next batch
                    offset = slot * self.slot_bytes
                    data = bytes(buffer[offset : offset + int(ends[-1])])
                    self._free.put(slot)
                batch.values = split_at(data, ends)
                yield batch.values, batch.keys, batch
        finally:
            self.close()


def split_at(data: bytes, ends: Any) -> list[bytes]:
    """`data` cut at `ends` (ascending end offsets): the inverse of `b"".join(parts)`."""
    stops = ends.tolist()
    return [data[start:stop] for start, stop in zip([0, *stops[:-1]], stops, strict=True)]


def _generate_into(
    config: GeneratorConfig,
    events: int | None,
    batch_size: int,
    queue: Any,
    free: Any,
    shm_name: str,
    slot_bytes: int,
) -> None:
    """Child process body: batches into shared-memory slots (announced on `queue`), then None.

    Each queue item is (slot or None, data if no slot, end offsets, batch without values,
    the customer base at run start and now); an error is sent as a string for the parent to raise.
    """
    from multiprocessing.shared_memory import SharedMemory

    import numpy as np

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    shm = SharedMemory(name=shm_name)
    try:
        gen = EventGenerator(config, total_events=events)
        for batch in gen.batches(events, batch_size):
            start = gen.planner.customers_at_run_start if gen.planner is not None else None
            base = (start, gen.world.customer_count)
            values = batch.values
            data = b"".join(values)
            ends = np.fromiter(map(len, values), np.int64, len(values)).cumsum()
            batch.values = []
            if len(data) > slot_bytes:
                queue.put((None, data, ends, batch, base))
                continue
            slot = free.get()
            shm.buf[slot * slot_bytes : slot * slot_bytes + len(data)] = data
            queue.put((slot, None, ends, batch, base))
        queue.put(None)
    except Exception as err:  # reported to the parent, which raises
        queue.put(f"{type(err).__name__}: {err}")
    finally:
        shm.close()


@dataclass
class FileSource:
    """JSON lines sent byte-for-byte (malformed lines included); key = customer_id if any."""

    path: Path
    events: int | None = None

    def chunks(self, size: Callable[[], int]) -> Iterator[tuple[list[bytes], list, Any]]:
        sent = 0
        with open(self.path, "rb") as f:
            pending = b""
            while self.events is None or sent < self.events:
                block = f.read(1 << 22)
                data = pending + block
                if not block:
                    lines = [data] if data else []  # last line without a newline
                    pending = b""
                else:
                    *lines, pending = data.split(b"\n")
                for start in range(0, len(lines), MAX_BATCH):
                    values = lines[start : start + MAX_BATCH]
                    if self.events is not None:
                        values = values[: self.events - sent]
                    if not values:
                        break
                    sent += len(values)
                    yield values, [key_of(v) for v in values], None
                if not block:
                    return


def key_of(value: bytes) -> bytes | None:
    """The Kafka key for a raw line: its customer_id when it is a JSON object with one."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    cid = obj.get("customer_id") if isinstance(obj, dict) else None
    return cid.encode() if isinstance(cid, str) and cid.strip(" ") else None


# librdkafka reports every message `purge()` dropped from the queue with this error; those
# are already counted in `undelivered`, so they must not count as `failed` too.
PURGED = "_PURGE_QUEUE"


@dataclass
class ProduceReport:
    """What happened: counts, errors by kind, timings. `ok` = everything delivered."""

    topic: str
    sent: int = 0
    undelivered: int = 0  # still queued when the flush gave up
    bytes: int = 0
    elapsed_s: float = 0.0  # from the first message to the end of the flush
    startup_s: float = 0.0  # waiting for the source's first chunk (e.g. process spawn)
    interrupted: bool = False
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[tuple[float, int]] = field(default_factory=list)  # (t, sent) for plots

    @property
    def failed(self) -> int:
        """Messages whose delivery report was an error (purged ones count as `undelivered`)."""
        return sum(n for kind, n in self.errors.items() if kind != PURGED)

    @property
    def delivered(self) -> int:
        return self.sent - self.failed - self.undelivered

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.undelivered == 0

    @property
    def events_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """Summary for `--json` output and the benchmark."""
        return {
            "topic": self.topic,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "undelivered": self.undelivered,
            "errors": dict(self.errors),
            "bytes": self.bytes,
            "elapsed_s": round(self.elapsed_s, 3),
            "startup_s": round(self.startup_s, 3),
            "events_per_s": round(self.events_per_s, 1),
            "mb_per_s": round(self.bytes / self.elapsed_s / 1e6, 2) if self.elapsed_s else 0.0,
            "interrupted": self.interrupted,
        }


def producer_config(
    settings: Settings, tuning: ProducerTuning | None = None, bootstrap: str | None = None
) -> dict[str, Any]:
    """Connection (incl. SASL/SSL) + throughput settings for confluent-kafka's Producer."""
    from shopstream.kafka.connection import client_config

    return client_config(settings, bootstrap) | (tuning or ProducerTuning()).config()


def produce(
    settings: Settings,
    source: Source,
    *,
    topic: str | None = None,
    rate: float | SendSchedule | None = None,
    duration_s: float | None = None,
    truth: TruthBuilder | None = None,
    stop: StopRequest | None = None,
    tuning: ProducerTuning | None = None,
    bootstrap: str | None = None,
    on_progress: Callable[[ProduceReport], None] | None = None,
    flush_timeout_s: float | None = None,
) -> ProduceReport:
    """Send everything `source` yields to `topic` (default: the raw topic); never raises on
    delivery failures: they are counted in the report (see `raise_for_delivery`).

    `rate`: events per second (flat), a `SendSchedule` (a mean rate shaped by the day
    curve and traffic incidents), or None for as fast as possible.
    """
    from confluent_kafka import Producer

    schedule = SendSchedule(rate) if isinstance(rate, int | float) else rate
    if schedule is not None and schedule.rate <= 0:
        raise ConfigError("--rate must be positive (or 'max')")
    topic = topic or settings.kafka.raw_topic
    stop = stop if stop is not None else _NoStop()
    report = ProduceReport(topic=topic)
    errors = report.errors

    def on_delivery(err: Any, msg: Any) -> None:  # failures only
        if err is not None:
            errors[err.name()] += 1

    conf = producer_config(settings, tuning, bootstrap) | {"on_delivery": on_delivery}
    try:
        producer = Producer(conf)
    except Exception as err:
        raise KafkaError(f"cannot create a Kafka producer: {err}") from None
    poll = producer.poll
    tun = tuning or ProducerTuning()
    room = max(POLL_EVERY, tun.queue_max_messages - 2 * POLL_EVERY)

    # Rate control: chunks of ~1/20 s, each released on schedule (no per-message sleeps).
    called = time.perf_counter()
    deadline = called + duration_s if duration_s else None
    start = called  # reset at the first chunk: throughput excludes source start-up
    last_progress = 0.0

    def chunk() -> int:
        if schedule is None:
            return MAX_BATCH
        now_rate = schedule.rate_at(time.perf_counter() - start)
        return max(1, min(MAX_BATCH, int(now_rate / 20)))

    for values, keys, batch in source.chunks(chunk):
        if not report.sent and not report.startup_s:
            start = time.perf_counter()
            report.startup_s = start - called
            if schedule is not None:
                schedule.begin(time.time_ns() // 1_000_000)
        if schedule is not None:
            due = start + schedule.seconds_for(report.sent)
            while (wait := due - time.perf_counter()) > 0 and not stop.is_set():
                time.sleep(min(wait, 0.1))
        if stop.is_set() or (deadline and time.perf_counter() >= deadline):
            break
        n = _send_all(producer, topic, values, keys, stop, room)
        report.sent += n
        report.bytes += sum(map(len, values[:n])) if n < len(values) else sum(map(len, values))
        if truth is not None and isinstance(batch, EventBatch):
            truth.add(batch if n == len(batch) else batch.head(n))
        now = time.perf_counter()
        if now - last_progress >= 0.25:
            poll(0)
            last_progress = now
            report.elapsed_s = now - start
            report.samples.append((report.elapsed_s, report.sent))
            if on_progress:
                on_progress(report)
        if n < len(values):
            break
    report.interrupted = stop.is_set()

    # Flush: wait for every outstanding delivery; a second Ctrl-C gives up waiting.
    flush_deadline = time.perf_counter() + (
        flush_timeout_s
        if flush_timeout_s is not None
        else (tuning or ProducerTuning()).delivery_timeout_ms / 1000 + 5
    )
    signals_before = stop.signals
    while len(producer) and time.perf_counter() < flush_deadline:
        producer.flush(0.5)
        if stop.signals > max(1, signals_before):
            break
    report.undelivered = len(producer)
    report.elapsed_s = time.perf_counter() - start
    report.samples.append((report.elapsed_s, report.sent))
    if on_progress:
        on_progress(report)
    if report.undelivered:
        producer.purge()
        producer.poll(0)
    return report


def _send_all(
    producer: Any, topic: str, values: list, keys: list, stop: StopRequest, room: int
) -> int:
    """The hot loop: hand `values` to librdkafka; returns how many were handed over.

    `produce_batch` costs about half of per-message `produce` calls. Before each slice we
    wait until the local queue has `room`, so a full queue is the exception, not the rule.
    """
    msgs = [{"value": v, "key": k} for v, k in zip(values, keys, strict=True)]
    done = 0
    for start in range(0, len(msgs), POLL_EVERY):
        part = msgs[start : start + POLL_EVERY]
        while len(producer) > room and stop.signals < 2:
            producer.poll(0.02)  # serve delivery reports while the queue drains
        pending = part
        while pending:
            try:
                queued = producer.produce_batch(topic, pending)
            except BufferError:
                queued = 0
                for m in pending:
                    m["_error"] = "queue full"
            if queued == len(pending):
                break
            # Not queued (queue full): such messages carry "_error"; retry just those.
            pending = [m for m in pending if m.pop("_error", None) is not None]
            if stop.signals > 1:  # second Ctrl-C: give up on what is not queued
                return done + len(part) - len(pending)
            producer.poll(0.05)
        done += len(part)
        producer.poll(0)
        if stop.is_set():
            break
    return done


def raise_for_delivery(report: ProduceReport) -> None:
    """Raise `DeliveryError` when any message was not delivered."""
    if report.ok:
        return
    what = ", ".join(f"{k}: {v}" for k, v in report.errors.most_common()) or "timed out in queue"
    raise DeliveryError(
        f"{report.failed + report.undelivered} of {report.sent} messages were not delivered "
        f"to {report.topic} ({what}). Check the broker (`shopstream kafka status`) and retry."
    )


def generator_source(config: GeneratorConfig, events: int | None) -> GeneratorSource:
    """A source whose live timestamps follow the send schedule of `config.rate`."""
    gen = EventGenerator(config, total_events=events)
    return GeneratorSource(gen, events=events, schedule=gen.send_schedule())
