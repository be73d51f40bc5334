"""The Spark session factory shared by every job: jars, local defaults, UTC, quiet logs."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from shopstream.config import Settings
from shopstream.infra import jars
from shopstream.infra.ports import resolve_port

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_conf(settings: Settings, app_name: str) -> dict[str, str]:
    """Spark configuration for our jobs (pure: unit-testable without a JVM)."""
    s = settings.spark
    local = s.master.startswith("local")
    tmp = settings.state_dir / "spark"
    conf = {
        "spark.master": s.master,
        "spark.app.name": app_name,
        # The connector comes from Maven into spark.jars; never --packages (no Ivy here).
        "spark.jars": ",".join(str(p) for p in jars.classpath("spark")),
        "spark.sql.shuffle.partitions": str(s.shuffle_partitions),
        "spark.default.parallelism": str(s.shuffle_partitions),
        "spark.driver.memory": s.driver_memory,
        "spark.ui.port": str(resolve_port(s.ui_port)),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        # Generated code for wide projections (Silver's) exceeds HotSpot's 8000-byte
        # huge-method limit; without -XX:-DontCompileHugeMethods it is never JIT-compiled.
        "spark.driver.extraJavaOptions": (
            f"-Duser.timezone=UTC -XX:-DontCompileHugeMethods "
            f"-Dlog4j2.configurationFile={_log4j(settings)}"
        ),
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC -XX:-DontCompileHugeMethods",
        "spark.sql.warehouse.dir": str(tmp / "warehouse"),
        "spark.local.dir": str(tmp / "local"),
        "spark.sql.streaming.checkpointLocation": str(settings.checkpoint_dir / "default"),
        # Small micro-batches: adaptive re-planning costs more than it saves.
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        # Arrow makes DataFrame.toArrow() / toPandas() in foreachBatch cheap.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.python.worker.reuse": "true",
    }
    if local:
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
    return conf


_LOG4J = """\
status = error
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n%ex
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = FILE
"""


def _log4j(settings: Settings) -> str:
    """Spark's JVM logs go to <home>/logs/spark.log, not the terminal."""
    path = settings.state_dir / "spark" / "log4j2.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        _LOG4J.format(log=settings.log_dir / "spark.log", level=settings.spark.log_level)
    )
    return str(path)


def spark_session(settings: Settings, app_name: str = "shopstream") -> SparkSession:
    """Get or create the process's SparkSession, configured for `settings`."""
    from pyspark.sql import SparkSession

    # Workers must run the interpreter that has our dependencies.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder
    for key, value in spark_conf(settings, app_name).items():
        builder = builder.config(key, value)
    # SparkContext replaces the SIGINT handler with one that raises KeyboardInterrupt at any
    # point; our commands stop their queries gracefully instead, so keep the caller's.
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if on_main else None
    spark = builder.getOrCreate()
    if on_main and previous is not None:
        signal.signal(signal.SIGINT, previous)
    spark.sparkContext.setLogLevel(settings.spark.log_level)
    return spark


def ui_url(spark: SparkSession) -> str | None:
    """The Spark UI address, if the UI is enabled."""
    return spark.sparkContext.uiWebUrl
