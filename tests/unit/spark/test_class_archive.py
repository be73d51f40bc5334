"""Spark's class-data-sharing archive: the driver maps it when it exists, and the one the
install built matches the driver's real JDK and classpath (the JVM refuses it otherwise)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shopstream.config import load_settings
from shopstream.spark import class_archive
from shopstream.spark.session import spark_conf


def _driver_options(tmp_path: Path, **kw: str | None) -> str:
    conf = spark_conf(load_settings(home=tmp_path, spark={"master": "local[2]"}), "t", **kw)
    return conf["spark.driver.extraJavaOptions"]


def test_the_driver_maps_the_archive_only_when_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "spark-driver-x.jsa"
    monkeypatch.setattr(class_archive, "archive_path", lambda: archive)
    assert "SharedArchiveFile" not in _driver_options(tmp_path)
    archive.write_bytes(b"")
    options = _driver_options(tmp_path)
    assert f"-XX:SharedArchiveFile={archive}" in options
    # Whatever the JVM says about the archive goes to its stderr (the Spark log).
    assert "-Xlog:disable -Xlog:all=warning:stderr" in options
    assert "-Duser.timezone=UTC" in options  # added to the driver's options, not instead
    assert "SharedArchiveFile" not in _driver_options(tmp_path, class_sharing="")


def test_the_archive_name_changes_with_what_makes_it_stale(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = class_archive.archive_path()
    assert before.parent == class_archive.jars.cache_dir() / "cds"
    jar = tmp_path / "extra.jar"
    jar.write_bytes(b"PK")
    real = class_archive.jars.classpath
    monkeypatch.setattr(class_archive.jars, "classpath", lambda p: [*real(p), jar])
    assert class_archive.archive_path() != before


SESSION = """
import sys
from shopstream.config import load_settings
from shopstream.spark import class_archive
from shopstream.spark.session import spark_session
s = load_settings(home=sys.argv[1], spark={"master": "local[1]"})
sharing = class_archive.driver_options() + " -Xshare:on"
spark = spark_session(s, "archive-check", class_sharing=sharing)
print(spark.range(3).count())
spark.stop()
"""


@pytest.mark.spark
def test_the_installed_archive_is_one_the_driver_jvm_accepts(tmp_path: Path) -> None:
    """-Xshare:on: a JVM that cannot map the archive (other JDK, other classpath) exits."""
    if not class_archive.archive_path().is_file():
        pytest.fail(
            "no class archive: `make jars` builds it (python -m shopstream.spark.class_archive)"
        )
    done = subprocess.run(
        [sys.executable, "-c", SESSION, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = (tmp_path / "logs" / "spark.log").read_text() if done.returncode else ""
    assert done.returncode == 0, f"{done.stderr[-2000:]}\n{log[-2000:]}"
    assert done.stdout.strip().splitlines()[-1] == "3"
