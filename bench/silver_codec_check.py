"""Silver's JVM codec vs Spark's from_json/to_json on generated records: identical output?

`python bench/silver_codec_check.py [--events N] [--noise R]` generates N events (default
1,000,000; every noise kind at rate R, default 0.01), transforms them once with each codec
at a pinned processing time and prints the `exceptAll` row counts in both directions
(both must be 0) and the reconciliation `raw = clean + dead_letter`. Exit 1 on a
difference. Starts Spark: run it under the shared lock on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime

from shopstream.bronze.generator import EventGenerator, GeneratorConfig
from shopstream.bronze.noise import NoiseRates
from shopstream.config import load_settings
from shopstream.silver.transform import silver_transform
from shopstream.spark.session import spark_session

CHUNK = 100_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--noise", type=float, default=0.01)
    args = parser.parse_args()
    from pyspark.sql import functions as F

    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="silver-codec-") as home:
        settings = load_settings(home=home, spark={"master": "local[2]"})
        spark = spark_session(settings, "silver-codec-check")
        noise = NoiseRates(**{f: args.noise for f in NoiseRates.__dataclass_fields__})
        config = GeneratorConfig.from_settings(
            settings, seed=3, now_ms=int(now.timestamp() * 1000), noise=noise
        )
        gen = EventGenerator(config, total_events=args.events)
        path = f"{home}/raw.parquet"
        produced = now.replace(tzinfo=None)
        for start in range(0, args.events, CHUNK):
            batch = gen.next_batch(min(CHUNK, args.events - start))
            rows = [
                (batch.keys[i], batch.values[i], "raw_events", i % 3, start + i, produced)
                for i in range(len(batch))
            ]
            schema = "key BINARY, value BINARY, topic STRING, partition INT, offset BIGINT, "
            spark.createDataFrame(rows, schema + "timestamp TIMESTAMP").write.mode(
                "append"
            ).parquet(path)
        raw = spark.read.parquet(path).cache()
        pinned = F.lit(now.replace(tzinfo=None))
        jvm = silver_transform(raw, settings, now=pinned, codec="jvm").cache()
        ref = silver_transform(raw, settings, now=pinned, codec="spark").cache()
        total, clean = raw.count(), jvm.filter("reason IS NULL").count()
        dead = jvm.filter("reason IS NOT NULL").count()
        only_jvm, only_spark = jvm.exceptAll(ref).count(), ref.exceptAll(jvm).count()
        spark.stop()
    print(f"raw {total:,}  clean {clean:,}  dead_letter {dead:,}")
    print(f"rows only in the JVM codec's output:  {only_jvm}")
    print(f"rows only in from_json/to_json output: {only_spark}")
    return 0 if only_jvm == only_spark == 0 and total == clean + dead == args.events else 1


if __name__ == "__main__":
    sys.exit(main())
