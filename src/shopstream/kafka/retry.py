"""ONE retry policy for Kafka requests, with ONE set of transient errors.

A cluster moving on from a change answers some requests with errors that go away by
themselves: a new topic's partitions have no leader for a moment, a broker killed while
we ask it fails the request until the new leader is known, a new leader answers
OFFSET_NOT_AVAILABLE until its high watermark has caught up, a broker not yet up refuses
connections. `retry` runs a request until it answers, the error is not transient, or the
deadline passes; every wait for the cluster (brokers registered, partition leaders,
watermarks, topic configurations, topic creation) goes through it.

Examples:
    >>> attempts = iter([NotYet("1/3 brokers registered"), NotYet("2/3"), "ready"])
    >>> def ask(remaining: float) -> str:
    ...     answer = next(attempts)
    ...     if isinstance(answer, Exception):
    ...         raise answer
    ...     return answer
    >>> retry(ask, timeout=5, pause=0, give_up=lambda last: RuntimeError(last))
    'ready'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import TypeVar

T = TypeVar("T")


class NotYet(Exception):
    """An answer that says "not ready yet" (brokers missing, no leader): retried."""


@cache
def transient_codes() -> frozenset[int]:
    """librdkafka error codes that a cluster recovers from by itself.

    librdkafka marks some errors retriable itself (`KafkaError.retriable()`); these it does
    not mark, though they pass once leadership settles. A broker killed while we ask it fails
    the request with _DESTROY_BROKER or _TRANSPORT until the partition's new leader is known,
    or times out while the cluster still names the dead broker as leader (until the
    controller fences it, ~9 s: the soak's status failed so).
    """
    from confluent_kafka import KafkaError as CKError

    return frozenset(
        {
            # Leadership moves: a new topic, a broker restart or death.
            CKError.NOT_LEADER_FOR_PARTITION,
            CKError.LEADER_NOT_AVAILABLE,
            CKError.UNKNOWN_TOPIC_OR_PART,
            # A new leader, until its high watermark has caught up.
            CKError.OFFSET_NOT_AVAILABLE,
            # A broker going away, or not answering yet.
            CKError._DESTROY_BROKER,
            CKError._TRANSPORT,
            CKError._TIMED_OUT,
            CKError._ALL_BROKERS_DOWN,
        }
    )


def error_code(err: BaseException) -> int | None:
    """The librdkafka error code a request (or an admin future) failed with, if any."""
    kerr = err.args[0] if err.args else None
    return kerr.code() if hasattr(kerr, "code") else None


def is_transient(err: BaseException) -> bool:
    """Whether `err` may pass by itself: a librdkafka error librdkafka marks retriable or
    in `transient_codes`, a request that got no answer in time, or a `NotYet`."""
    if isinstance(err, NotYet | TimeoutError):  # TimeoutError: an admin future's result()
        return True
    kerr = err.args[0] if err.args else None
    if not hasattr(kerr, "code"):
        return False
    return bool(kerr.retriable()) or kerr.code() in transient_codes()


def retry(
    attempt: Callable[[float], T],
    *,
    give_up: Callable[[str], Exception],
    pause: float,
    timeout: float | None = None,
    deadline: float | None = None,
    on_error: Callable[[BaseException], None] | None = None,
) -> T:
    """`attempt(seconds left)` until it returns; transient errors are retried after `pause`.

    The deadline is `timeout` from now, or `deadline` (time.monotonic()) when several
    requests share one. `on_error` sees every failure first and may raise its own error
    (e.g. a security problem that waiting cannot fix). A Kafka error that is not transient,
    or a failure still there at the deadline, raises `give_up(what it said)`; any other
    exception propagates as it is.
    """
    if deadline is None:
        deadline = time.monotonic() + (timeout or 0.0)
    while True:
        try:
            return attempt(max(deadline - time.monotonic(), 0.0))
        except Exception as err:
            if on_error is not None:
                on_error(err)
            transient = is_transient(err)
            if not transient and error_code(err) is None:
                raise  # not Kafka's: a bug to see as it is
            if not transient or time.monotonic() >= deadline:
                raise give_up(str(err)) from None
        time.sleep(pause)
