"""JVM artifacts, resolved by Maven from `jvm/pom.xml` into a cache under the project.

Two classpaths, one Maven profile each: `kafka` (broker + tools) and `spark` (the
Structured Streaming Kafka connector matching the installed pyspark). Resolution is
idempotent: a marker holding the pom's hash skips Maven when nothing changed.

The `spark` classpath also carries Silver's JSON codec, built by Maven from our own Java
in `jvm/silver/` (rebuilt when its pom or sources change).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Literal

from shopstream.errors import DependencyError

Profile = Literal["kafka", "spark"]
PROFILES: tuple[Profile, ...] = ("kafka", "spark")
_MARKER = ".resolved"


@cache
def project_root() -> Path:
    """The directory that holds `jvm/pom.xml` (the source checkout)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "jvm" / "pom.xml").is_file():
            return parent
    raise DependencyError(
        "jvm/pom.xml not found above the installed package; install shopstream from its "
        "source checkout (pip install -e .) so the JVM artifacts can be resolved."
    )


def pom_path() -> Path:
    return project_root() / "jvm" / "pom.xml"


def cache_dir() -> Path:
    """Maven repository and copied jars live here (ignored by git)."""
    return project_root() / ".cache"


def jars_dir(profile: Profile) -> Path:
    return cache_dir() / "jars" / profile


def _pom_hash() -> str:
    return hashlib.sha256(pom_path().read_bytes()).hexdigest()


def is_resolved(profile: Profile) -> bool:
    marker = jars_dir(profile) / _MARKER
    return marker.is_file() and marker.read_text().strip() == _pom_hash()


def resolve(profile: Profile) -> Path:
    """Run Maven for one profile (skipped when already resolved); return the jar dir."""
    out = jars_dir(profile)
    if is_resolved(profile):
        return out
    if out.exists():
        shutil.rmtree(out)  # a changed pom must not leave stale jars on the classpath
    _maven(
        pom_path(),
        "-P",
        profile,
        f"-Djars.dir={cache_dir() / 'jars'}",
        "dependency:copy-dependencies",
        failure=f"Maven could not resolve the '{profile}' jars",
    )
    (out / _MARKER).write_text(_pom_hash())
    return out


def _maven(pom: Path, *args: str, failure: str) -> None:
    """Run Maven quietly on `pom` with the project's repository under .cache."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise DependencyError("Maven (mvn) is not on PATH; install it (apt-get install maven).")
    cmd = [mvn, "-B", "-q", "-f", str(pom), f"-Dmaven.repo.local={cache_dir() / 'm2'}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise DependencyError(
            f"{failure}: {' / '.join(tail)}. "
            "Check network access to Maven Central, then run `make jars`."
        )


def classpath(profile: Profile) -> list[Path]:
    """The jars of a profile, resolving them first if needed."""
    if profile == "spark":
        check_spark_version()
    jars = sorted(resolve(profile).glob("*.jar"))
    if not jars:
        raise DependencyError(f"no jars in {jars_dir(profile)}; delete it and run `make jars`.")
    if profile == "spark":
        jars.append(codec_jar())
    return jars


def codec_module() -> Path:
    """The Maven module of Silver's JSON codec (Java UDFs)."""
    return project_root() / "jvm" / "silver"


def _codec_hash() -> str:
    module = codec_module()
    digest = hashlib.sha256()
    for path in sorted([module / "pom.xml", *(module / "src" / "main").rglob("*.java")]):
        digest.update(str(path.relative_to(module)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def codec_jar() -> Path:
    """Silver's codec jar, built by Maven when its pom or sources changed since the last build."""
    out = cache_dir() / "jars" / "codec"
    jar = out / "shopstream-silver-codec.jar"
    marker = out / _MARKER
    wanted = _codec_hash()
    if jar.is_file() and marker.is_file() and marker.read_text().strip() == wanted:
        return jar
    _maven(
        codec_module() / "pom.xml",
        "-DskipTests",
        "package",
        failure="Maven could not build Silver's codec (jvm/silver)",
    )
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cache_dir() / "build" / "silver-codec" / "shopstream-silver-codec-1.jar", jar)
    marker.write_text(wanted)
    return jar


def pom_property(name: str) -> str:
    """A `<properties>` value of the pom (e.g. spark.version)."""
    m = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", pom_path().read_text())
    if m is None:
        raise DependencyError(f"property {name} missing from {pom_path()}")
    return m.group(1).strip()


def check_spark_version() -> None:
    """The connector must be built for exactly the installed pyspark."""
    import pyspark

    wanted = pom_property("spark.version")
    if pyspark.__version__ != wanted:
        raise DependencyError(
            f"pyspark {pyspark.__version__} is installed but jvm/pom.xml pins the Kafka "
            f"connector for Spark {wanted}; install pyspark=={wanted} (make install)."
        )


if __name__ == "__main__":  # `python -m shopstream.spark.jars`: what `make jars` runs
    for _profile in PROFILES:
        print(f"{_profile}: {len(classpath(_profile))} jars in {jars_dir(_profile)}")
    print(f"silver codec: {codec_jar()}")
