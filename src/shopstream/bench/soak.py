"""Soak: `shopstream up` for N minutes under load, with a Spark crash and a broker loss.

Everything runs as a user runs it, in its own processes: a 3-broker local cluster
(`kafka start --brokers 3`), `up --no-generator` in its default mode, and the generator
as `produce --rate R --duration S --truth F` beside it. The generator is not `up`'s own:
a kill -9 of `up` would take it along, and nothing would record what it had sent; as a
separate process it keeps producing through the crash and writes the ground truth.

At 1/3 of the time the whole `up` process group (Python and Spark's JVM) gets SIGKILL and
`up` is started again; at 2/3 one of the three brokers gets SIGKILL (and stays down).
Every `poll_s` seconds `status --json` is read (as a user would, from another process),
with the RSS of `up`'s process tree and of the brokers; at the end the final figures and
the warehouse's `customer_daily_metrics` are checked against the truth.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shopstream.bench.cli_home import CliHome, kill_group, stop_gracefully
from shopstream.bench.common import host_info, write_result
from shopstream.config import Settings

# The figures status --json and the truth share (the reconciliation's terms).
COMPARED = ("raw", "clean", "duplicates", "unique")


@dataclass(frozen=True)
class SoakOptions:
    minutes: float = 30.0
    rate: float = 5_000
    seed: int = 1
    poll_s: float = 10.0
    catch_up_s: float = 300.0  # after the generator stops, time for the pipeline to finish
    keep: bool = False


Progress = Callable[[str, float], None]  # (what is happening, seconds into the run)


def _alive(pid: int) -> bool:
    from shopstream.procinfo import pid_alive

    return pid_alive(pid)


def _rss(pids: list[int]) -> int:
    from shopstream.procinfo import tree_rss_bytes

    return tree_rss_bytes(pids)


def _sample(home: CliHome, t: float, up_pid: int | None, broker_pids: list[int]) -> dict[str, Any]:
    """One point of the time series: status figures and RSS."""
    doc = home.status()
    lag = doc.get("lag") or {}
    return {
        "t": round(t, 1),
        "error": doc.get("error"),
        "healthy": doc.get("healthy"),
        "problems": doc.get("problems"),
        "raw": doc.get("raw"),
        "clean": doc.get("clean"),
        "dead_letter": (doc.get("dead_letter") or {}).get("total"),
        "lag_silver": (lag.get("silver") or {}).get("total"),
        "lag_gold": (lag.get("gold") or {}).get("total"),
        "freshness_s": doc.get("freshness_seconds"),
        "rss_up_bytes": _rss([up_pid]) if up_pid else 0,
        "rss_brokers_bytes": _rss(broker_pids),
    }


def add_rates(samples: list[dict[str, Any]]) -> None:
    """Give each sample the rates since the previous one, from the counts (pure).

    A one-shot `status` has no rate tracker, so the rates come from the series: records
    arriving in raw_events, Silver's committed position (raw minus its lag; in Real-time
    Mode it moves at each checkpoint) and the records Gold stored (clean + dead letters).

    >>> s = [{"t": 0, "raw": 0, "lag_silver": 0, "clean": 0, "dead_letter": 0},
    ...      {"t": 10, "raw": 500, "lag_silver": 100, "clean": 300, "dead_letter": 10}]
    >>> add_rates(s); [(x["raw_rate"], x["silver_rate"], x["gold_rate"]) for x in s]
    [(None, None, None), (50.0, 40.0, 31.0)]
    """

    def positions(sample: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
        raw, lag, clean, dead = (
            sample.get(k) for k in ("raw", "lag_silver", "clean", "dead_letter")
        )
        silver = raw - lag if raw is not None and lag is not None else None
        gold = clean + dead if clean is not None and dead is not None else None
        return raw, silver, gold

    previous: dict[str, Any] | None = None
    for sample in samples:
        rates: list[float | None] = [None, None, None]
        if previous is not None and sample["t"] > previous["t"]:
            span = sample["t"] - previous["t"]
            for i, (now, before) in enumerate(
                zip(positions(sample), positions(previous), strict=True)
            ):
                if now is not None and before is not None:
                    rates[i] = round((now - before) / span, 1)
        sample["raw_rate"], sample["silver_rate"], sample["gold_rate"] = rates
        previous = sample


def _brokers(home: CliHome) -> list[dict[str, Any]]:
    from shopstream.config import load_settings
    from shopstream.kafka.cluster import LocalCluster

    state = LocalCluster(load_settings(home=home.home)).state()
    return [asdict(b) for b in state.brokers] if state else []


def compare_with_truth(final: dict[str, Any], truth: dict[str, Any]) -> dict[str, Any]:
    """Per figure: status's value, the truth's, and whether they agree (pure).

    >>> compare_with_truth({"raw": 5, "clean": 4, "duplicates": 0, "unique": 4,
    ...     "dead_letter": {"total": 1, "by_reason": {"too_late": 1}}},
    ...     {"raw": 5, "clean": 4, "duplicates": 0, "unique": 4,
    ...     "dead_letter": {"total": 1, "by_reason": {"too_late": 1, "x": 0}}})["exact"]
    True
    """
    figures = {name: (final.get(name), truth.get(name)) for name in COMPARED}
    status_dl, truth_dl = final.get("dead_letter") or {}, truth.get("dead_letter") or {}
    figures["dead_letter"] = (status_dl.get("total"), truth_dl.get("total"))
    by_reason = {r: n for r, n in (truth_dl.get("by_reason") or {}).items() if n}
    status_by_reason = {r: n for r, n in (status_dl.get("by_reason") or {}).items() if n}
    figures["dead_letter_by_reason"] = (status_by_reason, by_reason)
    out = {name: {"status": s, "truth": t, "equal": s == t} for name, (s, t) in figures.items()}
    return out | {"exact": all(entry["equal"] for entry in out.values())}


def _warehouse_vs_truth(home: CliHome, truth: dict[str, Any]) -> dict[str, Any]:
    """customer_daily_metrics row for row against the truth's rows."""
    done = home.run(
        "sql",
        "SELECT customer_id, CAST(event_date AS VARCHAR) AS event_date, page_views, "
        "add_to_cart_count, purchase_count, CAST(total_revenue AS VARCHAR) AS total_revenue "
        "FROM customer_daily_metrics",
        "--format",
        "json",
        timeout=120,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-300:], "exact": False}
    columns = ("customer_id", "event_date", "page_views", "add_to_cart_count", "purchase_count")

    def key(row: dict[str, Any]) -> tuple[str, ...]:
        money = f"{float(row['total_revenue']):.2f}"  # both sides are decimal strings
        return (*(str(row[c]) for c in columns), money)

    got = {key(r) for r in json.loads(done.stdout)}
    want = {key(r) for r in truth.get("customer_daily_metrics", [])}
    return {
        "rows": len(got),
        "truth_rows": len(want),
        "missing": len(want - got),
        "unexpected": len(got - want),
        "exact": got == want,
    }


class _Soak:
    """One soak run: the processes, the schedule, the samples."""

    def __init__(self, home: CliHome, options: SoakOptions, progress: Progress) -> None:
        self.home, self.options, self.progress = home, options, progress
        self.total_s = options.minutes * 60
        self.samples: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.up: subprocess.Popen[bytes] | None = None
        self.up_exit_seen = False
        self.producer: subprocess.Popen[bytes] | None = None
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def event(self, what: str, **facts: Any) -> None:
        self.events.append({"t": round(self.now(), 1), "event": what, **facts})
        self.progress(what, self.now())

    def start_up(self) -> None:
        self.up_exit_seen = False
        self.up = self.home.start("up", "up", "--no-generator", "--port", "0")
        self.event("up started", pid=self.up.pid)

    def broker_pids(self) -> list[int]:
        return [int(b["pid"]) for b in _brokers(self.home)]

    def poll(self) -> None:
        if self.up is not None and self.up.poll() is not None and not self.up_exit_seen:
            self.up_exit_seen = True
            self.event("up exited by itself", code=self.up.returncode, log=self.home.log_tail("up"))
        up_pid = self.up.pid if self.up is not None and self.up.poll() is None else None
        sample = _sample(self.home, self.now(), up_pid, self.broker_pids())
        self.samples.append(sample)
        if sample["error"]:
            self.progress(f"status failed: {sample['error']}", self.now())

    def kill_up(self) -> None:
        assert self.up is not None
        kill_group(self.up, signal.SIGKILL)
        self.up.wait(30)
        self.event("kill -9 up (Python and Spark's JVM)", pid=self.up.pid)
        self.start_up()

    def kill_broker(self) -> None:
        brokers = _brokers(self.home)
        victim = brokers[-1]
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(victim["pid"]), signal.SIGKILL)
        self.event("kill -9 broker", node_id=victim.get("node_id"), pid=victim["pid"])
        # What an operator would try next: do commands still answer on the quorum?
        status = self.home.run("kafka", "status", "--json", timeout=60)
        self.event(
            "kafka status with a broker down",
            returncode=status.returncode,
            output=(status.stdout or status.stderr).strip()[-300:],
        )

    def run(self, stop: threading.Event) -> None:
        o = self.options
        started = self.home.run("kafka", "start", "--brokers", "3", timeout=180)
        if started.returncode != 0:
            raise RuntimeError(f"kafka start --brokers 3 failed: {started.stderr.strip()[-300:]}")
        self.event("3 brokers started")
        self.start_up()
        self.producer = self.home.start(
            "produce",
            *("produce", "--rate", str(o.rate), "--duration", str(self.total_s)),
            *("--seed", str(o.seed), "--truth", str(self.home.home / "truth.json")),
            *("--day-length", "off"),  # benchmarks load at a flat rate
        )
        self.event("generator started", rate=o.rate)
        # Faults at 1/3 and 2/3 of the loaded time, counted from the generator's start.
        begin = self.now()
        schedule = [
            (begin + self.total_s / 3, self.kill_up),
            (begin + 2 * self.total_s / 3, self.kill_broker),
        ]
        while not stop.is_set() and self.producer.poll() is None:
            if schedule and self.now() >= schedule[0][0]:
                schedule.pop(0)[1]()
            self.poll()
            stop.wait(max(0.0, o.poll_s - (self.now() % o.poll_s)))
        code = self.producer.poll()
        self.event("generator finished", returncode=code)
        if code not in (0, None):
            self.event("generator failed", log=self.home.log_tail("produce"))
        deadline = self.now() + o.catch_up_s
        while not stop.is_set() and self.now() < deadline:
            self.poll()
            last = self.samples[-1]
            if last["lag_silver"] == 0 and last["lag_gold"] == 0:
                break
            stop.wait(o.poll_s)
        self.event("caught up" if not stop.is_set() else "interrupted")

    def cleanup(self) -> dict[str, Any]:
        codes: dict[str, Any] = {}
        if self.producer is not None and self.producer.poll() is None:
            kill_group(self.producer, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.producer.wait(60)
        if self.up is not None and self.up.poll() is None:
            codes["up_exit"] = stop_gracefully(self.up)
        brokers = self.broker_pids()
        stopped = self.home.run("kafka", "stop", timeout=120)
        codes["kafka_stop"] = {"returncode": stopped.returncode, "output": stopped.stdout[-300:]}
        # Brokers `kafka stop` left behind (with one dead it may not see the others): ours.
        left = [pid for pid in brokers if _alive(pid)]
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        codes["brokers_left_by_kafka_stop"] = len(left)
        deadline = time.monotonic() + 60
        while any(_alive(pid) for pid in left) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return codes


def run(
    settings: Settings,
    options: SoakOptions,
    out_dir: Path,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Run the soak; write `soak.json` + `soak.png` under out_dir; return the result."""
    from shopstream.bronze.truth import read_truth

    stop = stop or threading.Event()
    home = CliHome(settings.files.bench(f"soak-{uuid.uuid4().hex[:8]}"))
    soak = _Soak(home, options, progress or (lambda what, t: None))
    result: dict[str, Any] = {
        "benchmark": "soak",
        "options": asdict(options),
        "host": host_info(),
        "home": str(home.home),
    }
    try:
        soak.run(stop)
        final = home.status()  # while `up` runs, as an operator reads it
        result["final_status"] = final
        if soak.up is not None:
            # `sql` reads the DuckDB file itself once `up`, its one writer, has stopped.
            result["up_exit"] = stop_gracefully(soak.up)
        truth_path = home.home / "truth.json"
        if truth_path.exists():
            truth = read_truth(truth_path)
            result["vs_truth"] = compare_with_truth(final, truth)
            result["warehouse_vs_truth"] = _warehouse_vs_truth(home, truth)
        result["interrupted"] = stop.is_set()
    except Exception as err:  # recorded in the result: a soak reports what broke
        result["error"] = f"{type(err).__name__}: {err}"
    finally:
        result |= soak.cleanup()
        result["events"] = soak.events
        result["logs"] = {name: home.log_tail(name) for name in ("up", "produce")}
        add_rates(soak.samples)
        result["samples"] = soak.samples
        result["peak_rss_up_bytes"] = max((s["rss_up_bytes"] for s in soak.samples), default=0)
        result["status_failures"] = sum(1 for s in soak.samples if s["error"])
        result["exact"] = bool(
            result.get("vs_truth", {}).get("exact")
            and result.get("warehouse_vs_truth", {}).get("exact")
        )
        if not options.keep:
            shutil.rmtree(home.home, ignore_errors=True)
    write_result("soak", result, out_dir, plot)
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    """RSS, lag, freshness and rates over time, with the injected faults marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result.get("samples") or []
    fig, axes = plt.subplots(4, 1, figsize=(11, 11), sharex=True)
    t = [s["t"] for s in samples]

    def series(name: str, scale: float = 1.0) -> list[float]:
        return [float("nan") if s.get(name) is None else s[name] / scale for s in samples]

    rss, lag, fresh, rate = axes
    rss.plot(t, series("rss_up_bytes", 1024**3), label="up (Python + Spark JVM)")
    rss.plot(t, series("rss_brokers_bytes", 1024**3), label="3 brokers")
    rss.set_ylabel("RSS (GiB)")
    lag.plot(t, series("lag_silver"), label="Silver")
    lag.plot(t, series("lag_gold"), label="Gold")
    lag.set_ylabel("lag (records)")
    fresh.plot(t, series("freshness_s"), label="freshness")
    fresh.set_ylabel("freshness (s)")
    rate.plot(t, series("raw_rate"), label="arriving (raw_events)", lw=0.8)
    rate.plot(t, series("silver_rate"), label="Silver (committed)", lw=0.8)
    rate.plot(t, series("gold_rate"), label="Gold (stored)", lw=0.8)
    rate.set_ylabel("records/s")
    rate.set_xlabel("seconds into the run")
    for event in result.get("events") or []:
        if event["event"].startswith("kill"):
            for ax in axes:
                ax.axvline(event["t"], color="#d62728", ls="--", lw=0.8)
            rss.annotate(event["event"], (event["t"], 0), rotation=90, fontsize=7, va="bottom")
    for ax in axes:
        ax.legend(loc="upper right", fontsize=8)
    options = result.get("options", {})
    fig.suptitle(
        f"soak: {options.get('minutes')} min at {options.get('rate', 0):,.0f} events/s; "
        f"exact={result.get('exact')}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
