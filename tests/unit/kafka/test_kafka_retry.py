"""The one retry policy of Kafka requests: what it retries, when it gives up, what it raises."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import KafkaError as CKError
from confluent_kafka import KafkaException

from shopstream.errors import ConfigError, KafkaError
from shopstream.kafka.retry import NotYet, is_transient, retry


def _failing(*errors: BaseException, then: str = "answer") -> tuple[Callable[[float], str], list]:
    """An attempt that raises `errors` in turn, then answers; and the list of its calls."""
    calls: list[float] = []
    queue: Iterator[BaseException] = iter(errors)

    def attempt(remaining: float) -> str:
        calls.append(remaining)
        err = next(queue, None)
        if err is not None:
            raise err
        return then

    return attempt, calls


def _kafka(code: int) -> KafkaException:
    return KafkaException(CKError(code))


def _give_up(last: str) -> KafkaError:
    return KafkaError(f"gave up: {last}")


@pytest.mark.parametrize(
    "code",
    [
        CKError.NOT_LEADER_FOR_PARTITION,  # leadership moved
        CKError.LEADER_NOT_AVAILABLE,  # a new topic's partition
        CKError.OFFSET_NOT_AVAILABLE,  # a new leader's high watermark catching up
        CKError._DESTROY_BROKER,  # a broker killed while we asked it
        CKError._TRANSPORT,
        CKError._TIMED_OUT,
    ],
)
def test_leadership_moves_and_lost_brokers_are_waited_out(code: int) -> None:
    attempt, calls = _failing(_kafka(code), _kafka(code))
    assert retry(attempt, timeout=60, pause=0, give_up=_give_up) == "answer"
    assert len(calls) == 3


def test_unanswered_requests_and_not_yet_are_transient() -> None:
    assert is_transient(TimeoutError()) and is_transient(NotYet("1/3 brokers registered"))
    assert not is_transient(_kafka(CKError.TOPIC_AUTHORIZATION_FAILED))


def test_a_kafka_error_that_waiting_cannot_fix_gives_up_at_once() -> None:
    attempt, calls = _failing(_kafka(CKError.INVALID_REPLICATION_FACTOR))
    with pytest.raises(KafkaError, match=r"gave up: .*INVALID_REPLICATION_FACTOR"):
        retry(attempt, timeout=60, pause=0, give_up=_give_up)
    assert len(calls) == 1


def test_at_the_deadline_it_gives_up_with_the_last_answer() -> None:
    attempt, calls = _failing(NotYet("1/3 brokers registered"), NotYet("2/3 brokers registered"))
    with pytest.raises(KafkaError, match=r"gave up: 1/3 brokers registered"):
        retry(attempt, timeout=0, pause=0, give_up=_give_up)
    assert len(calls) == 1  # one try even with no time left


def test_a_shared_deadline_is_what_the_attempt_is_told_is_left() -> None:
    attempt, calls = _failing()
    retry(attempt, deadline=0.0, pause=0, give_up=_give_up)
    assert calls == [0.0]


def test_other_exceptions_are_not_wrapped() -> None:
    attempt, _ = _failing(ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        retry(attempt, timeout=60, pause=0, give_up=_give_up)


def test_on_error_sees_each_failure_and_may_stop_the_retries() -> None:
    seen: list[str] = []

    def security(err: BaseException) -> None:
        seen.append(str(err))
        if len(seen) == 2:
            raise ConfigError("Kafka rejected the credentials")

    attempt, calls = _failing(*(_kafka(CKError._TRANSPORT) for _ in range(5)))
    with pytest.raises(ConfigError, match="rejected the credentials"):
        retry(attempt, timeout=60, pause=0, give_up=_give_up, on_error=security)
    assert len(calls) == len(seen) == 2
