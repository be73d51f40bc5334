"""The Spark session factory shared by every job: jars, local defaults, UTC, quiet logs.

The same session runs on `local[*]` or on a cluster master (standalone `spark://`, `yarn`,
`k8s://`). On a cluster, the connector jars travel through `spark.jars` (the driver serves
them; executors fetch them at start). No project Python runs on executors: there are no
Python UDFs, Gold's foreachBatch runs on the driver and `toArrow()` is converted in the
JVM, so executors need neither the package nor its dependencies (the cluster test runs
with an interpreter path that does not exist to prove it). A cluster that cannot run the
application fails fast with one line: master unreachable, master not accepting the
application, or no executor within `spark.executor_timeout_seconds`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shopstream.config import Settings, SparkSettings, default_environment, set_environment
from shopstream.errors import Terminal
from shopstream.ports import resolve_port
from shopstream.spark import class_archive, jars

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

T = TypeVar("T")


class SparkClusterError(Terminal):
    """The Spark master cannot run the application (unreachable, wrong URL, no resources)."""


def spark_conf(
    settings: Settings, app_name: str, class_sharing: str | None = None
) -> dict[str, str]:
    """Spark configuration for our jobs (pure: unit-testable without a JVM).

    `class_sharing`: the driver JVM's class-data-sharing options; by default the install's
    archive when there is one (see `class_archive`).
    """
    s = settings.spark
    if class_sharing is None:
        class_sharing = class_archive.driver_options()
    local = s.local
    files = settings.files
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
            f"-Dlog4j2.configurationFile={_log4j(settings)} {class_sharing}"
        ).strip(),
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC -XX:-DontCompileHugeMethods",
        "spark.executor.memory": s.executor_memory,
        "spark.sql.warehouse.dir": str(files.spark / "warehouse"),
        "spark.sql.streaming.checkpointLocation": str(files.checkpoint("default")),
        # Small micro-batches: adaptive re-planning costs more than it saves.
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.streaming.stopGracefullyOnShutdown": "true",
        # Arrow makes DataFrame.toArrow() / toPandas() in foreachBatch cheap.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.python.worker.reuse": "true",
        # Checkpoints hold offsets and query ids: the user's alone, like the rest of the home
        # (Hadoop's file system applies its own umask, 022, not the process's).
        "spark.hadoop.fs.permissions.umask-mode": "077",
    }
    if local:
        # Scratch space is the driver's own; cluster managers give executors theirs.
        conf["spark.local.dir"] = str(files.spark / "local")
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
    elif s.driver_host:
        conf["spark.driver.host"] = s.driver_host
    if s.executor_cores is not None:
        conf["spark.executor.cores"] = str(s.executor_cores)
    if s.cores_max is not None:
        conf["spark.cores.max"] = str(s.cores_max)
    return conf


def standalone_masters(master: str) -> list[tuple[str, int]]:
    """The (host, port) pairs of a `spark://h1:p1,h2:p2` URL; [] for other masters."""
    if not master.startswith("spark://"):
        return []
    pairs = []
    for part in master.removeprefix("spark://").split(","):
        host, _, port = part.rpartition(":")
        pairs.append((host, int(port)))
    return pairs


def check_master_reachable(s: SparkSettings, timeout: float = 5.0) -> None:
    """A standalone master must accept TCP connections (Spark itself retries for a minute)."""
    errors = []
    for host, port in standalone_masters(s.master):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError as err:
            errors.append(f"{host}:{port} ({err.strerror or err})")
    if errors:
        raise SparkClusterError(
            f"cannot reach the Spark master {s.master}: {', '.join(errors)}. Start the "
            "master (spark-class org.apache.spark.deploy.master.Master) or fix "
            "SHOPSTREAM_SPARK__MASTER."
        )


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
    files = settings.files
    path = files.spark_log4j
    path.parent.mkdir(parents=True, exist_ok=True)
    files.logs.mkdir(parents=True, exist_ok=True)
    path.write_text(_LOG4J.format(log=files.spark_log, level=settings.spark.log_level))
    return str(path)


@contextlib.contextmanager
def _child_stderr_to(path: Path) -> Iterator[None]:
    """Processes started inside the block (Spark's JVM) write their stderr to `path`.

    log4j already sends Spark's logs there, but the JVM prints an uncaught exception of any
    thread to its own stderr: on a SIGTERM to the process group, its shutdown hook stops
    Spark's RPC while Gold's stream thread still finishes a commit, and that thread's
    `RpcEnvStoppedException` trace (20+ lines) reached the terminal. Our own stderr is
    restored on leaving the block.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with path.open("ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def spark_session(
    settings: Settings, app_name: str = "shopstream", class_sharing: str | None = None
) -> SparkSession:
    """Get or create the process's SparkSession, configured for `settings`."""
    from pyspark.sql import SparkSession

    # Workers must run the interpreter that has our dependencies.
    default_environment("PYSPARK_PYTHON", sys.executable)
    default_environment("PYSPARK_DRIVER_PYTHON", sys.executable)
    if settings.spark.local:
        # The driver's JVM binds its UI to SPARK_LOCAL_IP, else to every interface (Spark's
        # WebUI.bind); its RPC and block manager follow spark.driver.bindAddress (loopback).
        set_environment("SPARK_LOCAL_IP", settings.spark.ui_host)
    settings.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    conf = spark_conf(settings, app_name, class_sharing)
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    # SparkContext replaces the SIGINT handler with one that raises KeyboardInterrupt at any
    # point; our commands stop their queries gracefully instead, so keep the caller's.
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if on_main else None
    with _child_stderr_to(settings.files.spark_log):
        if settings.spark.local:
            spark = builder.getOrCreate()
        else:
            check_master_reachable(settings.spark)
            spark = _create_on_cluster(builder, conf, settings.spark)
    if on_main and previous is not None:
        signal.signal(signal.SIGINT, previous)
    spark.sparkContext.setLogLevel(settings.spark.log_level)
    quiet_py4j_root_errors()
    if not settings.spark.local:
        wait_for_executors(spark, settings.spark)
    return spark


def _create_on_cluster(builder: Any, conf: dict[str, str], s: SparkSettings) -> SparkSession:
    """getOrCreate, bounded: a standalone master that never answers blocks it for a minute.

    The driver's JVM starts first, unbounded (a busy machine may take a while); only the
    registration with the master is timed. It runs in a daemon thread; on timeout the
    error ends this process, and the JVM ends with it (it exits when its stdin, our pipe,
    closes).
    """
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized(conf=SparkConf().setAll(list(conf.items())))
    result: dict[str, Any] = {}

    def create() -> None:
        try:
            result["spark"] = builder.getOrCreate()
        except Exception as err:  # surfaced below as one line
            result["error"] = err

    thread = threading.Thread(target=create, name="spark-session", daemon=True)
    thread.start()
    thread.join(s.register_timeout_seconds)
    if "spark" in result:
        return result["spark"]  # type: ignore[no-any-return]
    if "error" in result:
        reason = _first_line(result["error"])
        raise SparkClusterError(
            f"the Spark master {s.master} did not run the application: {reason}. Check that "
            "the URL is the master's RPC address (spark://host:7077, not the web UI) and "
            "see <home>/logs/spark.log."
        )
    raise SparkClusterError(
        f"the Spark master {s.master} did not accept the application within "
        f"{s.register_timeout_seconds:g} s: check that the URL is the master's RPC address "
        "(spark://host:7077, not the web UI's port) and that the master can reach this "
        "machine (SHOPSTREAM_SPARK__DRIVER_HOST); see <home>/logs/spark.log."
    )


def _first_line(err: BaseException) -> str:
    text = str(getattr(err, "desc", None) or err).strip()
    return (text.splitlines() or [type(err).__name__])[0][:300]


def executor_count(spark: SparkSession) -> int:
    """Executors registered with the driver (the driver itself not counted)."""
    infos = spark.sparkContext._jsc.sc().statusTracker().getExecutorInfos()  # type: ignore[union-attr]
    return max(0, len(infos) - 1)


def wait_for_executors(spark: SparkSession, s: SparkSettings, poll: float = 0.5) -> None:
    """Stop with one line when no executor registers: the cluster lacks free resources.

    Without this a standalone master queues the application forever, logging only
    "Initial job has not accepted any resources".
    """
    if s.executor_timeout_seconds <= 0 or _dynamic_allocation(spark):
        return
    deadline = time.monotonic() + s.executor_timeout_seconds
    while executor_count(spark) == 0:
        if time.monotonic() >= deadline:
            spark.stop()
            cores = f"{s.executor_cores} core(s)" if s.executor_cores else "its cores"
            raise SparkClusterError(
                f"no Spark executor registered within {s.executor_timeout_seconds:g} s on "
                f"{s.master}: no worker has {s.executor_memory} of memory and {cores} free "
                "for an executor. Lower SHOPSTREAM_SPARK__EXECUTOR_MEMORY, start a worker "
                "with more (--memory/--cores), or free the cluster (see the master's web UI)."
            )
        time.sleep(poll)


def _dynamic_allocation(spark: SparkSession) -> bool:
    # With dynamic allocation executors only appear once jobs ask for them.
    value = spark.sparkContext.getConf().get("spark.dynamicAllocation.enabled", "false")
    return (value or "false").lower() == "true"


def ui_url(spark: SparkSession) -> str | None:
    """The Spark UI address, if the UI is enabled."""
    return spark.sparkContext.uiWebUrl


def driver_memory_limit(s: SparkSettings) -> int:
    """Bytes a driver may use in all: `spark.driver.memory` plus Spark's default overhead.

    A cluster manager (YARN, Kubernetes) grants the driver's container exactly this much and
    kills it above; the overhead is max(384 MiB, 10% of the memory), as Spark computes it.

    >>> driver_memory_limit(SparkSettings(driver_memory="2g")) / 1024**2
    2432.0
    """
    units = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = s.driver_memory.lower().removesuffix("b")
    number, unit = (text[:-1], text[-1]) if text[-1] in units else (text, "m")
    heap = int(number) * units[unit]  # a bare number is MiB, as Spark reads it
    return heap + max(384 << 20, heap // 10)


def _not_py4j(record: logging.LogRecord) -> bool:
    return not record.pathname.startswith(_py4j_dir())


def _py4j_dir() -> str:
    import py4j

    return os.path.dirname(py4j.__file__) + os.sep


def quiet_py4j_root_errors() -> None:
    """Drop what py4j logs on the root logger; the error it logs is raised to the caller too.

    When the gateway's connection breaks mid-call (the JVM stopped by a SIGTERM to the
    process group), py4j calls `logging.exception("Exception while sending command.")`,
    which prints a 25-line traceback even where the caller expects and handles the error
    (`unless_jvm_gone`): test_stops failed on it once (`process`, SIGTERM in a commit). The
    call still raises Py4JError, so an unexpected loss of the JVM is still reported, once,
    by whoever made the call. A filter on the root logger sees only records logged on root
    itself, so no other logger's output is touched."""
    root = logging.getLogger()
    if _not_py4j not in root.filters:
        root.addFilter(_not_py4j)


def unless_jvm_gone(read: Callable[[], T], gone: T) -> T:
    """`read()` (a py4j call), or `gone` once Spark's JVM has shut down.

    A SIGTERM to the whole process group (service managers, `timeout`, Ctrl-C in a shell)
    also stops the JVM, and what runs after the queries stop (the final totals and status
    lines) then meets a closed gateway: py4j raises ConnectionRefusedError. Two CI runs
    exited 1 on it (`silver` SIGTERM'd inside a batch, test_stops)."""
    from py4j.protocol import Py4JError

    try:
        return read()
    except (OSError, Py4JError):
        return gone
