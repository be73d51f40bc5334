"""Retention gaps: offsets a stage's checkpoint still needs that Kafka no longer holds.

A stage resumes at its checkpoint's newest committed offsets. When retention (or
`delete_records`) has moved a partition's earliest offset past that point, the records in
between are gone. Spark's `failOnDataLoss` would stop the query with a stack trace; this
module finds the gap *before* the query starts (`guard_retention`), so the user reads how
many records of which partition were lost.

Without `pipeline.accept_data_loss` a gap raises `DataLost` (one line: how many records
of which partitions, and how to go on). With it, the loss is recorded in the warehouse's
`pipeline_batches` and the query starts with Spark's `failOnDataLoss` off. Only then:
a gap appearing while the query runs still stops it, so nothing is ever skipped silently.

It lives in runtime/ because it is where the three meet: the stage's Spark checkpoint
(`spark.checkpoints`), its input topics' offsets (`kafka.offsets`) and the warehouse that
records an accepted loss.

Examples:
    >>> gaps = find_gaps({"raw": {0: 100, 1: 50}}, {"raw": {0: 600, 1: 20, 2: 9}})
    >>> [(g.topic, g.partition, g.lost) for g in gaps]
    [('raw', 0, 500)]
    >>> describe_gaps(gaps)
    'raw partition 0: checkpoint at offset 100, earliest available 600 (500 lost)'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from shopstream.errors import DataLost
from shopstream.spark.checkpoints import checkpoint, read_checkpoint

if TYPE_CHECKING:
    from rich.console import Console

    from shopstream.config import Settings
    from shopstream.warehouse.base import Warehouse


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


# --------------------------------------------------------------------------- the guard

ACCEPT_HOW = (
    "rerun with --accept-data-loss (or SHOPSTREAM_PIPELINE__ACCEPT_DATA_LOSS=true) to skip "
    "them and record the loss in pipeline_batches"
)


def data_loss_message(stage: str, gaps: list[Gap]) -> str:
    """The one-line error for a gap nobody accepted.

    >>> print(data_loss_message("gold", [Gap("clean", 0, 10, 15)]))  # doctest: +ELLIPSIS
    retention deleted 5 records gold had not read yet (clean partition 0: ...). To go on, rerun ...
    """
    lost = sum(g.lost for g in gaps)
    return (
        f"retention deleted {lost:,} records {stage} had not read yet ({describe_gaps(gaps)}). "
        f"To go on, {ACCEPT_HOW}; to avoid this, raise the topics' retention."
    )


def guard_retention(
    settings: Settings,
    stages: Sequence[str],
    warehouse: Warehouse | None = None,
    console: Console | None = None,
) -> dict[str, bool]:
    """Check each stage's checkpoint against Kafka; stage -> whether its query skips a gap.

    Raises DataLost for a gap not accepted, before anything is recorded. An accepted gap is
    recorded in `warehouse` (opened for the moment when None, e.g. for `shopstream silver`).
    Cheap (a metadata request per topic): run it before Spark starts, so a refusal is quick.
    """
    found = {stage: retention_gaps(settings, stage) for stage in stages}
    if not settings.pipeline.accept_data_loss:
        for stage, gaps in found.items():
            if gaps:
                raise DataLost(data_loss_message(stage, gaps))
    for stage, gaps in found.items():
        if not gaps:
            continue
        _record(settings, stage, gaps, warehouse)
        if console is not None:
            console.print(
                f"[bold yellow]accepted data loss:[/] {stage} skips "
                f"{sum(g.lost for g in gaps):,} records retention deleted "
                f"({describe_gaps(gaps)}); recorded in pipeline_batches",
                highlight=False,
            )
    return {stage: bool(gaps) for stage, gaps in found.items()}


def _record(settings: Settings, stage: str, gaps: list[Gap], warehouse: Warehouse | None) -> None:
    """One `pipeline_batches` row, keyed by the batch that skips the gap."""
    from shopstream.warehouse import open_warehouse

    committed = read_checkpoint(checkpoint(settings, stage))
    batch_id = committed.batch_id + 1 if committed else 0
    query_id = checkpoint_query_id(settings, stage) or stage
    lost = sum(g.lost for g in gaps)
    if warehouse is not None:
        warehouse.record_data_loss(stage, query_id, batch_id, lost, gaps_json(gaps))
        return
    with open_warehouse(settings) as opened:
        opened.init()
        opened.record_data_loss(stage, query_id, batch_id, lost, gaps_json(gaps))
