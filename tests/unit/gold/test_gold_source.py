"""Gold's Kafka source: a streaming Gold waits for `gold_min_records` (or the delay) before
a batch, so a batch's fixed cost is paid per thousands of records, not per trickle; a run
to the end of the topics (`--available-now`) never waits."""

from __future__ import annotations

from typing import Any

import pytest

from shopstream.config import Settings
from shopstream.gold.job import gold_source


class _Reader:
    """Spark's DataStreamReader chain, recording the options it is given."""

    def __init__(self) -> None:
        self.given: dict[str, str] = {}
        self.readStream = self  # stands in for the SparkSession too

    def format(self, name: str) -> _Reader:
        return self

    def options(self, **kw: Any) -> _Reader:
        self.given.update({k: str(v) for k, v in kw.items()})
        return self

    def option(self, key: str, value: Any) -> _Reader:
        self.given[key] = str(value)
        return self

    def load(self) -> _Reader:
        return self

    def select(self, *cols: str) -> _Reader:
        return self


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection options are the broker's business (tests/unit/kafka), not these."""
    monkeypatch.setattr("shopstream.gold.job.spark_options", lambda settings: {})


def _source_options(settings: Settings, streaming: bool) -> dict[str, str]:
    spark = _Reader()
    gold_source(spark, settings, streaming=streaming)  # type: ignore[arg-type]
    return spark.given


def test_streaming_gold_waits_for_records_or_the_delay(tmp_path: Any) -> None:
    settings = Settings(
        home=tmp_path, spark={"gold_min_records": 5000, "gold_max_delay_seconds": 2.5}
    )
    opts = _source_options(settings, streaming=True)
    assert (opts["minOffsetsPerTrigger"], opts["maxTriggerDelay"]) == ("5000", "2500ms")


def test_a_batch_cap_below_the_minimum_makes_a_capped_batch_full(tmp_path: Any) -> None:
    settings = Settings(home=tmp_path, spark={"max_offsets_per_trigger": 1_500})
    opts = _source_options(settings, streaming=True)
    assert (opts["maxOffsetsPerTrigger"], opts["minOffsetsPerTrigger"]) == ("1500", "1500")


def test_a_run_to_the_end_of_the_topics_never_waits(tmp_path: Any) -> None:
    opts = _source_options(Settings(home=tmp_path), streaming=False)
    assert "minOffsetsPerTrigger" not in opts and "maxTriggerDelay" not in opts


@pytest.mark.parametrize("bad", [{"gold_min_records": 0}, {"gold_max_delay_seconds": 0}])
def test_a_batch_policy_that_could_never_start_a_batch_is_refused(
    tmp_path: Any, bad: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Settings(home=tmp_path, spark=bad)
