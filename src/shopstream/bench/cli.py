"""How fast the command line answers: `--version`, `--help`, and `sql "SELECT 1"` against the
warehouse file and against a running pipeline's SQL endpoint.

Each command runs as a user runs it: a new process, from exec to exit (the `shopstream`
console script next to this interpreter). The endpoint is served the cheapest real way:
another process opens the DuckDB file for writing and serves it (`SqlEndpoint`, as `up`
does), so `sql` can only answer through the endpoint (the file is held). Every command
is run once untimed (the page cache), then `runs` rounds of all of them in turn, so a
burst of load on the shared machine falls on every command alike; the median is kept.
Target: `sql` through the endpoint answers within 1 s on this machine.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.bench.common import bench_meta, host_info, write_result
from shopstream.config import Settings, child_environment

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

TARGET_SQL_ENDPOINT_S = 1.0
QUERY = "SELECT 1 AS one"
# name -> (arguments, whether it runs while the endpoint serves the file)
COMMANDS: dict[str, tuple[tuple[str, ...], bool]] = {
    "version": (("--version",), False),
    "help": (("--help",), False),
    "sql_file": (("sql", QUERY, "--format", "json"), False),
    "sql_endpoint": (("sql", QUERY, "--format", "json"), True),
}


@dataclass(frozen=True)
class CliBenchOptions:
    runs: int = 15


def shopstream_command() -> list[str]:
    """The console script a user types, installed beside this interpreter (else `-m`)."""
    script = Path(sys.executable).with_name("shopstream")
    return [str(script)] if script.exists() else [sys.executable, "-m", "shopstream"]


def serve(home: str, ready: Event, stop: Event) -> None:
    """The pipeline's part: hold the DuckDB file for writing and serve it until `stop`."""
    from shopstream.config import load_settings
    from shopstream.sqlendpoint import SqlEndpoint
    from shopstream.warehouse.duckdb import DuckDBWarehouse

    settings = load_settings(home=home, sql={"port": 0})
    with DuckDBWarehouse(settings.duckdb_path) as wh, SqlEndpoint(wh, settings):
        ready.set()
        stop.wait()


def time_once(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from exec to exit of one command; a failing command is an error, not a time."""
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr[-500:]}")
    if "sql" in argv and json.loads(done.stdout) != [{"one": 1}]:
        raise RuntimeError(f"`{' '.join(argv)}` printed {done.stdout!r}, not the row")
    return seconds


def time_commands(
    names: list[str], env: dict[str, str], runs: int, base: list[str]
) -> dict[str, list[float]]:
    """`runs` timings per command: one untimed run each, then rounds of all in turn."""
    for name in names:
        time_once(base + list(COMMANDS[name][0]), env)
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(runs):
        for name in names:
            times[name].append(round(time_once(base + list(COMMANDS[name][0]), env), 4))
    return times


def _wait_ready(server: Any, ready: Event, timeout: float = 120.0) -> None:
    """Until the serving process says it serves; its death or the timeout is an error."""
    deadline = time.monotonic() + timeout
    while not ready.wait(0.2):
        if not server.is_alive():
            raise RuntimeError(f"the SQL endpoint's process exited ({server.exitcode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the SQL endpoint did not start within {timeout:g} s")


def run(settings: Settings, options: CliBenchOptions, out_dir: Path) -> dict[str, Any]:
    """Time every command, the file ones first, then the endpoint one while it serves."""
    from shopstream.config import load_settings
    from shopstream.warehouse import open_warehouse

    home = settings.files.bench(f"cli-{uuid.uuid4().hex[:8]}")
    run_settings = load_settings(home=home, sql={"port": 0})
    with open_warehouse(run_settings) as wh:
        wh.init()
    env = child_environment({"SHOPSTREAM_HOME": str(home)})
    base = shopstream_command()
    load_before = os.getloadavg()[0]
    try:
        times = time_commands([n for n, (_, served) in COMMANDS.items() if not served], env,
                              options.runs, base)  # fmt: skip
        ctx = multiprocessing.get_context("spawn")
        ready, stop = ctx.Event(), ctx.Event()
        # Not a daemon: the endpoint starts its own checker processes.
        server = ctx.Process(target=serve, args=(str(home), ready, stop))
        server.start()
        try:
            _wait_ready(server, ready)
            times |= time_commands([n for n, (_, served) in COMMANDS.items() if served], env,
                                   options.runs, base)  # fmt: skip
        finally:
            stop.set()
            server.join(30)
            if server.is_alive():
                server.kill()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    result = summarize(times, options.runs)
    result |= {
        "benchmark": "cli",
        "host": host_info(),
        "command": base,
        "query": QUERY,
        "niceness": os.nice(0),
    }  # fmt: skip  (a niced run reads slower)
    write_result("cli", result, out_dir, plot, bench_meta(load_avg_1m=load_before))
    return result


def summarize(times: dict[str, list[float]], runs: int) -> dict[str, Any]:
    """Median, fastest and slowest per command, and the verdict on `sql` via the endpoint.

    >>> r = summarize({"sql_endpoint": [0.5, 0.4, 0.9]}, 3)
    >>> r["median_s"], r["meets_target"]
    ({'sql_endpoint': 0.5}, True)
    """
    median = {name: round(statistics.median(values), 3) for name, values in times.items()}
    return {
        "runs": runs,
        "times_s": times,
        "median_s": median,
        "min_s": {name: min(values) for name, values in times.items()},
        "max_s": {name: max(values) for name, values in times.items()},
        "target_s": TARGET_SQL_ENDPOINT_S,
        "meets_target": median.get("sql_endpoint", float("inf")) <= TARGET_SQL_ENDPOINT_S,
    }


LABELS = {
    "version": "--version",
    "help": "--help",
    "sql_file": "sql (file)",
    "sql_endpoint": "sql (endpoint)",
}


def plot(result: dict[str, Any], path: Path) -> None:
    """Median answer time per command, fastest to slowest run as the whisker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["median_s"])
    median = [result["median_s"][n] for n in names]
    low = [m - result["min_s"][n] for m, n in zip(median, names, strict=True)]
    high = [result["max_s"][n] - m for m, n in zip(median, names, strict=True)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.bar([LABELS.get(n, n) for n in names], median, yerr=[low, high], capsize=6,
           color="#4c78a8")  # fmt: skip
    ax.axhline(result["target_s"], color="#e45756", linestyle="--",
               label=f"target for sql (endpoint): {result['target_s']:g} s")  # fmt: skip
    for i, m in enumerate(median):
        ax.annotate(f"{m:.2f} s", (i, m), textcoords="offset points", xytext=(8, 4))
    ax.set_ylabel("seconds, exec to exit (median; whisker: fastest to slowest)")
    ax.set_title(f"shopstream CLI answer times, {result['runs']} runs each")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
