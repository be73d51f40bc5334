"""Silver: raw_events -> validated, normalized clean_events + dead_letter with reason codes.

Public API:
    silver_transform(raw_df, settings) -> DataFrame   pure transform (transform.py)
    start_silver(spark, settings, ...) -> StreamingQuery   the streaming job (job.py)
    reference.classify(raw, now=...) -> Result   the pure-Python twin (import the module)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopstream.silver.job import start_silver
    from shopstream.silver.transform import silver_transform

__all__ = ["silver_transform", "start_silver"]


def __getattr__(name: str) -> Any:
    # Lazy: importing the package must not import pyspark (the CLI's --help stays instant).
    if name == "silver_transform":
        from shopstream.silver.transform import silver_transform

        return silver_transform
    if name == "start_silver":
        from shopstream.silver.job import start_silver

        return start_silver
    raise AttributeError(name)
