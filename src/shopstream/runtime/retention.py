"""Before a stage starts: stop on a retention gap, or accept and record it when told to.

Without `pipeline.accept_data_loss` a gap raises `DataLost` (one line: how many records
of which partitions, and how to go on). With it, the loss is recorded in the warehouse's
`pipeline_batches` and the query starts with Spark's `failOnDataLoss` off. Only then:
a gap appearing while the query runs still stops it, so nothing is ever skipped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from shopstream.errors import DataLost
from shopstream.infra.retention import (
    Gap,
    checkpoint_query_id,
    describe_gaps,
    gaps_json,
    retention_gaps,
)
from shopstream.spark.checkpoints import checkpoint, read_checkpoint

if TYPE_CHECKING:
    from rich.console import Console

    from shopstream.config import Settings
    from shopstream.warehouse.base import Warehouse

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
