"""A class-data-sharing (CDS) archive of the Spark driver's classes, built once per install.

Every command that runs Spark starts a JVM that loads, parses and verifies tens of
thousands of classes before its first batch. On the 2-core benchmark machine a session
took 8.3-9.1 s to start and its first small query 4.2-4.4 s more; with the classes mapped
from a dynamic CDS archive (JDK 13+, `-XX:SharedArchiveFile`), 4.2-5.5 s and 2.1-2.5 s
(2026-12-03, 3 runs each). That is start-up time of `up`, `silver`, `gold` and
`process`, of every restart after a stop or a crash, and of most of the test suite.

`make install` builds the archive (`python -m shopstream.spark.class_archive`): a
child process runs a small Spark workload (Silver's transform, Arrow hand-off, a
streaming query, the Kafka source and sink) under `-XX:ArchiveClassesAtExit`, and the
JVM writes the classes it loaded when it exits. The JVM itself checks at every start that
the archive matches its JDK and classpath and ignores it otherwise; its warnings go to
the driver's stderr (the Spark log), never to the terminal. So a missing or stale archive
costs the time it saves, nothing more, and the file's name changes with the things that
make it stale (pyspark, the jars, the JDK), so the next install builds a fresh one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from shopstream.spark import jars

# Everything the JVM logs at warning level or above goes to its stderr, which the session
# sends to <home>/logs/spark.log: CDS reports a rejected archive there, not on a terminal.
QUIET = "-Xlog:disable -Xlog:all=warning:stderr"
BUILD_TIMEOUT_S = 600
# The workload runs Silver's transform, so it lives above the layers Spark's helpers are
# in; it is started by name, as a child process.
WARM_UP_MODULE = "shopstream.runtime.warm_up"


def archive_path() -> Path:
    """Where the archive for this pyspark, these jars and this JDK lives (may not exist)."""
    import pyspark

    digest = hashlib.sha256(pyspark.__version__.encode())
    java = shutil.which("java")
    for path in [*jars.classpath("spark"), *([Path(java).resolve()] if java else [])]:
        stat = path.stat()
        digest.update(f"\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return jars.cache_dir() / "cds" / f"spark-driver-{digest.hexdigest()[:16]}.jsa"


def driver_options() -> str:
    """The driver JVM's options for the archive: empty when there is none to use."""
    path = archive_path()
    return f"-XX:SharedArchiveFile={path} {QUIET}" if path.is_file() else ""


def build() -> Path:
    """Build the archive unless it exists; returns its path. Raises DependencyError."""
    from shopstream.errors import DependencyError

    path = archive_path()
    if path.is_file():
        return path
    # Archives of other checkouts sharing this cache, or of an earlier pyspark, jar set or
    # JDK, stay: one of them may still be in use (delete .cache/cds/ to reclaim them).
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    command = [sys.executable, "-m", WARM_UP_MODULE, str(partial)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        partial.unlink(missing_ok=True)
        raise DependencyError(
            f"building Spark's class archive took over {BUILD_TIMEOUT_S} s; Spark works "
            "without it (slower to start). Retry with `make jars`."
        ) from err
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DependencyError(
            f"building Spark's class archive failed ({last}); Spark works without it "
            "(slower to start). Retry with `make jars`."
        )
    partial.replace(path)  # whole or absent: a JVM never maps a half-written archive
    return path


def main() -> None:
    """`python -m shopstream.spark.class_archive` (what `make jars` runs): build it.

    A failure is reported and is not fatal: Spark starts without the archive, slower.
    """
    from shopstream.errors import DependencyError

    try:
        print(f"spark class archive: {build()}")
    except DependencyError as err:
        print(f"warning: {err}", file=sys.stderr)


if __name__ == "__main__":
    main()
