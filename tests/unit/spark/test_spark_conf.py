"""The Spark session factory's configuration (no JVM needed)."""

from __future__ import annotations

from pathlib import Path

import pyspark
import pytest

from shopstream.config import load_settings
from shopstream.errors import ConfigError
from shopstream.ports import free_port
from shopstream.spark import jars
from shopstream.spark.session import (
    SparkClusterError,
    check_master_reachable,
    spark_conf,
    standalone_masters,
)


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


@pytest.mark.parametrize(
    "master",
    [
        *("local", "local[*]", "local[4]", "local[2,3]", "local-cluster[2,1,1024]"),
        *("spark://a:7077", "spark://a:7077,b:7077", "yarn", "k8s://https://k8s.example:6443"),
    ],
)
def test_master_forms_spark_accepts_are_accepted(master: str) -> None:
    assert load_settings(spark={"master": master}).spark.master == master


@pytest.mark.parametrize(
    "master", ["", "spark://host", "spark//host:7077", "sprak://h:7077", "local[x]", "mesos"]
)
def test_malformed_master_is_one_line_naming_the_forms(master: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(spark={"master": master})
    msg = str(e.value)
    assert "spark.master" in msg and "SHOPSTREAM_SPARK__MASTER" in msg
    assert "spark://host:port" in msg and "\n" not in msg


def test_cluster_master_gets_executor_settings_not_driver_scratch(tmp_path: Path) -> None:
    spark = {
        "master": "spark://m:7077",
        "driver_host": "pipeline",
        "executor_memory": "3g",
        "executor_cores": 2,
        "cores_max": 4,
    }
    conf = spark_conf(load_settings(home=tmp_path, spark=spark), "t")
    assert conf["spark.driver.host"] == "pipeline"
    assert "spark.driver.bindAddress" not in conf  # the default binds the advertised host
    assert (conf["spark.executor.memory"], conf["spark.executor.cores"]) == ("3g", "2")
    assert conf["spark.cores.max"] == "4"
    # Executors get scratch space from their cluster manager, not a path on the driver.
    assert "spark.local.dir" not in conf
    local = spark_conf(load_settings(home=tmp_path), "t")
    assert local["spark.local.dir"].startswith(str(tmp_path.resolve()))
    assert local["spark.driver.host"] == "127.0.0.1"


def test_standalone_masters_are_parsed_for_the_reachability_check() -> None:
    assert standalone_masters("spark://a:7077,b.example:7078") == [
        ("a", 7077),
        ("b.example", 7078),
    ]
    assert standalone_masters("yarn") == standalone_masters("local[2]") == []


def test_unreachable_standalone_master_is_one_line() -> None:
    port = free_port()  # nothing listens there
    s = load_settings(spark={"master": f"spark://127.0.0.1:{port}"}).spark
    with pytest.raises(SparkClusterError) as e:
        check_master_reachable(s)
    assert f"127.0.0.1:{port}" in str(e.value) and "SHOPSTREAM_SPARK__MASTER" in str(e.value)
    assert "\n" not in str(e.value)


def test_bad_memory_string_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"spark\.executor_memory"):
        load_settings(spark={"executor_memory": "lots"})
