"""The Spark session factory's configuration (no JVM needed)."""

from __future__ import annotations

from pathlib import Path

import pyspark

from shopstream.config import load_settings
from shopstream.infra import jars
from shopstream.infra.spark import spark_conf


def test_connector_matches_pyspark_and_is_on_spark_jars(tmp_path: Path) -> None:
    conf = spark_conf(load_settings(home=tmp_path, spark={"master": "local[2]"}), "t")
    listed = conf["spark.jars"].split(",")
    assert any(f"spark-sql-kafka-0-10_2.13-{pyspark.__version__}.jar" in j for j in listed)
    assert all(Path(j).is_file() for j in listed)
    assert jars.pom_property("spark.version") == pyspark.__version__
    assert "spark.jars.packages" not in conf


def test_local_defaults_for_two_cores(tmp_path: Path) -> None:
    conf = spark_conf(load_settings(home=tmp_path), "t")
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert int(conf["spark.sql.shuffle.partitions"]) <= 8
    assert int(conf["spark.ui.port"]) > 0  # 0 in settings resolves to a real free port
    assert conf["spark.sql.streaming.checkpointLocation"].startswith(str(tmp_path.resolve()))
