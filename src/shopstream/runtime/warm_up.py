"""The driver's usual work once, in a Spark that writes the classes it loaded to an archive.

The child process of `shopstream.spark.class_archive.build` (see there for why): Silver's
transform on generated events, the Arrow hand-off Gold uses, a streaming query with a
checkpoint, and the Kafka source and sink planned (no broker needed). The JVM writes the
archive when this process exits.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from pyspark.sql import functions as F

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.config import load_settings
from shopstream.silver.transform import silver_transform
from shopstream.spark.class_archive import QUIET
from shopstream.spark.session import spark_session


def warm_up(out: Path) -> None:
    """Do the driver's usual work once, in a Spark that archives its classes at exit."""
    with tempfile.TemporaryDirectory(prefix="shopstream-cds-", ignore_cleanup_errors=True) as home:
        settings = load_settings(home=Path(home), spark={"master": "local[2]"})
        sharing = f"-XX:ArchiveClassesAtExit={out} {QUIET}"
        spark = spark_session(settings, "shopstream-class-archive", class_sharing=sharing)
        batch = EventGenerator(GeneratorConfig.from_settings(settings, seed=1)).next_batch(2000)
        rows = [
            (batch.keys[i], batch.values[i], settings.kafka.raw_topic, i % 3, i)
            for i in range(len(batch))
        ]
        schema = "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT"
        raw = spark.createDataFrame(rows, schema).withColumn("timestamp", F.current_timestamp())
        silver_transform(raw, settings).toArrow()
        kafka = {"kafka.bootstrap.servers": "127.0.0.1:9", "subscribe": "warm_up"}
        source = spark.readStream.format("kafka").options(**kafka).load()
        source.writeStream.format("kafka").option("topic", "warm_up")  # planned, not run
        files = Path(home) / "stream"
        files.mkdir()
        (files / "0.json").write_bytes(b"".join(v + b"\n" for v in batch.values[:100]))
        stream = spark.readStream.schema("event_id STRING").json(str(files))
        query = (
            stream.writeStream.foreachBatch(lambda df, _: df.toArrow())
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        spark.stop()


if __name__ == "__main__":
    warm_up(Path(sys.argv[1]))
