"""A Spark Kafka -> Kafka pass-through query, streaming until SIGINT/SIGTERM: `bench cost`'s anchor.

It copies raw records to another topic with nothing in between (no parsing, no rules), as
one Spark application with the project's session settings and Gold's trigger. What it
costs at a rate is what any Kafka -> Spark -> Kafka query costs here at that rate.

Run: python -m shopstream.bench.pass_through <home> <source-topic> <target-topic>
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(home: Path, source: str, target: str) -> None:
    """Stream `source` into `target` until a signal stops it."""
    from shopstream.config import load_settings
    from shopstream.kafka.connection import spark_options
    from shopstream.runtime.signals import stop_on_signals
    from shopstream.spark.checkpoints import checkpoint
    from shopstream.spark.session import spark_session

    settings = load_settings(home=home)
    spark = spark_session(settings, "shopstream-pass-through")
    options = spark_options(settings)
    query = (
        spark.readStream.format("kafka")
        .options(**options)
        .option("subscribe", source)
        .option("startingOffsets", "latest")
        .load()
        .select("key", "value")
        .writeStream.format("kafka")
        .options(**options)
        .option("topic", target)
        .option("checkpointLocation", str(checkpoint(settings, f"pass-through-{source}")))
        .trigger(processingTime=f"{settings.spark.trigger_seconds} seconds")
        .start()
    )
    with stop_on_signals() as stop:
        while query.isActive and not stop.wait(0.5):
            pass
    query.stop()
    spark.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
