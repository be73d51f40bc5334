"""Pipeline status: is every stage moving, what is waiting, and do the counts reconcile.

- `health`: the stall rule, a pure function from a stage's facts to ok/idle/stalled/dead/unknown.
- `sources`: what status reads (Kafka watermarks, the warehouse, live queries) and rates.
- `document`: `build_status`, the `shopstream status --json` / `/api/status` document.
- `collect`: `collect_status` for a home, forwarding to the dashboard of the process that
  holds a DuckDB file.
- `prometheus`: the same figures as Prometheus metrics for `/metrics`.

Checkpoints and progress logs are read through `shopstream.spark.checkpoints`.
"""

from shopstream.status.collect import collect_status
from shopstream.status.document import build_status
from shopstream.status.health import STATES, StageFacts, StageHealth, judge_stage
from shopstream.status.sources import (
    KafkaProbe,
    KafkaSnapshot,
    LiveState,
    RateTracker,
    kafka_snapshot,
    open_status_warehouse,
)

__all__ = [
    "STATES",
    "KafkaProbe",
    "KafkaSnapshot",
    "LiveState",
    "RateTracker",
    "StageFacts",
    "StageHealth",
    "build_status",
    "collect_status",
    "judge_stage",
    "kafka_snapshot",
    "open_status_warehouse",
]
