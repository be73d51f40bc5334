"""Retention gaps: offsets a stage's checkpoint still needs that Kafka no longer holds.

A stage resumes at its checkpoint's newest committed offsets. When retention (or
`delete_records`) has moved a partition's earliest offset past that point, the records in
between are gone. Spark's `failOnDataLoss` would stop the query with a stack trace; this
module finds the gap *before* the query starts, so the user reads how many records of
which partition were lost.

Examples:
    >>> gaps = find_gaps({"raw": {0: 100, 1: 50}}, {"raw": {0: 600, 1: 20, 2: 9}})
    >>> [(g.topic, g.partition, g.lost) for g in gaps]
    [('raw', 0, 500)]
    >>> describe_gaps(gaps)
    'raw partition 0: checkpoint at offset 100, earliest available 600 (500 lost)'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from shopstream.spark.checkpoints import checkpoint, read_checkpoint

if TYPE_CHECKING:
    from shopstream.config import Settings


@dataclass(frozen=True)
class Gap:
    """One partition whose next offset to read was deleted."""

    topic: str
    partition: int
    checkpointed: int  # the next offset the stage would read
    earliest: int  # the earliest offset Kafka still holds

    @property
    def lost(self) -> int:
        """Records deleted before the stage read them."""
        return self.earliest - self.checkpointed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"lost": self.lost}


def find_gaps(
    positions: Mapping[str, Mapping[int, int]], earliest: Mapping[str, Mapping[int, int]]
) -> list[Gap]:
    """Partitions where the earliest available offset is past the checkpointed one.

    Partitions the checkpoint does not know (added later) start at their earliest offset
    anyway, so they are never a gap.
    """
    gaps = []
    for topic in sorted(earliest):
        for partition, low in sorted(earliest[topic].items()):
            position = positions.get(topic, {}).get(partition)
            if position is not None and low > position:
                gaps.append(Gap(topic, partition, position, low))
    return gaps


def stage_topics(settings: Settings, stage: str) -> tuple[str, ...]:
    """The Kafka topics a stage reads."""
    kafka = settings.kafka
    if stage == "silver":
        return (kafka.raw_topic,)
    return (kafka.clean_topic, kafka.dead_letter_topic)


def retention_gaps(settings: Settings, stage: str) -> list[Gap]:
    """The gaps between a stage's checkpoint and what its input topics still hold."""
    from shopstream.kafka.offsets import watermarks

    committed = read_checkpoint(checkpoint(settings, stage))
    if committed is None:  # a first run starts at the earliest offsets: nothing to lose
        return []
    earliest = {
        topic: {partition: low for partition, (low, _) in watermarks(settings, topic).items()}
        for topic in stage_topics(settings, stage)
    }
    return find_gaps(committed.offsets, earliest)


def describe_gaps(gaps: Iterable[Gap]) -> str:
    """Each gap in words, separated by semicolons."""
    return "; ".join(
        f"{g.topic} partition {g.partition}: checkpoint at offset {g.checkpointed}, "
        f"earliest available {g.earliest} ({g.lost:,} lost)"
        for g in gaps
    )


def gaps_json(gaps: Iterable[Gap]) -> str:
    """The gaps as a JSON array, as `pipeline_batches.data_loss` stores them."""
    return json.dumps([g.as_dict() for g in gaps], separators=(",", ":"))


def checkpoint_query_id(settings: Settings, stage: str) -> str | None:
    """The stage's stable query id from `<checkpoint>/metadata`, if the checkpoint has one."""
    try:
        first = (checkpoint(settings, stage) / "metadata").read_text().splitlines()[0]
        return str(json.loads(first)["id"])
    except (OSError, IndexError, ValueError, KeyError):
        return None
